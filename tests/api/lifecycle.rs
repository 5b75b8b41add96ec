//! hookd as a process: SIGTERM with deliveries in flight, and what its log looks like.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Process, TempDir};
use crate::receiver::Receiver;

const MESSAGES: usize = 20;

async fn set_up(hookd: &Process, receiver: &Receiver) {
    let app = json!({"name": "a", "uid": "a"}).to_string();
    assert_eq!(hookd.api.call(Method::POST, "/api/v1/app", Some(app)).await.0, 201);
    let endpoint = json!({"url": receiver.url}).to_string();
    let (status, _) = hookd.api.call(Method::POST, "/api/v1/app/a/endpoint", Some(endpoint)).await;
    assert_eq!(status, StatusCode::CREATED);
    for i in 0..MESSAGES {
        let body = json!({"eventType": "t", "payload": {"i": i}}).to_string();
        let (status, _) = hookd.api.call(Method::POST, "/api/v1/app/a/msg", Some(body)).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
}

fn message_ids(receiver: &Receiver) -> HashSet<String> {
    receiver.received().iter().map(|r| r.header("webhook-id").to_owned()).collect()
}

#[tokio::test]
async fn sigterm_with_deliveries_in_flight_exits_0_and_a_restart_delivers_the_rest_at_once() {
    let receiver = Receiver::start().await;
    receiver.hold();
    let dir = TempDir::new();
    let log = dir.0.join("hookd.log");
    let env = [
        ("HOOKD_ALLOWED_NETWORKS", "127.0.0.0/8"),
        ("HOOKD_SHUTDOWN_GRACE", "1s"),
        ("HOOKD_LOG_FORMAT", "json"),
    ];
    let mut hookd = Process::start_logging(&dir.0, &env, &log).await;
    set_up(&hookd, &receiver).await;
    receiver.wait_for(MESSAGES).await; // every delivery is in flight, held by the receiver

    let stopping = Instant::now();
    let status = hookd.terminate(Duration::from_secs(8)).await;
    assert!(status.success(), "hookd exited with {status}");
    assert!(stopping.elapsed() < Duration::from_secs(5), "took {:?}", stopping.elapsed());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains('\u{1b}'), "escape codes in a log file:\n{text}");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let said = |what: &str| lines.iter().any(|l| l["fields"]["message"] == what);
    assert!(said("hookd is serving") && said("shutting down") && said("hookd stopped"), "{text}");

    // The leases were handed back: the next start sends at once, not after they expire
    // (3 × the 15 s request timeout + 2 s).
    receiver.release();
    let restarted_at = Instant::now();
    let _restarted = Process::start(&dir.0, &env[..2]).await;
    crate::helpers::eventually("every message delivered after the restart", || async {
        let got = message_ids(&receiver);
        (got.len() == MESSAGES && receiver.received().len() >= 2 * MESSAGES).then_some(())
    })
    .await;
    assert!(restarted_at.elapsed() < Duration::from_secs(10), "{:?}", restarted_at.elapsed());
}

#[tokio::test]
async fn a_failed_attempt_is_one_log_line_naming_what_failed_and_why() {
    let receiver = Receiver::start().await;
    receiver.script(vec![], Some(crate::receiver::Reply::status(500).body("boom")));
    let dir = TempDir::new();
    let log = dir.0.join("hookd.log");
    let env = [("HOOKD_ALLOWED_NETWORKS", "127.0.0.0/8"), ("HOOKD_RETRY_SCHEDULE", "1h")];
    let hookd = Process::start_logging(&dir.0, &env, &log).await;
    let app = json!({"name": "a", "uid": "a"}).to_string();
    hookd.api.call(Method::POST, "/api/v1/app", Some(app)).await;
    let endpoint = json!({"url": receiver.url}).to_string();
    let (_, ep) = hookd.api.call(Method::POST, "/api/v1/app/a/endpoint", Some(endpoint)).await;
    let body = json!({"eventType": "t", "payload": {}}).to_string();
    let (_, msg) = hookd.api.call(Method::POST, "/api/v1/app/a/msg", Some(body)).await;
    let line = crate::helpers::eventually("the failure in the log", || async {
        let text = std::fs::read_to_string(&log).unwrap();
        text.lines().find(|l| l.contains("delivery attempt failed")).map(str::to_owned)
    })
    .await;
    assert!(!line.contains('\u{1b}'), "escape codes in a log file: {line}");
    for part in [
        format!("endpoint={}", ep["id"].as_str().unwrap()),
        format!("msg={}", msg["id"].as_str().unwrap()),
        "status=500".to_owned(),
        "reason=\"boom\"".to_owned(),
    ] {
        assert!(line.contains(&part), "{part} missing from {line}");
    }
    assert!(line.contains("app=app_"), "{line}");
}

/// Defect 5, in part: the data directory hookd creates is 0700 and its files 0600, the WAL
/// included; the generated token is announced by its file, never printed.
#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let data = dir.0.join("data");
    let log = dir.0.join("hookd.log");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hookd"));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    cmd.arg("serve")
        .env("HOOKD_LISTEN", format!("127.0.0.1:{port}"))
        .env("HOOKD_DATA_DIR", &data)
        .env_remove("HOOKD_ADMIN_TOKEN")
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = cmd.spawn().unwrap();
    let token_file = data.join("admin-token");
    crate::helpers::eventually("the token file", || async {
        std::fs::read_to_string(&token_file).ok().filter(|t| !t.is_empty())
    })
    .await;
    let token = std::fs::read_to_string(&token_file).unwrap();
    let api = crate::helpers::Api::new(&format!("http://127.0.0.1:{port}"), Some(token.trim()));
    crate::helpers::eventually("hookd answering", || async {
        api.try_call_with(Method::GET, "/api/v1/app", None, &[])
            .await
            .ok()
            .filter(|(s, _)| s.is_success())
    })
    .await;
    let app = json!({"name": "a"}).to_string();
    api.call(Method::POST, "/api/v1/app", Some(app)).await; // a write, so the WAL exists
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data directory");
    for file in ["hookd.db", "hookd.db-wal", "hookd.db-shm", "admin-token", "secret-key"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    let _ = child.kill();
    let _ = child.wait();
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(said.contains("admin-token") && !said.contains(token.trim()), "{said}");
}
