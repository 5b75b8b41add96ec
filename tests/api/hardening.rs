//! The defects a hostile probe found (issue "Hardening"), each with the test that showed it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Process, TOKEN, TempDir, TestApp};
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

    app.drain().await;
    for msg in &messages {
        let (_, page) = app.get(&format!("/api/v1/app/a/msg/{msg}/endpoint")).await;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        assert!(data.len() == 4 && data.iter().all(|d| d["statusText"] == "success"), "{page}");
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

/// Reads from `stream` until the server closes it or `within` passes; what was read, and
/// whether it closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

fn short_timeouts(c: &mut hookd::config::Config) {
    c.server.header_timeout = Duration::from_millis(500);
    c.server.body_timeout = Duration::from_millis(500);
}

/// Defect 3: a client sending its headers a byte at a time is cut off.
#[tokio::test]
async fn slow_headers_are_cut_off() {
    let app = TestApp::spawn_with(short_timeouts).await;
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    stream.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = Instant::now();
    let trickle = async {
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if stream.write_all(b"X").await.is_err() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), trickle).await;
    let (_, closed) = read_until_closed(&mut stream, Duration::from_millis(100)).await;
    assert!(closed, "the server kept the connection for {:?}", started.elapsed());
}

/// Defect 3: a body that does not arrive in time is answered 408 (hookd's JSON), and the
/// connection is not held.
#[tokio::test]
async fn slow_bodies_are_answered_408() {
    let app = TestApp::spawn_with(short_timeouts).await;
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "POST /api/v1/app HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
}

/// Defect 3: no more than `max_connections` are served at once; the next client waits until
/// one closes (here: an idle one, closed by the header timeout), and is then served.
#[tokio::test]
async fn connections_are_limited() {
    let app = TestApp::spawn_with(|c| {
        short_timeouts(c);
        c.server.max_connections = 2;
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let _idle =
        [TcpStream::connect(&addr).await.unwrap(), TcpStream::connect(&addr).await.unwrap()];
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let (status, _) = app.get("/api/v1/health").await;
    assert_eq!(status, 204);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "served at once: no limit ({waited:?})");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

/// Defect 3, as the probe saw it: hundreds of slow clients under a low open-file limit. The
/// server keeps to half the limit and still answers a health check.
#[tokio::test]
async fn slow_clients_under_a_low_file_limit_do_not_block_health() {
    let dir = TempDir::new();
    let process =
        Process::start_with_file_limit(&dir.0, 128, &[("HOOKD_HEADER_TIMEOUT", "1s")]).await;
    let addr = process.api.base().trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..200 {
        if let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(&addr)).await
        {
            let _ = s.write_all(b"GET /api/v1/health HTTP/1.1\r\n").await;
            slow.push(s);
        }
    }
    let started = Instant::now();
    let health = process.api.try_call_with(Method::GET, "/api/v1/health", None, &[]);
    let answered = tokio::time::timeout(Duration::from_secs(15), health).await;
    assert!(
        matches!(answered, Ok(Ok((StatusCode::NO_CONTENT, _)))),
        "health after {:?}: {answered:?}",
        started.elapsed()
    );
}

/// Defect 8 (in part): a body past the limit to a route that reads raw bytes is hookd's JSON.
#[tokio::test]
async fn a_body_too_large_for_a_test_send_is_json() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    app.create_app("a").await;
    let ep = app.create_endpoint("a", json!({"url": receiver.url})).await;
    let big = format!(r#"{{"payload":{{"a":"{}"}}}}"#, "x".repeat(2 << 20));
    let path = format!("/api/v1/app/a/endpoint/{ep}/test");
    let (status, body) = app.client.call(Method::POST, &path, Some(big)).await;
    assert_eq!(status, 413);
    assert_eq!(body["code"], "payload_too_large");
}

/// Defect 4: payloads nested past the documented depth are refused with 422; the deepest
/// allowed is accepted and delivered.
#[tokio::test]
async fn deeply_nested_payloads_are_refused() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    app.create_app("a").await;
    let ep = app.create_endpoint("a", json!({"url": receiver.url, "profile": "mastodon"})).await;
    let nested = |levels: usize| {
        format!("{}{}", "{\"a\":".repeat(levels - 1) + "{}", "}".repeat(levels - 1))
    };
    for (path, body) in [
        ("/api/v1/app/a/msg".to_owned(), "eventType"),
        (format!("/api/v1/app/a/endpoint/{ep}/test"), "eventType"),
    ] {
        let deep = format!(r#"{{"{body}":"x","payload":{}}}"#, nested(10_000));
        let (status, err) = app.client.call(Method::POST, &path, Some(deep)).await;
        assert_eq!(status, 422, "{path}: {err}");
        assert_eq!(err["detail"][0]["loc"], json!(["body", "payload"]));
    }
    let deepest = format!(r#"{{"eventType":"x","payload":{}}}"#, nested(100));
    let (status, msg) = app.client.call(Method::POST, "/api/v1/app/a/msg", Some(deepest)).await;
    assert_eq!(status, 202, "{msg}");
    let id = msg["id"].as_str().unwrap();
    app.delivery_becomes("a", id, "success").await;
    let (status, list) = app.get("/api/v1/app/a/msg").await;
    assert_eq!((status, list["data"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
}
