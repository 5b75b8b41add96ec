//! An acknowledged message survives `kill -9`.

use std::sync::{Arc, Mutex};

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Process, TempDir};

#[tokio::test]
async fn acknowledged_messages_survive_kill_9() {
    let dir = TempDir::new();
    let mut hookd = Process::start(&dir.0, &[]).await;
    let (status, _) = hookd
        .api
        .call(Method::POST, "/api/v1/app", Some(json!({"name": "a", "uid": "a"}).to_string()))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let endpoint = json!({"url": "https://example.com/hook"}).to_string();
    hookd.api.call(Method::POST, "/api/v1/app/a/endpoint", Some(endpoint)).await;

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut senders = Vec::new();
    for worker in 0..16 {
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
    while acked.lock().unwrap().len() < 300 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    hookd.kill9();
    for s in senders {
        s.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    let restarted = Process::start(&dir.0, &[]).await;
    for id in &acked {
        let (status, msg) =
            restarted.api.call(Method::GET, &format!("/api/v1/app/a/msg/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "acknowledged message {id} was lost");
        let (_, dest) = restarted
            .api
            .call(Method::GET, &format!("/api/v1/app/a/msg/{id}/endpoint"), None)
            .await;
        assert_eq!(dest["data"].as_array().unwrap().len(), 1, "{id} lost its delivery: {msg}");
    }
    eprintln!("{} acknowledged messages all survived kill -9", acked.len());
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
