//! The defects a hostile probe found (issue "Hardening"), each with the test that showed it.

use std::collections::HashMap;

use serde_json::json;

use crate::helpers::{TestApp, eventually};
use crate::receiver::Receiver;

/// Defect 1: deleting an endpoint while its deliveries are in flight must not make the other
/// endpoints' deliveries go out twice (the failed outcome once rolled back its whole batch).
#[tokio::test]
async fn deleting_an_endpoint_in_flight_duplicates_nothing_else() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.hold();
    app.create_app("a").await;
    let mut endpoints = Vec::new();
    for n in 0..5 {
        let url = format!("{}?ep={n}", receiver.url);
        endpoints.push(app.create_endpoint("a", json!({"url": url})).await);
    }
    let mut messages = Vec::new();
    for _ in 0..30 {
        messages.push(app.send("a", json!({"eventType": "x", "payload": {}})).await);
    }
    receiver.wait_for(150).await;
    let (status, _) = app.delete(&format!("/api/v1/app/a/endpoint/{}", endpoints[4])).await;
    assert_eq!(status, 204);
    receiver.release();

    for msg in &messages {
        let path = format!("/api/v1/app/a/msg/{msg}/endpoint");
        eventually("the untouched endpoints' deliveries to succeed", || async {
            let (_, page) = app.get(&path).await;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            (data.len() == 4 && data.iter().all(|d| d["statusText"] == "success")).then_some(())
        })
        .await;
    }
    let mut per_endpoint: HashMap<String, usize> = HashMap::new();
    for request in receiver.received() {
        *per_endpoint.entry(request.uri).or_default() += 1;
    }
    assert_eq!(per_endpoint.len(), 5);
    assert!(per_endpoint.values().all(|&n| n == 30), "each sent exactly once: {per_endpoint:?}");
}

/// Defect 2: a template's output is bounded, on delivery and on test sends; and a template
/// is bounded on save.
#[tokio::test]
async fn templates_cannot_multiply_memory() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    app.create_app("a").await;
    let huge = "x".repeat(64 * 1024 + 1);
    let (status, err) =
        app.post("/api/v1/app/a/endpoint", json!({"url": receiver.url, "template": huge})).await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["detail"][0]["loc"][1], "template");

    let template = "{{a}}".repeat(2_000);
    let ep = app.create_endpoint("a", json!({"url": receiver.url, "template": template})).await;
    let payload = json!({"a": "x".repeat(100_000)});
    let msg = app.send("a", json!({"eventType": "x", "payload": payload})).await;
    let attempts = app.attempts("a", &msg, 1).await;
    let logged = attempts[0]["response"].as_str().unwrap();
    assert_eq!(logged, "not sent: the rendered template is larger than 1048576 bytes");
    app.delivery_becomes("a", &msg, "fail").await;

    let test = format!("/api/v1/app/a/endpoint/{ep}/test");
    let (status, answer) = app.post(&test, json!({"payload": payload})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["message"], logged);
    assert!(receiver.received().is_empty(), "nothing was sent");
}
