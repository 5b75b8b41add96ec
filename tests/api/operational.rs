//! Operational webhooks: hookd tells the operator's endpoints what happened to endpoints and
//! deliveries, in Svix's shapes, through the same signed, retried queue.

use std::time::Duration;

use hookd::operational::APP_ID;
use serde_json::{Value, json};

use crate::helpers::{TestApp, eventually};
use crate::receiver::{Receiver, Reply};
use crate::svix_sdk::standard_webhooks_verifies;

const OPS: &str = "/api/v1/operational-webhook/endpoint";

/// An operational endpoint delivering to `receiver`, for `types` (all when empty); its secret.
async fn listen(app: &TestApp, receiver: &Receiver, types: &[&str]) -> (String, String) {
    let mut body = json!({"url": receiver.url});
    if !types.is_empty() {
        body["filterTypes"] = json!(types);
    }
    let (status, ep) = app.post(OPS, body).await;
    assert_eq!(status, 201, "{ep}");
    let id = ep["id"].as_str().unwrap().to_owned();
    let (_, secret) = app.get(&format!("{OPS}/{id}/secret")).await;
    (id, secret["key"].as_str().unwrap().to_owned())
}

fn events(receiver: &Receiver) -> Vec<Value> {
    receiver.received().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect()
}

/// Waits until `receiver` has an event of `kind`, driving delivery meanwhile.
async fn event_of(app: &TestApp, receiver: &Receiver, kind: &str) -> Value {
    eventually(kind, || async {
        app.drain().await;
        events(receiver).into_iter().find(|e| e["type"] == kind)
    })
    .await
}

#[tokio::test]
async fn a_failing_endpoint_is_reported_failing_then_exhausted_signed_for_standard_webhooks() {
    let (ops, broken) = (Receiver::start().await, Receiver::start().await);
    broken.script(vec![], Some(Reply::status(500)));
    let app =
        TestApp::spawn_with(|c| c.delivery.retry_schedule = vec![Duration::from_secs(1); 5]).await;
    let kinds = ["message.attempt.failing", "message.attempt.exhausted"];
    let (_, secret) = listen(&app, &ops, &kinds).await;
    let app_id = app.create_app("shop").await;
    let ep = app.create_endpoint("shop", json!({"url": broken.url})).await;
    let msg =
        app.send("shop", json!({"eventType": "order.paid", "eventId": "e-1", "payload": {}})).await;

    let failing = event_of(&app, &ops, "message.attempt.failing").await;
    let exhausted = event_of(&app, &ops, "message.attempt.exhausted").await;
    assert_eq!(broken.received().len(), 6, "the first attempt and five retries");
    for event in [&failing, &exhausted] {
        let data = &event["data"];
        assert_eq!(data["appId"], app_id);
        assert_eq!(data["appUid"], "shop");
        assert_eq!(
            (data["endpointId"].as_str(), data["msgId"].as_str()),
            (Some(&*ep), Some(&*msg))
        );
        assert_eq!(data["msgEventId"], "e-1");
        assert_eq!(data["lastAttempt"]["responseStatusCode"], 500);
        assert!(data["lastAttempt"]["id"].as_str().unwrap().starts_with("atmpt_"));
    }
    let kinds: Vec<Value> = events(&ops).iter().map(|e| e["type"].clone()).collect();
    assert_eq!(kinds, ["message.attempt.failing", "message.attempt.exhausted"], "once each");
    for request in ops.received() {
        if let Some(verified) = standard_webhooks_verifies(&secret, &request).await {
            assert!(verified, "the standardwebhooks library refused an operational webhook");
        }
    }
}

#[tokio::test]
async fn a_410_is_reported_as_endpoint_disabled() {
    let (ops, gone) = (Receiver::start().await, Receiver::start().await);
    gone.script(vec![], Some(Reply::status(410)));
    let app = TestApp::spawn().await;
    listen(&app, &ops, &["endpoint.disabled"]).await;
    app.create_app("shop").await;
    let ep = app.create_endpoint("shop", json!({"url": gone.url})).await;
    app.send("shop", json!({"eventType": "t", "payload": {}})).await;
    let disabled = event_of(&app, &ops, "endpoint.disabled").await;
    assert_eq!(disabled["data"]["endpointId"], ep);
    assert_eq!(
        (&disabled["data"]["trigger"], &disabled["data"]["reason"]),
        (&json!("automatic"), &json!("gone"))
    );
    assert!(disabled["data"]["failSince"].as_str().is_some_and(|t| t.ends_with('Z')));
}

#[tokio::test]
async fn endpoint_changes_are_reported_and_operational_failures_cause_none() {
    let (ops, failing_ops, target) =
        (Receiver::start().await, Receiver::start().await, Receiver::start().await);
    failing_ops.script(vec![], Some(Reply::status(500)));
    let app = TestApp::spawn().await;
    listen(&app, &ops, &[]).await;
    listen(&app, &failing_ops, &[]).await;
    app.create_app("shop").await;
    let ep = app.create_endpoint("shop", json!({"url": target.url, "uid": "main"})).await;
    let path = format!("/api/v1/app/shop/endpoint/{ep}");
    app.patch(&path, json!({"description": "main receiver"})).await;
    app.patch(&path, json!({"disabled": true})).await;
    app.patch(&path, json!({"disabled": false})).await;
    app.delete(&path).await;
    let deleted = event_of(&app, &ops, "endpoint.deleted").await;
    assert_eq!(
        (&deleted["data"]["endpointUid"], &deleted["data"]["appUid"]),
        (&json!("main"), &json!("shop"))
    );
    let kinds: Vec<String> =
        events(&ops).iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect();
    for kind in ["endpoint.created", "endpoint.updated", "endpoint.disabled", "endpoint.enabled"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing from {kinds:?}");
    }
    let manual = events(&ops).into_iter().find(|e| e["type"] == "endpoint.disabled").unwrap();
    assert_eq!(manual["data"]["trigger"], "manual");
    // The failing operational endpoint got every event, failed every retry, and none of
    // that became an event itself.
    app.drain().await;
    assert!(failing_ops.received().len() > kinds.len());
    assert!(
        events(&ops).iter().all(|e| e["data"]["appId"] != APP_ID),
        "an operational delivery caused an operational event: {:?}",
        events(&ops)
    );
}

#[tokio::test]
async fn the_operational_application_is_reached_only_through_its_routes() {
    let app = TestApp::spawn().await;
    let (status, ep) = app
        .post(OPS, json!({"url": "https://ops.example/hook", "filterTypes": ["endpoint.created"]}))
        .await;
    assert_eq!(status, 201, "{ep}");
    let id = ep["id"].as_str().unwrap();
    assert_eq!(app.get(OPS).await.1["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.get(&format!("{OPS}/{id}")).await.1["url"], "https://ops.example/hook");
    let (status, patched) =
        app.patch(&format!("{OPS}/{id}"), json!({"description": "pager"})).await;
    assert_eq!((status.as_u16(), &patched["description"]), (200, &json!("pager")));
    assert_eq!(app.get(&format!("{OPS}/{id}/headers")).await.0, 200);
    assert_eq!(app.post(&format!("{OPS}/{id}/secret/rotate"), json!({})).await.0, 200);

    assert!(app.get("/api/v1/app").await.1["data"].as_array().unwrap().is_empty(), "hidden");
    for path in [format!("/api/v1/app/{APP_ID}"), format!("/api/v1/app/{APP_ID}/endpoint")] {
        assert_eq!(app.get(&path).await.0, 404, "{path}");
    }
    let forged = json!({"eventType": "endpoint.created", "payload": {}});
    assert_eq!(app.post(&format!("/api/v1/app/{APP_ID}/msg"), forged).await.0, 404);
    assert_eq!(app.delete(&format!("{OPS}/{id}")).await.0, 204);
    assert_eq!(app.get(&format!("{OPS}/{id}")).await.0, 404);
}

#[tokio::test]
async fn a_success_after_failing_is_reported_recovered() {
    let (ops, flaky) = (Receiver::start().await, Receiver::start().await);
    flaky.script(vec![Reply::status(503); 4], None);
    let app =
        TestApp::spawn_with(|c| c.delivery.retry_schedule = vec![Duration::from_secs(1); 5]).await;
    listen(&app, &ops, &["message.attempt.failing", "message.attempt.recovered"]).await;
    app.create_app("shop").await;
    app.create_endpoint("shop", json!({"url": flaky.url})).await;
    let msg = app.send("shop", json!({"eventType": "t", "payload": {}})).await;
    let recovered = event_of(&app, &ops, "message.attempt.recovered").await;
    assert_eq!(
        (
            recovered["data"]["msgId"].as_str(),
            &recovered["data"]["lastAttempt"]["responseStatusCode"]
        ),
        (Some(&*msg), &json!(200))
    );
    let kinds: Vec<Value> = events(&ops).iter().map(|e| e["type"].clone()).collect();
    assert_eq!(kinds, ["message.attempt.failing", "message.attempt.recovered"]);
}
