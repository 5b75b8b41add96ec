//! Deliveries that go through: signatures, retries, resend, rotation.

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;
use crate::receiver::{Receiver, Reply};
use crate::svix_sdk::standard_webhooks_verifies;

async fn app_with_receiver(extra: serde_json::Value) -> (TestApp, Receiver, String) {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    app.create_app("a").await;
    let mut body = json!({"url": receiver.url, "uid": "r"});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let ep = app.create_endpoint("a", body).await;
    (app, receiver, ep)
}

async fn secret(app: &TestApp) -> String {
    app.get("/api/v1/app/a/endpoint/r/secret").await.1["key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn delivers_a_signed_request_that_standard_webhooks_verifies() {
    let (app, receiver, ep) = app_with_receiver(json!({"headers": {"X-Custom": "yes"}})).await;
    let payload = r#"{"user": {"id": 42, "name": "Zoë"},  "spaced": true}"#;
    let body = format!(r#"{{"eventType": "user.created", "payload": {payload}}}"#);
    let (status, msg) = app.client.call(Method::POST, "/api/v1/app/a/msg", Some(body)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let msg_id = msg["id"].as_str().unwrap();

    let got = receiver.wait_for(1).await.remove(0);
    assert_eq!(got.body, payload.as_bytes(), "the payload is delivered byte for byte");
    assert_eq!(got.header("webhook-id"), msg_id);
    assert_eq!(got.header("content-type"), "application/json");
    assert!(got.header("user-agent").starts_with("hookd/"));
    assert_eq!(got.header("x-custom"), "yes");
    assert!(got.header("webhook-signature").starts_with("v1,"));
    assert_ne!(standard_webhooks_verifies(&secret(&app).await, &got).await, Some(false));

    let attempts = app.attempts("a", msg_id, 1).await;
    assert_eq!(attempts[0]["status"], 0);
    assert_eq!(attempts[0]["responseStatusCode"], 200);
    assert_eq!(attempts[0]["endpointId"], ep.as_str());
    assert_eq!(attempts[0]["triggerType"], 0);
    app.delivery_becomes("a", msg_id, "success").await;
    let (_, by_endpoint) = app.get("/api/v1/app/a/attempt/endpoint/r").await;
    assert_eq!(by_endpoint["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn svix_profile_uses_svix_header_names() {
    let (app, receiver, _) = app_with_receiver(json!({"profile": "svix"})).await;
    app.send("a", json!({"eventType": "x", "payload": {"a": 1}})).await;
    let got = receiver.wait_for(1).await.remove(0);
    assert!(got.header("svix-signature").starts_with("v1,"));
    assert!(got.headers.get("webhook-signature").is_none());
}

#[tokio::test]
async fn fails_twice_then_succeeds_with_three_attempts_logged() {
    let (app, receiver, _) = app_with_receiver(json!({})).await;
    receiver.script(vec![Reply::status(500).body("boom"), Reply::status(502)], None);
    let msg = app.send("a", json!({"eventType": "x", "payload": {}})).await;
    let got = receiver.wait_for(3).await;
    assert!(got.iter().all(|r| r.header("webhook-id") == msg), "the same id on every retry");

    let attempts = app.attempts("a", &msg, 3).await;
    let codes: Vec<_> =
        attempts.iter().map(|a| (a["status"].as_u64(), a["responseStatusCode"].as_u64())).collect();
    assert_eq!(codes, [(Some(2), Some(500)), (Some(2), Some(502)), (Some(0), Some(200))]);
    assert_eq!(attempts[0]["response"], "boom");
    app.delivery_becomes("a", &msg, "success").await;

    let (status, stats) = app.get("/api/v1/app/a/endpoint/r/stats").await;
    assert_eq!(status, StatusCode::OK);
    let figures = ["success", "fail", "pending", "sending"].map(|k| stats[k].as_u64());
    assert_eq!(figures, [Some(1), Some(2), Some(0), Some(0)], "{stats}");
    assert_eq!(stats["hourly"][0]["fail"], 2);
    let (status, _) = app.get("/api/v1/app/a/endpoint/r/stats?since=2030-01-01T00:00:00Z").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "since after until");
}

#[tokio::test]
async fn gives_up_after_the_schedule_and_resend_delivers_again() {
    let (app, receiver, _) = app_with_receiver(json!({})).await;
    receiver.script(vec![], Some(Reply::status(500)));
    let msg = app.send("a", json!({"eventType": "x", "payload": {}})).await;
    receiver.wait_for(4).await; // the first try and three retries
    app.delivery_becomes("a", &msg, "fail").await;

    receiver.script(vec![], None);
    let path = format!("/api/v1/app/a/msg/{msg}/endpoint/r/resend");
    assert_eq!(app.client.call(Method::POST, &path, None).await.0, StatusCode::ACCEPTED);
    let got = receiver.wait_for(5).await;
    assert_eq!(got[4].header("webhook-id"), msg);
    let attempts = app.attempts("a", &msg, 5).await;
    assert_eq!(
        (attempts[4]["status"].as_u64(), attempts[4]["triggerType"].as_u64()),
        (Some(0), Some(1))
    );
    app.delivery_becomes("a", &msg, "success").await;
}

#[tokio::test]
async fn recover_requeues_failed_deliveries() {
    let (app, receiver, _) = app_with_receiver(json!({})).await;
    receiver.script(vec![], Some(Reply::status(503)));
    let msg = app.send("a", json!({"eventType": "x", "payload": {}})).await;
    app.delivery_becomes("a", &msg, "fail").await;
    receiver.script(vec![], None);
    let (status, task) = app
        .post("/api/v1/app/a/endpoint/r/recover", json!({"since": "2000-01-01T00:00:00Z"}))
        .await;
    assert_eq!((status, task["status"].as_str()), (StatusCode::ACCEPTED, Some("running")));
    crate::helpers::eventually("the recovery to queue the delivery", || async {
        app.drain().await;
        let (_, page) = app.get(&format!("/api/v1/app/a/msg/{msg}/endpoint")).await;
        (page["data"][0]["statusText"] == "success").then_some(())
    })
    .await;
}

#[tokio::test]
async fn rotated_secret_keeps_signing_during_the_grace_period() {
    let (app, receiver, _) = app_with_receiver(json!({})).await;
    let old = secret(&app).await;
    let (_, rotated) = app.post("/api/v1/app/a/endpoint/r/secret/rotate", json!({})).await;
    let new = rotated["key"].as_str().unwrap().to_owned();
    app.send("a", json!({"eventType": "x", "payload": {"n": 1}})).await;
    let got = receiver.wait_for(1).await.remove(0);
    assert_eq!(got.header("webhook-signature").split(' ').count(), 2);
    assert_ne!(standard_webhooks_verifies(&old, &got).await, Some(false), "old secret");
    assert_ne!(standard_webhooks_verifies(&new, &got).await, Some(false), "new secret");
    let stranger = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert_ne!(standard_webhooks_verifies(stranger, &got).await, Some(true), "another secret");
}

/// Production's schedule (minutes to hours) runs in a moment: the test clock moves to each
/// retry, and with the jitter fixed each wait is exactly the scheduled one.
#[tokio::test]
async fn retries_follow_the_schedule_to_the_millisecond_without_waiting() {
    let minutes = |m: u64| std::time::Duration::from_secs(60 * m);
    let app = TestApp::spawn_with(|c| {
        c.delivery.retry_schedule = vec![minutes(5), minutes(30), minutes(120)];
    })
    .await;
    let receiver = Receiver::start().await;
    app.create_app("a").await;
    app.create_endpoint("a", json!({"url": receiver.url, "uid": "r"})).await;
    receiver.script(vec![Reply::status(500), Reply::status(503), Reply::status(500)], None);
    let started = std::time::Instant::now();
    let msg = app.send("a", json!({"eventType": "x", "payload": {}})).await;

    let attempts = app.attempts("a", &msg, 4).await;
    let times: Vec<i64> = attempts
        .iter()
        .map(|a| hookd::model::time::parse_client_time(a["timestamp"].as_str().unwrap()).unwrap())
        .collect();
    let waits: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    for (wait, scheduled) in waits.iter().zip([5, 30, 120]) {
        let scheduled = scheduled * 60_000;
        assert!((scheduled..scheduled + 1_000).contains(wait), "waited {wait} ms for {scheduled}");
    }
    app.delivery_becomes("a", &msg, "success").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "two and a half hours, at once"
    );
}
