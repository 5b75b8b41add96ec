//! Ordering keys with real receivers: messages of one key reach an endpoint one at a time in
//! the order they were accepted, through failures and retries, across `kill -9` and across
//! nodes on PostgreSQL; a key that fails holds only itself.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::pg_schema;
use crate::helpers::{Api, Process, TempDir, TestApp, eventually};
use crate::receiver::{Received, Receiver, Reply};

const KEYS: usize = 5;
const PER_KEY: usize = 40;

fn body_of(r: &Received) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

/// Fails the first attempt of every message whose `n` is 1 modulo `every`, whatever order
/// the requests come in; answers 200 otherwise.
fn fail_first_attempts(receiver: &Receiver, every: u64) {
    let seen = Mutex::new(HashSet::<Vec<u8>>::new());
    receiver.answer_by(move |body| {
        let n = serde_json::from_slice::<Value>(body).ok()?["n"].as_u64()?;
        let first = seen.lock().unwrap().insert(body.to_vec());
        (first && n % every == 1).then(|| Reply::status(500))
    });
}

/// Each key's `n`s in the order they reached the receiver (retries included).
fn arrivals_by_key(receiver: &Receiver) -> BTreeMap<String, Vec<u64>> {
    let mut by_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for body in receiver.received().iter().map(body_of) {
        if let (Some(key), Some(n)) = (body["key"].as_str(), body["n"].as_u64()) {
            by_key.entry(key.to_owned()).or_default().push(n);
        }
    }
    by_key
}

/// In order per key: a message arrives again only right after itself (a retry), never after
/// a later one, so none was sent before the one ahead of it had succeeded.
fn assert_in_order(by_key: &BTreeMap<String, Vec<u64>>) {
    for (key, ns) in by_key {
        assert!(ns.windows(2).all(|w| w[0] <= w[1]), "key {key} out of order: {ns:?}");
    }
}

fn keyed(key: usize, n: usize) -> Value {
    let payload = json!({"key": format!("k{key}"), "n": n});
    json!({"eventType": "x", "payload": payload, "orderingKey": format!("k{key}")})
}

#[tokio::test]
async fn two_hundred_messages_over_five_keys_arrive_in_order_despite_failures() {
    let receiver = Receiver::start().await;
    fail_first_attempts(&receiver, 3);
    let app = TestApp::spawn().await;
    app.create_app("a").await;
    app.create_endpoint("a", json!({"url": receiver.url})).await;
    for n in 0..PER_KEY {
        for key in 0..KEYS {
            app.send("a", keyed(key, n)).await;
        }
        app.send("a", json!({"eventType": "x", "payload": {"unkeyed": n}})).await;
    }
    let failing = (0..PER_KEY).filter(|n| n % 3 == 1).count();
    let expected = KEYS * (PER_KEY + failing) + PER_KEY;
    receiver.wait_for(expected).await;
    let by_key = arrivals_by_key(&receiver);
    assert_in_order(&by_key);
    for (key, ns) in &by_key {
        let distinct: HashSet<_> = ns.iter().collect();
        assert_eq!(distinct.len(), PER_KEY, "every message of {key} arrived: {ns:?}");
        assert_eq!(ns.len(), PER_KEY + failing, "each failed once and was retried: {ns:?}");
    }
    let (_, msg) = app.get("/api/v1/app/a/msg?limit=1").await;
    assert!(msg["data"][0]["orderingKey"].is_null(), "unkeyed ones have none: {msg}");
}

#[tokio::test]
async fn a_key_that_fails_holds_only_itself_until_it_is_resent() {
    let receiver = Receiver::start().await;
    let stuck = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let still_stuck = stuck.clone();
    receiver.answer_by(move |body| {
        let stuck = still_stuck.load(std::sync::atomic::Ordering::SeqCst);
        let is_stuck = serde_json::from_slice::<Value>(body).ok()?["key"] == "stuck";
        (stuck && is_stuck).then(|| Reply::status(500))
    });
    let app = TestApp::spawn().await;
    app.create_app("a").await;
    let ep =
        app.create_endpoint("a", json!({"url": receiver.url, "orderingOnFailure": "hold"})).await;
    let stuck_payload = |n: u64| json!({"key": "stuck", "n": n});
    let first = app
        .send("a", json!({"eventType": "x", "payload": stuck_payload(0), "orderingKey": "stuck"}))
        .await;
    let second = app
        .send("a", json!({"eventType": "x", "payload": stuck_payload(1), "orderingKey": "stuck"}))
        .await;
    for n in 0..10 {
        app.send("a", keyed(n % 2, n)).await;
        app.send("a", json!({"eventType": "x", "payload": {"unkeyed": n}})).await;
    }
    // Four attempts of the first (one and three retries), then twenty others: nothing of
    // the second while the first is held.
    receiver.wait_for(24).await;
    app.delivery_becomes("a", &first, "fail").await;
    app.delivery_becomes("a", &second, "pending").await;
    let stuck_arrivals = || arrivals_by_key(&receiver).remove("stuck").unwrap_or_default();
    assert_eq!(stuck_arrivals(), vec![0, 0, 0, 0], "the held key sent nothing more");
    let (_, read) = app.get(&format!("/api/v1/app/a/endpoint/{ep}")).await;
    assert_eq!(read["orderingOnFailure"], "hold", "{read}");
    let (_, msg) = app.get(&format!("/api/v1/app/a/msg/{second}")).await;
    assert_eq!(msg["orderingKey"], "stuck", "{msg}");

    stuck.store(false, std::sync::atomic::Ordering::SeqCst);
    let resend = format!("/api/v1/app/a/msg/{first}/endpoint/{ep}/resend");
    let (status, body) = app.post(&resend, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    receiver.wait_for(26).await;
    assert_eq!(stuck_arrivals(), vec![0, 0, 0, 0, 0, 1], "resent, then the next in order");
    app.delivery_becomes("a", &second, "success").await;
}

/// Sends each key's messages from `from[key]` on, each key from its own client in order (so
/// the order of acceptance is known); kills `victim` with `kill -9` after `kill_after`
/// acknowledgements. A client whose node stops answering sends the same message again on the
/// next node (it may be stored twice; both copies keep their place), or stops when there is
/// only one. Answers where each key's client stopped.
async fn send_keyed(
    apis: &[Api],
    from: Vec<usize>,
    victim: &mut Process,
    kill_after: usize,
) -> Vec<usize> {
    let acked = Arc::new(Mutex::new(0usize));
    let mut senders = Vec::new();
    for (key, mut n) in from.into_iter().enumerate() {
        let (apis, acked) = (apis.to_vec(), acked.clone());
        senders.push(tokio::spawn(async move {
            let mut node = key % apis.len();
            while n < PER_KEY {
                let body = Some(keyed(key, n).to_string());
                match apis[node].try_call_with(Method::POST, "/api/v1/app/a/msg", body, &[]).await {
                    Ok((StatusCode::ACCEPTED, _)) => {
                        *acked.lock().unwrap() += 1;
                        n += 1;
                    }
                    Ok((status, body)) => panic!("unexpected {status}: {body}"),
                    Err(_) if apis.len() == 1 => break,
                    Err(_) => node = (node + 1) % apis.len(),
                }
            }
            n
        }));
    }
    while *acked.lock().unwrap() < kill_after {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    victim.kill9();
    let mut reached = Vec::new();
    for sender in senders {
        reached.push(sender.await.unwrap());
    }
    reached
}

fn env_for(database_url: Option<&str>) -> Vec<(&'static str, &str)> {
    let mut env = vec![
        ("HOOKD_SECRET_KEY", "e/hpCiuP8uOQqUU5pBQnh+UVEb8CGBSoDwpDrQGY008="),
        ("HOOKD_ALLOWED_NETWORKS", "127.0.0.0/8"),
        ("HOOKD_REQUEST_TIMEOUT", "1s"),
        ("HOOKD_RETRY_SCHEDULE", "50ms,50ms,50ms"),
    ];
    if let Some(url) = database_url {
        env.push(("HOOKD_DATABASE_URL", url));
    }
    env
}

async fn set_up(api: &Api, receiver: &Receiver) {
    let app = json!({"name": "a", "uid": "a"}).to_string();
    assert_eq!(api.call(Method::POST, "/api/v1/app", Some(app)).await.0, StatusCode::CREATED);
    let ep = json!({"url": receiver.url}).to_string();
    assert_eq!(api.call(Method::POST, "/api/v1/app/a/endpoint", Some(ep)).await.0, 201);
}

/// Every key's messages all arrived, in order.
async fn all_arrive_in_order(receiver: &Receiver) {
    let by_key = eventually("every key's messages delivered", || async {
        let by_key = arrivals_by_key(receiver);
        let complete = by_key.len() == KEYS
            && by_key.values().all(|ns| ns.iter().collect::<HashSet<_>>().len() == PER_KEY);
        complete.then_some(by_key)
    })
    .await;
    assert_in_order(&by_key);
}

#[tokio::test]
async fn order_per_key_survives_kill_9() {
    let receiver = Receiver::start().await;
    fail_first_attempts(&receiver, 4);
    let dir = TempDir::new();
    let env = env_for(None);
    let mut hookd = Process::start(&dir.0, &env).await;
    set_up(&hookd.api, &receiver).await;
    let apis = [hookd.api.clone()];
    let reached = send_keyed(&apis, vec![0; KEYS], &mut hookd, KEYS * PER_KEY / 2).await;
    let mut restarted = Process::start(&dir.0, &env).await;
    let (apis, left) = ([restarted.api.clone()], reached.iter().map(|n| PER_KEY - n).sum());
    // The rest, then a second kill -9 with deliveries still in flight.
    let done = send_keyed(&apis, reached, &mut restarted, left).await;
    assert_eq!(done, vec![PER_KEY; KEYS]);
    let restarted = Process::start(&dir.0, &env).await;
    all_arrive_in_order(&receiver).await;
    drop(restarted);
}

#[tokio::test]
async fn order_per_key_holds_across_two_nodes_on_postgres_one_killed() {
    let Some(pg) = pg_schema().await else { return };
    let receiver = Receiver::start().await;
    fail_first_attempts(&receiver, 4);
    let (dirs, env) = ([TempDir::new(), TempDir::new()], env_for(Some(&pg.url)));
    let (n0, mut n1) =
        tokio::join!(Process::start(&dirs[0].0, &env), Process::start(&dirs[1].0, &env));
    set_up(&n0.api, &receiver).await;
    let apis = [n0.api.clone(), n1.api.clone()];
    let done = send_keyed(&apis, vec![0; KEYS], &mut n1, KEYS * PER_KEY / 2).await;
    assert_eq!(done, vec![PER_KEY; KEYS], "the clients of the killed node moved to the other");
    all_arrive_in_order(&receiver).await;
}
