//! Fair sharing between endpoints, with real receivers: an endpoint that never answers, or
//! one with a large backlog, does not hold up the others' deliveries (decision 0017). The
//! figures (rates and latencies) come from `hookd bench --fairness`; these tests check the
//! behaviour.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{TestApp, eventually};

/// How many claims the node gave back unsent because their endpoint was full: the churn
/// fair sharing avoids by leaving a busy endpoint's deliveries in the store.
async fn handed_back(app: &TestApp) -> u64 {
    let (status, _, body) =
        app.client.raw(hyper::Method::GET, "/metrics", None, &[]).await.unwrap();
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body).into_owned();
    let line = text.lines().find(|l| l.starts_with("hookd_claims_handed_back_total "));
    line.and_then(|l| l.split(' ').nth(1)?.parse().ok()).expect("the counter is exposed")
}
use crate::receiver::Receiver;

/// A small node: 2 requests in flight per endpoint (so 8 claims held per endpoint at most)
/// and 16 over all, so one endpoint could fill it if nothing shared it out.
async fn small_node() -> TestApp {
    TestApp::spawn_with(|c| {
        c.delivery.endpoint_in_flight = 2;
        c.delivery.max_in_flight = 16;
        c.delivery.request_timeout = Duration::from_secs(30);
    })
    .await
}

#[tokio::test]
async fn an_endpoint_that_never_answers_does_not_hold_up_its_neighbour() {
    let (hanging, healthy) = (Receiver::start().await, Receiver::start().await);
    hanging.hold();
    let app = small_node().await;
    app.create_app("a").await;
    app.create_endpoint("a", json!({"url": hanging.url})).await;
    app.create_endpoint("a", json!({"url": healthy.url})).await;
    for n in 0..300 {
        app.send("a", json!({"eventType": "x", "payload": {"n": n}})).await;
    }
    eventually("every message at the healthy endpoint", || async {
        (healthy.received().len() >= 300).then_some(())
    })
    .await;
    assert_eq!(hanging.received().len(), 2, "the hanging endpoint holds only its window");
    assert!(handed_back(&app).await <= 10, "claims churned: {}", handed_back(&app).await);
    hanging.release();
    hanging.wait_for(300).await;
}

#[tokio::test]
async fn a_backlog_for_one_application_does_not_queue_another_applications_messages() {
    let (busy, other) = (Receiver::start().await, Receiver::start().await);
    busy.hold();
    let app = small_node().await;
    app.create_app("burst").await;
    app.create_endpoint("burst", json!({"url": busy.url})).await;
    app.create_app("other").await;
    app.create_endpoint("other", json!({"url": other.url})).await;
    for n in 0..500 {
        app.send("burst", json!({"eventType": "x", "payload": {"n": n}})).await;
    }
    for n in 0..20 {
        app.send("other", json!({"eventType": "x", "payload": {"n": n}})).await;
    }
    // The burst's receiver still holds its first two: the other application's messages
    // were not queued behind the 498 waiting.
    let got = other.wait_for(20).await;
    assert_eq!(got.len(), 20);
    assert_eq!(busy.received().len(), 2);
    assert!(handed_back(&app).await <= 10, "claims churned: {}", handed_back(&app).await);
    busy.release();
    let all = busy.wait_for(500).await;
    let mut seen: Vec<i64> = all
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["n"].as_i64().unwrap()
        })
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 500, "every message of the burst delivered once released");
}
