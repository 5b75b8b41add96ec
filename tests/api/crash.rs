//! An acknowledged message survives `kill -9`.

use std::sync::{Arc, Mutex};

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Process, TempDir};

/// Sends from `clients` concurrent clients until `count` more messages are acknowledged, then
/// kills hookd with SIGKILL; returns the ids it acknowledged.
async fn load_then_kill_9(hookd: &mut Process, clients: usize, count: usize) -> Vec<String> {
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut senders = Vec::new();
    for worker in 0..clients {
        let (api, acked) = (hookd.api.clone(), acked.clone());
        senders.push(tokio::spawn(async move {
            for i in 0.. {
                let body =
                    json!({"eventType": "t", "payload": {"worker": worker, "i": i}}).to_string();
                match api.try_call_with(Method::POST, "/api/v1/app/a/msg", Some(body), &[]).await {
                    Ok((StatusCode::ACCEPTED, msg)) => {
                        acked.lock().unwrap().push(msg["id"].as_str().unwrap().to_owned())
                    }
                    Ok((status, body)) => panic!("unexpected {status}: {body}"),
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    while acked.lock().unwrap().len() < count {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    hookd.kill9();
    for s in senders {
        s.await.unwrap();
    }
    acked.lock().unwrap().clone()
}

async fn set_up(hookd: &Process) {
    let (status, _) = hookd
        .api
        .call(Method::POST, "/api/v1/app", Some(json!({"name": "a", "uid": "a"}).to_string()))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let endpoint = json!({"url": "https://example.com/hook"}).to_string();
    hookd.api.call(Method::POST, "/api/v1/app/a/endpoint", Some(endpoint)).await;
}

async fn assert_all_stored(hookd: &Process, acked: &[String]) {
    for id in acked {
        let (status, msg) =
            hookd.api.call(Method::GET, &format!("/api/v1/app/a/msg/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "acknowledged message {id} was lost");
        let (_, dest) =
            hookd.api.call(Method::GET, &format!("/api/v1/app/a/msg/{id}/endpoint"), None).await;
        assert_eq!(dest["data"].as_array().unwrap().len(), 1, "{id} lost its delivery: {msg}");
    }
}

#[tokio::test]
async fn acknowledged_messages_survive_kill_9() {
    let dir = TempDir::new();
    let mut hookd = Process::start(&dir.0, &[]).await;
    set_up(&hookd).await;
    let acked = load_then_kill_9(&mut hookd, 16, 300).await;
    let restarted = Process::start(&dir.0, &[]).await;
    assert_all_stored(&restarted, &acked).await;
    eprintln!("{} acknowledged messages all survived kill -9", acked.len());
}

/// The hardening issue's fault test: 20 `kill -9` under an 8-client load, with a restart
/// after each; every acknowledged message is there at the end.
#[tokio::test]
async fn twenty_kill_9s_under_load_lose_nothing() {
    let dir = TempDir::new();
    let mut hookd = Process::start(&dir.0, &[]).await;
    set_up(&hookd).await;
    let mut acked = Vec::new();
    for _ in 0..20 {
        acked.extend(load_then_kill_9(&mut hookd, 8, 50).await);
        hookd = Process::start(&dir.0, &[]).await;
    }
    assert_all_stored(&hookd, &acked).await;
    eprintln!("{} acknowledged messages survived 20 kill -9", acked.len());
}

#[test]
fn a_bad_config_value_stops_start_up_naming_the_key() {
    let dir = TempDir::new();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hookd"))
        .arg("serve")
        .env("HOOKD_DATA_DIR", &dir.0)
        .env("HOOKD_LISTEN", "127.0.0.1:0")
        .env("HOOKD_RETRY_SCHEDULE", "5s,soon")
        .output()
        .expect("run hookd");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("HOOKD_RETRY_SCHEDULE") && stderr.contains("soon"), "{stderr}");
}
