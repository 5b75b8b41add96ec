//! The load generator: C clients sending messages through the public API, closed-loop (as
//! fast as answers come) or open-loop at a fixed rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::receiver::Receipts;

pub type Http = Client<HttpConnector, Full<Bytes>>;

pub fn client() -> Http {
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1024).build_http()
}

/// Where and what to send.
#[derive(Clone)]
pub struct Target {
    /// One message URL per hookd node; requests go round-robin.
    pub urls: Vec<String>,
    pub token: String,
    pub payload_size: usize,
    /// Extra JSON fields for each message (e.g. `"deliverAt"`), without braces.
    pub extra: String,
    /// Messages carry an `orderingKey`, one of this many in turn (0: none).
    pub ordering_keys: usize,
}

pub struct Sent {
    pub accepted: usize,
    pub errors: usize,
}

/// Sends `total` messages with `concurrency` clients; `rate` paces the whole load.
pub async fn send(
    http: &Http,
    target: &Target,
    receipts: &Arc<Receipts>,
    total: usize,
    concurrency: usize,
    rate: Option<u32>,
    progress: &Arc<AtomicUsize>,
) -> Sent {
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let start = tokio::time::Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, target, receipts) = (http.clone(), target.clone(), receipts.clone());
        let (next, errors, progress) = (next.clone(), errors.clone(), progress.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                if let Some(rate) = rate {
                    tokio::time::sleep_until(
                        start + Duration::from_secs_f64(i as f64 / f64::from(rate)),
                    )
                    .await;
                }
                let url = &target.urls[i % target.urls.len()];
                match post(&http, &target, url, receipts.now_us(), i).await {
                    Ok(()) => progress.fetch_add(1, Ordering::Relaxed),
                    Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let errors = errors.load(Ordering::Relaxed);
    Sent { accepted: total - errors, errors }
}

/// Posts the `n`th message of the load.
pub async fn post(
    http: &Http,
    target: &Target,
    url: &str,
    sent_us: u64,
    n: usize,
) -> Result<(), String> {
    let stamp = format!(r#"{{"sent_us":{sent_us},"pad":""#);
    let pad = "x".repeat(target.payload_size.saturating_sub(stamp.len() + 2));
    let key = match target.ordering_keys {
        0 => String::new(),
        keys => format!(r#""orderingKey":"k{}","#, n % keys),
    };
    let body =
        format!(r#"{{"eventType":"bench.event",{}{key}"payload":{stamp}{pad}"}}}}"#, target.extra);
    let req = Request::post(url)
        .header("authorization", format!("Bearer {}", target.token))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = http.request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    // Drain the body so the connection goes back to the pool.
    let _ = http_body_util::BodyExt::collect(resp.into_body()).await;
    if status.as_u16() == 202 { Ok(()) } else { Err(format!("status {status}")) }
}
