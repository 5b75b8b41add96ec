//! Deliveries that fail: timeouts, refused connections, 410, Retry-After, the SSRF guard, and
//! a server killed while requests are in flight.

use std::collections::HashMap;
use std::time::Duration;

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Process, TempDir, TestApp, eventually};
use crate::receiver::{Receiver, Reply};

#[tokio::test]
async fn a_slow_receiver_times_out_and_is_retried() {
    let app =
        TestApp::spawn_with(|c| c.delivery.request_timeout = Duration::from_millis(200)).await;
    let receiver = Receiver::start().await;
    receiver.script(vec![Reply::status(200).delay(Duration::from_secs(2))], None);
    app.create_app("a").await;
    app.create_endpoint("a", json!({"url": receiver.url})).await;
    let msg = app.send("a", json!({"eventType": "x", "payload": {}})).await;
    let attempts = app.attempts("a", &msg, 2).await;
    assert_eq!(attempts[0]["responseStatusCode"], 0);
    assert!(attempts[0]["response"].as_str().unwrap().contains("timed out"), "{}", attempts[0]);
    assert_eq!(attempts[1]["status"], 0);
}

#[tokio::test]
async fn a_refused_connection_is_a_failed_attempt() {
    let app = TestApp::spawn().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    app.create_app("a").await;
    app.create_endpoint("a", json!({"url": format!("http://127.0.0.1:{port}/nothing")})).await;
    let msg = app.send("a", json!({"eventType": "x", "payload": {}})).await;
    let attempts = app.attempts("a", &msg, 4).await;
    assert!(attempts.iter().all(|a| a["status"] == 2 && a["responseStatusCode"] == 0));
    assert!(
        attempts[0]["response"].as_str().unwrap().to_lowercase().contains("refused"),
        "{}",
        attempts[0]
    );
    app.delivery_becomes("a", &msg, "fail").await;
}

#[tokio::test]
async fn gone_disables_the_endpoint() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.script(vec![], Some(Reply::status(410)));
    app.create_app("a").await;
    app.create_endpoint("a", json!({"url": receiver.url, "uid": "r"})).await;
    let msg = app.send("a", json!({"eventType": "x", "payload": {}})).await;
    app.delivery_becomes("a", &msg, "fail").await;
    assert_eq!(app.get("/api/v1/app/a/endpoint/r").await.1["disabled"], true);
    assert_eq!(receiver.received().len(), 1, "no retries after 410");
    let next = app.send("a", json!({"eventType": "x", "payload": {}})).await;
    let (_, dest) = app.get(&format!("/api/v1/app/a/msg/{next}/endpoint")).await;
    assert_eq!(dest["data"].as_array().unwrap().len(), 0, "a disabled endpoint gets nothing new");
}

#[tokio::test]
async fn endpoint_failing_for_the_configured_period_is_disabled() {
    let app = TestApp::spawn_with(|c| c.delivery.disable_after = Duration::ZERO).await;
    let receiver = Receiver::start().await;
    receiver.script(vec![], Some(Reply::status(500)));
    app.create_app("a").await;
    app.create_endpoint("a", json!({"url": receiver.url, "uid": "r"})).await;
    app.send("a", json!({"eventType": "x", "payload": {}})).await;
    app.drain().await;
    assert_eq!(app.get("/api/v1/app/a/endpoint/r").await.1["disabled"], true);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.script(vec![Reply::status(429).header("retry-after", "1")], None);
    app.create_app("a").await;
    app.create_endpoint("a", json!({"url": receiver.url})).await;
    app.send("a", json!({"eventType": "x", "payload": {}})).await;
    let got = receiver.wait_for(2).await;
    let waited = got[1].at - got[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}, not after Retry-After: 1"
    );
}

#[tokio::test]
async fn loopback_is_refused_without_the_allow_list() {
    let app = TestApp::spawn_with(|c| c.delivery.allowed_networks.clear()).await;
    let receiver = Receiver::start().await;
    app.create_app("a").await;
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    app.create_endpoint("a", json!({"url": receiver.url, "uid": "ip"})).await;
    app.create_endpoint("a", json!({"url": by_name, "uid": "name"})).await;
    let msg = app.send("a", json!({"eventType": "x", "payload": {}})).await;
    let attempts = app.attempts("a", &msg, 2).await;
    for a in &attempts {
        assert!(a["response"].as_str().unwrap().contains("refused to connect"), "{a}");
    }
    assert!(receiver.received().is_empty(), "the guarded address got no request");
}

#[tokio::test]
async fn leases_of_a_killed_server_come_back_and_nothing_is_lost() {
    let dir = TempDir::new();
    let env = [
        ("HOOKD_ALLOWED_NETWORKS", "127.0.0.0/8"),
        ("HOOKD_REQUEST_TIMEOUT", "1s"),
        ("HOOKD_RETRY_SCHEDULE", "100ms"),
    ];
    let mut hookd = Process::start(&dir.0, &env).await;
    let receiver = Receiver::start().await;
    receiver.script(vec![], Some(Reply::status(200).delay(Duration::from_millis(800))));
    let api = hookd.api.clone();
    api.call(Method::POST, "/api/v1/app", Some(json!({"name": "a", "uid": "a"}).to_string())).await;
    api.call(
        Method::POST,
        "/api/v1/app/a/endpoint",
        Some(json!({"url": receiver.url}).to_string()),
    )
    .await;
    let mut sent = Vec::new();
    for i in 0..20 {
        let body = json!({"eventType": "x", "payload": {"i": i}}).to_string();
        let (status, msg) = api.call(Method::POST, "/api/v1/app/a/msg", Some(body)).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        sent.push(msg["id"].as_str().unwrap().to_owned());
    }
    receiver.wait_for(1).await;
    hookd.kill9(); // with requests in flight at the receiver

    receiver.script(vec![], None);
    let restarted = Process::start(&dir.0, &env).await;
    for id in &sent {
        eventually("every acknowledged message delivered", || async {
            let (_, dest) = restarted
                .api
                .call(Method::GET, &format!("/api/v1/app/a/msg/{id}/endpoint"), None)
                .await;
            (dest["data"][0]["statusText"] == "success").then_some(())
        })
        .await;
    }
    let mut per_message: HashMap<String, usize> = HashMap::new();
    for r in receiver.received() {
        *per_message.entry(r.header("webhook-id").to_owned()).or_default() += 1;
    }
    assert!(
        sent.iter().all(|id| per_message.contains_key(id)),
        "every message reached the receiver"
    );
    let repeats: usize = per_message.values().map(|n| n - 1).sum();
    eprintln!(
        "{} messages delivered after kill -9; {repeats} repeated deliveries (in flight at the kill)",
        sent.len()
    );
}
