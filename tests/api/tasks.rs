//! Background tasks: a bulk replay counted by a dry run and then made, a replay cancelled
//! half-way, an endpoint's recovery as a task, Svix's background-task routes.

use std::time::Duration;

use hookd::config::Config;
use hyper::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, eventually};
use crate::receiver::{Receiver, Reply};

/// An application "a" whose one endpoint "r" fails every delivery for good, until told.
async fn failing_app(adjust: impl FnOnce(&mut Config)) -> (TestApp, Receiver) {
    let app = TestApp::spawn_with(adjust).await;
    let receiver = Receiver::start().await;
    app.create_app("a").await;
    app.create_endpoint("a", json!({"url": receiver.url, "uid": "r"})).await;
    receiver.script(vec![], Some(Reply::status(503)));
    (app, receiver)
}

async fn send(app: &TestApp, event_type: &str, n: usize) {
    for i in 0..n {
        app.send("a", json!({"eventType": event_type, "payload": {"n": i}})).await;
    }
    app.drain().await;
}

async fn replay(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.post("/api/v1/app/a/replay", body).await
}

/// The task once it is no longer running.
async fn ended(app: &TestApp, id: &str) -> Value {
    eventually("the background task to end", || async {
        let (_, task) = app.get(&format!("/api/v1/background-task/{id}")).await;
        (task["status"] != "running").then_some(task)
    })
    .await
}

#[tokio::test]
async fn a_dry_run_counts_what_the_replay_then_sends() {
    let (app, receiver) = failing_app(|_| {}).await;
    send(&app, "order.paid", 6).await;
    send(&app, "user.created", 4).await;
    receiver.script(vec![], None);
    send(&app, "order.paid", 1).await; // succeeds: not a failure to replay
    let paid = json!({"eventTypes": ["order.paid"], "dryRun": true});
    assert_eq!(replay(&app, paid).await, (StatusCode::OK, json!({"count": 6})));
    let all = json!({"eventTypes": ["order.paid"], "status": "all", "dryRun": true});
    assert_eq!(replay(&app, all).await.1, json!({"count": 7}));
    assert_eq!(replay(&app, json!({"dryRun": true})).await.1, json!({"count": 10}));

    let before = receiver.received().len();
    let (status, task) = replay(&app, json!({"eventTypes": ["order.paid"]})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{task}");
    assert_eq!(
        (task["status"].as_str(), task["task"].as_str()),
        (Some("running"), Some("endpoint.bulk-replay"))
    );
    let done = ended(&app, task["id"].as_str().unwrap()).await;
    assert_eq!(
        (done["status"].as_str(), done["data"]["messagesSent"].as_u64()),
        (Some("finished"), Some(6))
    );
    app.drain().await;
    assert_eq!(receiver.received().len() - before, 6, "what the dry run counted was sent");
    assert_eq!(replay(&app, json!({"dryRun": true})).await.1, json!({"count": 4}), "user.created");
}

#[tokio::test]
async fn a_cancelled_replay_stops() {
    // One delivery per step, ten steps a second: the replay of 30 takes 3 s.
    let (app, receiver) = failing_app(|c| c.delivery.replay_rate = 10).await;
    send(&app, "order.paid", 30).await;
    receiver.script(vec![], None);
    let (_, task) = replay(&app, json!({})).await;
    let id = task["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (status, _) = app.post(&format!("/api/v1/background-task/{id}/cancel"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let done = ended(&app, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(
        (done["data"]["cancelled"].as_bool(), done["data"]["error"].as_str()),
        (Some(true), Some("cancelled"))
    );
    let sent = done["data"]["messagesSent"].as_u64().unwrap();
    assert!((1..30).contains(&sent), "stopped part-way: {sent} of 30");
    tokio::time::sleep(Duration::from_millis(400)).await;
    app.drain().await;
    let (_, later) = app.get(&format!("/api/v1/background-task/{id}")).await;
    assert_eq!(later["data"]["messagesSent"].as_u64(), Some(sent), "nothing queued after");
    let left = replay(&app, json!({"dryRun": true})).await.1;
    assert_eq!(left["count"].as_u64(), Some(30 - sent), "the rest still failed");
}

#[tokio::test]
async fn recover_is_a_background_task_read_with_svix_routes() {
    let (app, receiver) = failing_app(|_| {}).await;
    send(&app, "order.paid", 2).await;
    receiver.script(vec![], None);
    let before = receiver.received().len();
    let since = json!({"since": "2000-01-01T00:00:00Z"});
    let (status, out) = app.post("/api/v1/app/a/endpoint/r/recover", since).await;
    assert_eq!((status, out["task"].as_str()), (StatusCode::ACCEPTED, Some("endpoint.recover")));
    assert!(out["id"].as_str().unwrap().starts_with("qtask_") && out["updatedAt"].is_string());
    let done = ended(&app, out["id"].as_str().unwrap()).await;
    assert_eq!(
        (done["status"].as_str(), done["data"]["messagesSent"].as_u64()),
        (Some("finished"), Some(2))
    );
    app.drain().await;
    assert_eq!(receiver.received().len() - before, 2);

    let (_, list) = app.get("/api/v1/background-task?task=endpoint.recover").await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["data"][0]["id"], out["id"]);
    let (_, running) = app.get("/api/v1/background-task?status=running").await;
    assert_eq!(running["data"], json!([]));
    assert_eq!(app.get("/api/v1/background-task?status=done").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/api/v1/background-task/qtask_nope").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_replay_names_what_it_cannot_take() {
    let (app, _receiver) = failing_app(|_| {}).await;
    let (status, body) = replay(&app, json!({"status": "some"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation"))
    );
    assert_eq!(
        replay(&app, json!({"since": "yesterday"})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(replay(&app, json!({"endpointIds": []})).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = replay(&app, json!({"endpointId": "nope"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a body field, not the path: {body}");
    assert_eq!(app.post("/api/v1/app/nope/replay", json!({})).await.0, StatusCode::NOT_FOUND);
}
