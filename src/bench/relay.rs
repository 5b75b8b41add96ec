//! The baseline: a bare in-memory relay (hyper in, sign, hyper out, no storage, no retries),
//! run in its own process like hookd, so the benchmark can state hookd's throughput as a
//! ratio of what this machine can relay at all.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use http_body_util::Full;
use hyper::Request;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::load::{Http, client};
use crate::model::ids;
use crate::signing::{generate_secret, standard_signature};

struct Relay {
    http: Http,
    targets: Vec<String>,
    secret: String,
}

#[derive(Deserialize)]
struct MessageIn<'a> {
    #[serde(borrow)]
    payload: &'a RawValue,
}

/// Serves until killed.
pub async fn run(listen: &str, targets: Vec<String>) -> Result<(), String> {
    let relay = Arc::new(Relay { http: client(), targets, secret: generate_secret() });
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| e.to_string())?;
    let router = axum::Router::new().fallback(accept).with_state(relay);
    axum::serve(listener, router).await.map_err(|e| e.to_string())
}

async fn accept(State(relay): State<Arc<Relay>>, body: Bytes) -> (StatusCode, String) {
    let Ok(msg) = serde_json::from_slice::<MessageIn>(&body) else {
        return (StatusCode::BAD_REQUEST, "{}".into());
    };
    let id = ids::new_id(ids::MESSAGE);
    let payload = Bytes::copy_from_slice(msg.payload.get().as_bytes());
    let timestamp = crate::model::time::now_ms() / 1000;
    let signature = standard_signature(&[&relay.secret], &id, timestamp, &payload);
    for target in &relay.targets {
        let req = Request::post(target.as_str())
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", &signature)
            .body(Full::new(payload.clone()));
        let (http, req) = (relay.http.clone(), req);
        tokio::spawn(async move {
            if let Ok(req) = req {
                if let Ok(resp) = http.request(req).await {
                    let _ = http_body_util::BodyExt::collect(resp.into_body()).await;
                }
            }
        });
    }
    (StatusCode::ACCEPTED, format!(r#"{{"id":"{id}"}}"#))
}
