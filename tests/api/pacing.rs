//! Pacing per endpoint, with real receivers: a `Retry-After` pauses the whole endpoint, a
//! receiver of fixed capacity is paced down to it, and `throttleRate` caps the rate.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::TestApp;
use crate::receiver::{Receiver, Reply};

async fn app_with(receiver: &Receiver, extra: serde_json::Value) -> TestApp {
    let app = TestApp::spawn_with(|c| {
        // Enough retries that everything is delivered in the end.
        c.delivery.retry_schedule = vec![Duration::from_millis(100); 30];
    })
    .await;
    app.create_app("a").await;
    let mut body = json!({"url": receiver.url, "uid": "r"});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    app.create_endpoint("a", body).await;
    app
}

#[tokio::test]
async fn a_429_with_retry_after_stops_every_request_to_the_endpoint_for_that_long() {
    let receiver = Receiver::start().await;
    receiver.script(vec![Reply::status(429).header("Retry-After", "2")], None);
    let app = app_with(&receiver, json!({})).await;
    app.send("a", json!({"eventType": "x", "payload": {"n": 0}})).await;
    let refused_at = receiver.wait_for(1).await[0].at;
    // The answer reaches hookd a moment after the receiver recorded the request.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for n in 1..=5 {
        app.send("a", json!({"eventType": "x", "payload": {"n": n}})).await;
    }
    let got = receiver.wait_for(7).await; // the five, and the first one's retry
    let first_after = got[1..].iter().map(|r| r.at).min().unwrap();
    let paused = first_after.duration_since(refused_at);
    assert!(paused >= Duration::from_millis(1_950), "a request went out after {paused:?}");
    assert!(paused < Duration::from_secs(4), "the pause lasted {paused:?}");
}

#[tokio::test]
async fn a_receiver_that_takes_four_at_a_time_is_paced_down_to_four() {
    let receiver = Receiver::start().await;
    receiver.capacity(4, Duration::from_millis(20));
    let app = app_with(&receiver, json!({})).await;
    let started = Instant::now();
    for n in 0..400 {
        app.send("a", json!({"eventType": "x", "payload": {"n": n}})).await;
    }
    crate::helpers::eventually("every message delivered", || async {
        let ok = receiver.answered().iter().filter(|s| **s == 200).count();
        (ok >= 400).then_some(())
    })
    .await;
    let answered = receiver.answered();
    let refused =
        |part: &[u16]| part.iter().filter(|s| **s == 503).count() as f64 / part.len() as f64;
    let (first, last) = answered.split_at(answered.len() / 2);
    let (early, late) = (refused(first), refused(last));
    eprintln!(
        "{} requests in {:?}: 503 share {:.1} % in the first half, {:.1} % in the second",
        answered.len(),
        started.elapsed(),
        early * 100.0,
        late * 100.0
    );
    assert!(late < 0.05, "the 503 share stays at {:.1} %", late * 100.0);
}

#[tokio::test]
async fn throttle_rate_caps_the_rate() {
    let receiver = Receiver::start().await;
    let app = app_with(&receiver, json!({"throttleRate": 20})).await;
    for n in 0..80 {
        app.send("a", json!({"eventType": "x", "payload": {"n": n}})).await;
    }
    let got = receiver.wait_for(80).await;
    let took = got[79].at.duration_since(got[0].at).as_secs_f64();
    let rate = 79.0 / took;
    assert!((18.0..=22.0).contains(&rate), "{rate:.1} requests a second, not 20 ± 10 %");
}
