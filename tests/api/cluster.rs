//! Three hookd nodes on one PostgreSQL database; one is killed with `kill -9` mid-run.
//! Every acknowledged message must still be delivered. Runs when `DATABASE_URL` is set.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::pg_schema;
use crate::helpers::{Api, Process, TempDir, eventually};
use crate::receiver::{Receiver, Reply};

/// The nodes of one database share the keys that seal endpoint secrets.
const SHARED_KEY: &str = "e/hpCiuP8uOQqUU5pBQnh+UVEb8CGBSoDwpDrQGY008=";

#[tokio::test]
async fn three_nodes_one_killed_nothing_lost() {
    let Some(pg) = pg_schema().await else { return };
    let url = pg.url.clone();
    let receiver = Receiver::start().await;
    receiver.script(vec![], Some(Reply::status(200).delay(Duration::from_millis(200))));
    let env = [
        ("HOOKD_DATABASE_URL", url.as_str()),
        ("HOOKD_SECRET_KEY", SHARED_KEY),
        ("HOOKD_ALLOWED_NETWORKS", "127.0.0.0/8"),
        ("HOOKD_REQUEST_TIMEOUT", "1s"),
        ("HOOKD_RETRY_SCHEDULE", "100ms,100ms,100ms"),
    ];
    let dirs = [TempDir::new(), TempDir::new(), TempDir::new()];
    let (n0, n1, n2) = tokio::join!(
        Process::start(&dirs[0].0, &env),
        Process::start(&dirs[1].0, &env),
        Process::start(&dirs[2].0, &env)
    );
    let mut nodes = [n0, n1, n2];
    let apis: Vec<_> = nodes.iter().map(|n| n.api.clone()).collect();
    apis[0]
        .call(Method::POST, "/api/v1/app", Some(json!({"name": "a", "uid": "a"}).to_string()))
        .await;
    apis[1]
        .call(
            Method::POST,
            "/api/v1/app/a/endpoint",
            Some(json!({"url": receiver.url}).to_string()),
        )
        .await;

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut senders = Vec::new();
    for worker in 0..12usize {
        let (apis, acked) = (apis.clone(), acked.clone());
        senders.push(tokio::spawn(async move {
            let mut node = worker % 3;
            for i in 0..50 {
                let body =
                    json!({"eventType": "t", "payload": {"worker": worker, "i": i}}).to_string();
                match apis[node]
                    .try_call_with(Method::POST, "/api/v1/app/a/msg", Some(body), &[])
                    .await
                {
                    Ok((StatusCode::ACCEPTED, msg)) => {
                        acked.lock().unwrap().push(msg["id"].as_str().unwrap().to_owned())
                    }
                    Ok((status, body)) => panic!("unexpected {status}: {body}"),
                    Err(_) => node = (node + 1) % 3, // that node is gone: use another
                }
            }
        }));
    }
    while acked.lock().unwrap().len() < 200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    nodes[2].kill9();
    for s in senders {
        s.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let delivered = |receiver: &Receiver| {
        let mut per_message: HashMap<String, usize> = HashMap::new();
        for r in receiver.received() {
            *per_message.entry(r.header("webhook-id").to_owned()).or_default() += 1;
        }
        per_message
    };
    eventually("every acknowledged message delivered", || async {
        let seen = delivered(&receiver);
        acked.iter().all(|id| seen.contains_key(id)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await; // let stragglers arrive before counting
    let seen = delivered(&receiver);
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "cluster: {} acknowledged, 0 lost, {duplicates} delivered more than once (in flight on the killed node)",
        acked.len()
    );
}

/// Two nodes share an endpoint's `throttleRate`: each counts the nodes alive (once a second)
/// and paces to its share, so the receiver sees the rate, not twice it.
#[tokio::test]
async fn two_nodes_share_an_endpoints_rate() {
    let Some(pg) = pg_schema().await else { return };
    let receiver = Receiver::start().await;
    let endpoint = json!({"url": receiver.url, "throttleRate": 20});
    let cluster = TwoNodes::start(&pg.url, &[], endpoint).await;
    let apis = &cluster.apis;
    // Each node has counted the other (they look once a second).
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    for i in 0..120 {
        let body = json!({"eventType": "t", "payload": {"i": i}}).to_string();
        let (status, _) = apis[i % 2].call(Method::POST, "/api/v1/app/a/msg", Some(body)).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let got = receiver.wait_for(120).await;
    let mut at: Vec<_> = got.iter().map(|r| r.at).collect();
    at.sort();
    let rate = 100.0 / at[110].duration_since(at[10]).as_secs_f64();
    assert!((18.0..=22.0).contains(&rate), "{rate:.1} requests a second from two nodes, not 20");
}

/// A node whose keys do not open the secrets the other nodes sealed refuses to start, and
/// says which key it lacks, instead of failing every delivery later.
#[tokio::test]
async fn a_node_without_the_shared_key_refuses_to_start() {
    let Some(pg) = pg_schema().await else { return };
    let env = [("HOOKD_DATABASE_URL", pg.url.as_str()), ("HOOKD_SECRET_KEY", SHARED_KEY)];
    let dirs = [TempDir::new(), TempDir::new()];
    let first = Process::start(&dirs[0].0, &env).await;
    let app = json!({"name": "a", "uid": "a"}).to_string();
    first.api.call(Method::POST, "/api/v1/app", Some(app)).await;
    let endpoint = json!({"url": "https://example.com/hook"}).to_string();
    first.api.call(Method::POST, "/api/v1/app/a/endpoint", Some(endpoint)).await;
    // The second node has no key configured: it generates its own in its data directory.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookd"))
        .arg("serve")
        .env("HOOKD_LISTEN", "127.0.0.1:0")
        .env("HOOKD_DATA_DIR", &dirs[1].0)
        .env("HOOKD_DATABASE_URL", &pg.url)
        .env_remove("HOOKD_SECRET_KEY")
        .output()
        .expect("run hookd");
    assert!(!out.status.success(), "started without the key");
    let said = String::from_utf8_lossy(&out.stderr);
    let shared = hookd::security::sealing::Keyring::parse(SHARED_KEY).expect("key");
    assert!(said.contains(shared.current_id()), "names the missing key: {said}");
}

/// A `Retry-After` one node is given pauses the endpoint on the other node too (shared over
/// NOTIFY): with messages arriving at both nodes, nothing reaches the receiver for 2 s.
#[tokio::test]
async fn a_retry_after_given_to_one_node_pauses_the_other() {
    let Some(pg) = pg_schema().await else { return };
    let receiver = Receiver::start().await;
    receiver.script(vec![Reply::status(429).header("Retry-After", "2")], None);
    let retries = [("HOOKD_RETRY_SCHEDULE", "100ms,100ms,100ms,100ms,100ms")];
    let cluster = TwoNodes::start(&pg.url, &retries, json!({"url": receiver.url})).await;
    let apis = &cluster.apis;
    // A message every 20 ms to each node for 3 s.
    let senders = apis.iter().cloned().map(|api| {
        tokio::spawn(async move {
            for i in 0..150 {
                let body = json!({"eventType": "t", "payload": {"i": i}}).to_string();
                let (status, _) = api.call(Method::POST, "/api/v1/app/a/msg", Some(body)).await;
                assert_eq!(status, StatusCode::ACCEPTED);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    });
    let senders: Vec<_> = senders.collect();
    let refused_at = receiver.wait_for(1).await[0].at;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    // Requests already on their way when the 429 came may still arrive just after it.
    let during: Vec<_> = receiver
        .received()
        .iter()
        .map(|r| r.at.saturating_duration_since(refused_at))
        .filter(|after| *after > Duration::from_millis(50) && *after < Duration::from_millis(1_950))
        .collect();
    assert!(during.is_empty(), "{} requests during the pause, at {during:?}", during.len());
    assert!(receiver.received().len() > 1, "sending went on after the pause");
    for sender in senders {
        sender.await.unwrap();
    }
}

/// Two nodes on one database that share the key and may reach the loopback receiver (with
/// `extra` settings), and an application `a` with `endpoint`, created on the first.
struct TwoNodes {
    apis: [Api; 2],
    _nodes: [Process; 2],
    _dirs: [TempDir; 2], // after the nodes: dropped once they are stopped
}

impl TwoNodes {
    async fn start(database_url: &str, extra: &[(&str, &str)], endpoint: Value) -> Self {
        let mut env = vec![
            ("HOOKD_DATABASE_URL", database_url),
            ("HOOKD_SECRET_KEY", SHARED_KEY),
            ("HOOKD_ALLOWED_NETWORKS", "127.0.0.0/8"),
        ];
        env.extend_from_slice(extra);
        let dirs = [TempDir::new(), TempDir::new()];
        let (a, b) =
            tokio::join!(Process::start(&dirs[0].0, &env), Process::start(&dirs[1].0, &env));
        let apis = [a.api.clone(), b.api.clone()];
        let app = json!({"name": "a", "uid": "a"}).to_string();
        assert_eq!(apis[0].call(Method::POST, "/api/v1/app", Some(app)).await.0, 201);
        let endpoint = Some(endpoint.to_string());
        assert_eq!(apis[0].call(Method::POST, "/api/v1/app/a/endpoint", endpoint).await.0, 201);
        Self { apis, _nodes: [a, b], _dirs: dirs }
    }
}
