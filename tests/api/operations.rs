//! What an operator reads: `/metrics` (who may scrape it, and counters that move as
//! deliveries succeed and fail), the request id, and the health check's 503.

use std::collections::HashMap;

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Api, TOKEN, TestApp};
use crate::receiver::{Receiver, Reply};

/// Parses Prometheus text into `name{labels}` → value (comments and `# EOF` skipped).
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        samples.insert(series.to_owned(), value);
    }
    samples
}

async fn scrape(api: &Api) -> (StatusCode, String) {
    let (status, headers, body) = api.raw(Method::GET, "/metrics", None, &[]).await.unwrap();
    if status == StatusCode::OK {
        let kind = headers["content-type"].to_str().unwrap();
        assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    }
    (status, String::from_utf8(body.to_vec()).unwrap())
}

async fn samples(app: &TestApp) -> HashMap<String, f64> {
    let (status, text) = scrape(&app.client).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    parse(&text)
}

#[tokio::test]
async fn metrics_need_a_token_unless_public() {
    let app =
        TestApp::spawn_with(|c| c.metrics.token = Some("scraper-token-0123456789".into())).await;
    let anonymous = Api::new(&app.base, None);
    let (status, body) = scrape(&anonymous).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("\"code\":\"unauthorized\""), "{body}");
    assert_eq!(scrape(&Api::new(&app.base, Some("wrong-token-0123456789"))).await.0, 401);
    assert_eq!(scrape(&Api::new(&app.base, Some(TOKEN))).await.0, StatusCode::OK);
    assert_eq!(scrape(&Api::new(&app.base, Some("scraper-token-0123456789"))).await.0, 200);

    let public = TestApp::spawn_with(|c| c.metrics.public = true).await;
    assert_eq!(scrape(&Api::new(&public.base, None)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn counters_move_as_deliveries_succeed_and_fail() {
    let (good, bad) = (Receiver::start().await, Receiver::start().await);
    bad.script(vec![], Some(Reply::status(500)));
    let app = TestApp::spawn().await;
    app.create_app("shop").await;
    app.create_endpoint("shop", json!({"url": good.url, "filterTypes": ["ok"]})).await;
    app.create_endpoint("shop", json!({"url": bad.url, "filterTypes": ["bad"]})).await;
    for _ in 0..3 {
        app.send("shop", json!({"eventType": "ok", "payload": {}})).await;
    }
    app.send("shop", json!({"eventType": "bad", "payload": {}})).await;
    app.drain().await;

    let m = samples(&app).await;
    let get = |series: &str| m.get(series).copied().unwrap_or_else(|| panic!("{series} missing"));
    assert_eq!(get("hookd_messages_accepted_total"), 4.0);
    assert_eq!(get("hookd_deliveries_created_total"), 4.0);
    assert_eq!(get(r#"hookd_attempts_total{outcome="success",status_class="2xx"}"#), 3.0);
    // The first attempt and the test schedule's three retries, then it is given up.
    assert_eq!(get(r#"hookd_attempts_total{outcome="failure",status_class="5xx"}"#), 4.0);
    assert_eq!(get("hookd_messages_exhausted_total"), 1.0);
    assert_eq!(get("hookd_attempt_duration_seconds_count"), 7.0);
    assert_eq!(get("hookd_delivery_lag_seconds_count"), 4.0);
    assert_eq!(get("hookd_deliveries_due"), 0.0);
    assert_eq!(get("hookd_deliveries_scheduled"), 0.0);
    assert!(get("hookd_store_commit_seconds_count") >= 1.0);
    assert!(get("hookd_store_commit_batch_size_sum") >= 4.0);
    assert!(get("process_resident_memory_bytes") > 1e6);
    let sent =
        r#"hookd_http_requests_total{method="POST",route="/api/v1/app/{app_id}/msg",status="202"}"#;
    assert_eq!(get(sent), 4.0);
    assert!(m.keys().all(|series| !series.contains("/shop")), "a raw path became a label");

    // The shipped dashboard and the operations guide name only series that exist.
    let series: Vec<&str> = m.keys().map(|k| k.split('{').next().unwrap()).collect();
    for doc in ["docs/grafana-dashboard.json", "docs/operations.md"] {
        let text = std::fs::read_to_string(format!("{}/{doc}", env!("CARGO_MANIFEST_DIR")));
        for name in metric_names(&text.unwrap()) {
            assert!(
                series.iter().any(|s| s.starts_with(&name)),
                "{doc} names {name}: no such series"
            );
        }
    }
}

/// Every `hookd_…` and `process_…` name in a text.
fn metric_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for prefix in ["hookd_", "process_"] {
        for (at, _) in text.match_indices(prefix) {
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            names.push(name);
        }
    }
    names
}

#[tokio::test]
async fn a_gone_endpoint_counts_as_disabled_and_a_retry_as_scheduled() {
    let (gone, flaky) = (Receiver::start().await, Receiver::start().await);
    gone.script(vec![], Some(Reply::status(410)));
    flaky.script(vec![], Some(Reply::status(503)));
    let app = TestApp::spawn_with(|c| {
        c.delivery.retry_schedule = vec![std::time::Duration::from_secs(3600)];
    })
    .await;
    app.create_app("a").await;
    app.create_endpoint("a", json!({"url": gone.url, "filterTypes": ["g"]})).await;
    app.create_endpoint("a", json!({"url": flaky.url, "filterTypes": ["f"]})).await;
    app.send("a", json!({"eventType": "g", "payload": {}})).await;
    app.send("a", json!({"eventType": "f", "payload": {}})).await;
    flaky.wait_for(1).await;
    gone.wait_for(1).await;
    let m = crate::helpers::eventually("the outcomes recorded", || async {
        let m = samples(&app).await;
        (m.get("hookd_deliveries_scheduled") == Some(&1.0)
            && m.get("hookd_endpoints_disabled_total") == Some(&1.0))
        .then_some(m)
    })
    .await;
    assert_eq!(m[r#"hookd_attempts_total{outcome="failure",status_class="4xx"}"#], 1.0);
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let (_, headers, _) = app.client.raw(Method::GET, "/api/v1/app", None, &[]).await.unwrap();
    let made = headers["x-request-id"].to_str().unwrap().to_owned();
    assert!(made.starts_with("req_"), "{made}");
    let (_, headers, _) = app
        .client
        .raw(Method::GET, "/api/v1/app", None, &[("x-request-id", "trace-42.a_b")])
        .await
        .unwrap();
    assert_eq!(headers["x-request-id"], "trace-42.a_b");
    let forged = [("x-request-id", "x\" injected=1")];
    let (_, headers, _) = app.client.raw(Method::GET, "/nowhere", None, &forged).await.unwrap();
    assert!(headers["x-request-id"].to_str().unwrap().starts_with("req_"));
}

#[tokio::test]
async fn health_answers_503_with_the_reason_while_the_store_refuses_writes() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/api/v1/health").await.0, StatusCode::NO_CONTENT);
    // A second connection makes every write to the heartbeat fail, as a full disk would.
    let db = rusqlite::Connection::open(app.data_dir().join("hookd.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON heartbeat
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
    )
    .unwrap();
    let (status, body) = crate::helpers::eventually("the check to run again", || async {
        let answer = app.get("/api/v1/health").await;
        (answer.0 != StatusCode::NO_CONTENT).then_some(answer)
    })
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "unavailable");
    assert!(body["detail"].as_str().unwrap().contains("disk is full"), "{body}");

    db.execute_batch("DROP TRIGGER refuse").unwrap();
    crate::helpers::eventually("health to recover", || async {
        (app.get("/api/v1/health").await.0 == StatusCode::NO_CONTENT).then_some(())
    })
    .await;
}
