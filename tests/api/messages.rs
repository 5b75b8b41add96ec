use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

async fn app_with_endpoints(app: &TestApp) {
    app.create_app("a").await;
    for body in [
        json!({"url": "https://example.com/all", "uid": "all"}),
        json!({"url": "https://example.com/users", "uid": "users", "eventTypes": ["user.created"]}),
        json!({"url": "https://example.com/eu", "uid": "eu", "channels": ["eu"]}),
        json!({"url": "https://example.com/off", "uid": "off", "disabled": true}),
    ] {
        assert_eq!(app.post("/api/v1/app/a/endpoint", body).await.0, StatusCode::CREATED);
    }
}

async fn destinations(app: &TestApp, msg: &str) -> Vec<String> {
    let (_, list) = app.get(&format!("/api/v1/app/a/msg/{msg}/endpoint")).await;
    let mut uids = Vec::new();
    for d in list["data"].as_array().unwrap() {
        let (_, ep) =
            app.get(&format!("/api/v1/app/a/endpoint/{}", d["endpointId"].as_str().unwrap())).await;
        uids.push(ep["uid"].as_str().unwrap().to_owned());
    }
    uids.sort();
    uids
}

#[tokio::test]
async fn fan_out_follows_filters_channels_and_disabled() {
    let app = TestApp::spawn().await;
    app_with_endpoints(&app).await;
    let (status, msg) = app
        .post("/api/v1/app/a/msg", json!({"eventType": "user.created", "payload": {"id": 1}}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(destinations(&app, msg["id"].as_str().unwrap()).await, ["all", "users"]);

    let (_, msg) = app
        .post(
            "/api/v1/app/a/msg",
            json!({"eventType": "order.paid", "payload": {}, "channels": ["eu"]}),
        )
        .await;
    assert_eq!(destinations(&app, msg["id"].as_str().unwrap()).await, ["all", "eu"]);
}

#[tokio::test]
async fn message_create_read_and_list_with_filters() {
    let app = TestApp::spawn().await;
    app.create_app("a").await;
    let payload = r#"{"b": 1,  "a": [true, null]}"#;
    let body = format!(
        r#"{{"eventType": "user.created", "eventId": "evt-1", "channels": ["eu"], "payload": {payload}}}"#
    );
    let (status, msg) = app.client.call(Method::POST, "/api/v1/app/a/msg", Some(body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{msg}");
    let id = msg["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("msg_"));
    assert_eq!(msg["payload"], json!({"b": 1, "a": [true, null]}));

    for key in [id.as_str(), "evt-1"] {
        let (status, got) = app.get(&format!("/api/v1/app/a/msg/{key}")).await;
        assert_eq!((status, got["id"].as_str()), (StatusCode::OK, Some(id.as_str())));
    }
    let (_, bare) = app.get(&format!("/api/v1/app/a/msg/{id}?with_content=false")).await;
    assert_eq!(bare["payload"], json!({}));

    let (_, second) =
        app.post("/api/v1/app/a/msg", json!({"eventType": "order.paid", "payload": {}})).await;
    let ids = |v: &Value| -> Vec<String> {
        v["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect()
    };
    let (_, all) = app.get("/api/v1/app/a/msg").await;
    assert_eq!(ids(&all), [second["id"].as_str().unwrap(), id.as_str()], "newest first");
    assert_eq!(
        ids(&app.get("/api/v1/app/a/msg?event_types=user.created,x").await.1),
        [id.as_str()]
    );
    assert_eq!(
        ids(&app.get("/api/v1/app/a/msg?event_types=order.paid&event_types=y").await.1),
        [second["id"].as_str().unwrap()]
    );
    assert_eq!(ids(&app.get("/api/v1/app/a/msg?channel=eu").await.1), [id.as_str()]);
    assert!(
        ids(&app.get("/api/v1/app/a/msg?before=2000-01-01T00:00:00%2B00:00").await.1).is_empty()
    );
    assert_eq!(ids(&app.get("/api/v1/app/a/msg?after=2000-01-01T00:00:00").await.1).len(), 2);
    assert_eq!(app.get("/api/v1/app/a/msg?before=yesterday").await.0, StatusCode::BAD_REQUEST);
    let (_, page) = app.get("/api/v1/app/a/msg?limit=1").await;
    assert_eq!((ids(&page).len(), page["done"].as_bool()), (1, Some(false)));
}

#[tokio::test]
async fn idempotency_key_replays_and_event_id_conflicts() {
    let app = TestApp::spawn().await;
    app.create_app("a").await;
    let send = |key: &'static str, event_id: &'static str| {
        let body = json!({"eventType": "x", "eventId": event_id, "payload": {"n": 1}}).to_string();
        let client = app.client.clone();
        async move {
            client
                .call_with(
                    Method::POST,
                    "/api/v1/app/a/msg",
                    Some(body),
                    &[("idempotency-key", key)],
                )
                .await
        }
    };
    let (s1, first) = send("key-1", "e-1").await;
    let (s2, again) = send("key-1", "e-1").await;
    assert_eq!((s1, s2), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(first, again, "the same key answers the first response again");

    let (status, err) = send("key-2", "e-1").await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("duplicate_event_id")));
    let (_, list) = app.get("/api/v1/app/a/msg").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);

    // Concurrent requests with one key still create one message.
    let results =
        futures_join(vec![send("key-3", "e-3"), send("key-3", "e-3"), send("key-3", "e-3")]).await;
    assert!(
        results.iter().all(|(s, m)| *s == StatusCode::ACCEPTED && m["id"] == results[0].1["id"])
    );
}

async fn futures_join<F: std::future::Future<Output = (StatusCode, Value)> + Send + 'static>(
    futures: Vec<F>,
) -> Vec<(StatusCode, Value)> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn attempts_lists_and_resend() {
    let app = TestApp::spawn().await;
    app_with_endpoints(&app).await;
    let (_, msg) = app.post("/api/v1/app/a/msg", json!({"eventType": "x", "payload": {}})).await;
    let msg_id = msg["id"].as_str().unwrap();
    let (status, attempts) = app.get(&format!("/api/v1/app/a/attempt/msg/{msg_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(attempts["data"].is_array() && attempts["done"] == true);
    let (status, _) = app.get("/api/v1/app/a/attempt/endpoint/all").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/app/a/attempt/endpoint/nope").await.0, StatusCode::NOT_FOUND);

    // The disabled endpoint got no delivery; a resend queues one.
    let (status, body) = app
        .client
        .call(Method::POST, &format!("/api/v1/app/a/msg/{msg_id}/endpoint/off/resend"), None)
        .await;
    assert_eq!((status, body), (StatusCode::ACCEPTED, json!({})));
    let (_, list) = app.get(&format!("/api/v1/app/a/msg/{msg_id}/endpoint")).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2, "all, and now off");
    assert_eq!(
        app.client
            .call(Method::POST, "/api/v1/app/a/msg/msg_nope/endpoint/off/resend", None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}
