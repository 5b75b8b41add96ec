//! The management commands and `hookd verify`, run as the built binary against a real server.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::helpers::{TOKEN, TestApp};
use crate::receiver::{Receiver, Reply};

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn ok(self) -> String {
        assert_eq!(self.code, 0, "stdout: {}\nstderr: {}", self.stdout, self.stderr);
        self.stdout
    }

    fn json(self) -> Value {
        let out = self.ok();
        serde_json::from_str(&out).unwrap_or_else(|_| panic!("not JSON: {out}"))
    }
}

fn command(app: &TestApp, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookd"));
    cmd.args(args).env("HOOKD_URL", &app.base).env("HOOKD_TOKEN", TOKEN);
    cmd.env_remove("HOOKD_ADMIN_TOKEN").kill_on_drop(true);
    cmd
}

async fn hookd(app: &TestApp, args: &[&str]) -> Ran {
    hookd_with_input(app, args, None).await
}

async fn hookd_with_input(app: &TestApp, args: &[&str], input: Option<&[u8]>) -> Ran {
    let mut cmd = command(app, args);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run hookd");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.unwrap_or_default()).await.expect("write stdin");
    drop(stdin);
    let out = child.wait_with_output().await.expect("hookd exits");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn applications_endpoints_and_event_types() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let created = hookd(&app, &["app", "create", "Shop", "--uid", "shop"]).await.ok();
    assert!(created.contains("shop") && created.contains("Shop"), "{created}");
    let table = hookd(&app, &["app", "list"]).await.ok();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID") && lines[0].contains("  UID  "), "{table}");
    assert_eq!(lines[1].find("shop"), lines[0].find("UID"), "columns align:\n{table}");
    assert_eq!(hookd(&app, &["app", "list", "--json"]).await.json().as_array().unwrap().len(), 1);

    let add = [
        "endpoint",
        "add",
        "shop",
        &receiver.url,
        "--event-type",
        "order.paid",
        "--secret",
        "whsk_",
        "--filter",
        r#"{"payload.total": {"$gte": 1}}"#,
        "--json",
    ];
    let ep = hookd(&app, &add).await.json();
    let ep_id = ep["id"].as_str().unwrap();
    assert_eq!(ep["filterTypes"], json!(["order.paid"]));
    assert_eq!(ep["filter"], json!({"payload.total": {"$gte": 1}}));
    let (_, secret) =
        app.get(&format!("/api/v1/app/shop/endpoint/{}/secret", ep["id"].as_str().unwrap())).await;
    assert!(
        secret["publicKey"].as_str().unwrap().starts_with("whpk_"),
        "--secret whsk_ made an ed25519 key"
    );
    assert!(hookd(&app, &["endpoint", "list", "shop"]).await.ok().contains(&receiver.url));
    let other = format!("{}?v=2", receiver.url);
    let update = ["endpoint", "update", "shop", ep_id, "--endpoint-url", &other, "--json"];
    assert_eq!(hookd(&app, &update).await.json()["url"], other);
    let disabled = hookd(&app, &["endpoint", "disable", "shop", ep_id, "--json"]).await.json();
    assert_eq!(disabled["disabled"], true);
    let enabled = hookd(&app, &["endpoint", "enable", "shop", ep_id, "--json"]).await.json();
    assert_eq!(enabled["disabled"], false);
    let tested = hookd(&app, &["endpoint", "test", "shop", ep_id]).await.ok();
    assert!(tested.contains("answered 200"), "{tested}");

    hookd(&app, &["event-type", "add", "order.paid", "--description", "Paid"]).await.ok();
    assert!(hookd(&app, &["event-type", "list"]).await.ok().contains("order.paid"));
    let imported = hookd(&app, &["event-type", "import", "mastodon"]).await.ok();
    assert!(imported.starts_with("mastodon: "), "{imported}");

    hookd(&app, &["endpoint", "delete", "shop", ep_id]).await.ok();
    hookd(&app, &["app", "delete", "shop"]).await.ok();
    let gone = hookd(&app, &["app", "delete", "shop"]).await;
    assert_eq!(gone.code, 5, "not found: {}", gone.stderr);
    assert!(gone.stderr.contains("not found"), "{}", gone.stderr);
}

#[tokio::test]
async fn failures_have_exit_codes_and_words() {
    let app = TestApp::spawn().await;
    app.create_app("shop").await;
    let refused = hookd(&app, &["endpoint", "add", "shop", "not a url"]).await;
    assert_eq!(refused.code, 6, "{}", refused.stderr);
    assert!(refused.stderr.contains("url"), "names the field: {}", refused.stderr);
    let bad_json = hookd(&app, &["send", "shop", "t", "{not json"]).await;
    assert_eq!(bad_json.code, 6, "{}", bad_json.stderr);

    let mut cmd = command(&app, &["app", "list"]);
    let wrong = cmd.env("HOOKD_TOKEN", "wrong-token-0123456789").output().await.unwrap();
    assert_eq!(wrong.status.code(), Some(4));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = command(&app, &["app", "list", "--url", &format!("http://127.0.0.1:{port}")]);
    let down = cmd.output().await.unwrap();
    assert_eq!(down.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&down.stderr).contains("cannot reach hookd"));
}

#[tokio::test]
async fn send_follow_resend_recover_and_tail() {
    let receiver = Receiver::start().await;
    receiver.script(vec![Reply::status(500)], None);
    let app = TestApp::spawn().await;
    app.create_app("shop").await;
    let ep = app.create_endpoint("shop", json!({"url": receiver.url})).await;
    let first = hookd(&app, &["send", "shop", "order.paid", r#"{"id": 1}"#, "--json"]).await.json();
    let piped = hookd_with_input(
        &app,
        &["send", "shop", "order.paid", "-", "--json"],
        Some(br#"{"id": 2}"#),
    );
    let second = piped.await.json();
    app.drain().await;
    assert_eq!(receiver.received().len(), 3, "one failure, its retry, the second message");

    let listed = hookd(&app, &["messages", "shop"]).await.ok();
    assert_eq!(listed.lines().count(), 3, "a heading and two messages:\n{listed}");
    let msg = first["id"].as_str().unwrap();
    let attempts = hookd(&app, &["attempts", "shop", "--msg", msg]).await.ok();
    assert!(attempts.contains("failed") && attempts.contains("success"), "{attempts}");
    let by_endpoint = hookd(&app, &["attempts", "shop", "--endpoint", &ep, "--json"]).await.json();
    assert_eq!(by_endpoint.as_array().unwrap().len(), 3);
    assert_eq!(hookd(&app, &["attempts", "shop"]).await.code, 2, "--msg or --endpoint is needed");

    hookd(&app, &["resend", "shop", second["id"].as_str().unwrap(), &ep]).await.ok();
    app.drain().await;
    assert_eq!(receiver.received().len(), 4);
    hookd(&app, &["recover", "shop", &ep]).await.ok();

    let mut tail = command(&app, &["tail", "shop", "--every-ms", "50", "--json"]);
    let mut tail = tail.stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(tail.stdout.take().unwrap()).lines();
    tokio::time::sleep(Duration::from_millis(300)).await; // its first look, which prints nothing
    let third = app.send("shop", json!({"eventType": "order.paid", "payload": {"id": 3}})).await;
    app.drain().await;
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
    let line = line.expect("tail prints within 10 s").unwrap().expect("a line");
    let attempt: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(attempt["msgId"], third, "tail printed only the new attempt first: {line}");
    tail.kill().await.unwrap();
}

#[tokio::test]
async fn verify_accepts_a_real_delivery_and_refuses_a_tampered_one() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    app.create_app("a").await;
    let ep = app.create_endpoint("a", json!({"url": receiver.url})).await;
    let hub_secret = "a-mastodon-secret-0123";
    let mastodon = json!({"url": receiver.url, "profile": "mastodon", "secret": hub_secret,
        "profileConfig": {"domain": "social.example"}, "filterTypes": ["account.created"]});
    app.create_endpoint("a", mastodon).await;
    app.send("a", json!({"eventType": "order.paid", "payload": {"id": 1}})).await;
    app.send("a", json!({"eventType": "account.created", "payload": {"id": 2}})).await;
    let got = receiver.wait_for(3).await;
    let (_, secret) = app.get(&format!("/api/v1/app/a/endpoint/{ep}/secret")).await;
    let secret = secret["key"].as_str().unwrap();

    let dir = crate::helpers::TempDir::new();
    let app = &app;
    let check = |delivery: &crate::receiver::Received, secret: &str, body: &[u8]| {
        let head: String = delivery
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {}\n", v.to_str().unwrap()))
            .collect();
        let (head_file, body_file) = (dir.0.join("head"), dir.0.join("body"));
        std::fs::create_dir_all(&dir.0).unwrap();
        std::fs::write(&head_file, format!("POST /hook HTTP/1.1\n{head}")).unwrap();
        std::fs::write(&body_file, body).unwrap();
        let args = ["verify", "--secret", secret, "--headers-file"].map(str::to_owned);
        let mut args = args.to_vec();
        args.extend([head_file.display().to_string(), body_file.display().to_string()]);
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            hookd(app, &refs).await
        }
    };
    let standard = got.iter().find(|r| !r.header("webhook-signature").is_empty()).unwrap();
    let ok = check(standard, secret, &standard.body).await.ok();
    assert!(ok.contains("valid Standard Webhooks delivery"), "{ok}");
    let tampered = check(standard, secret, br#"{"id": 9}"#).await;
    assert_eq!(tampered.code, 7, "{}", tampered.stderr);
    assert!(tampered.stderr.contains("not a valid delivery"), "{}", tampered.stderr);

    let hub = got.iter().find(|r| !r.header("x-hub-signature").is_empty()).unwrap();
    assert!(check(hub, hub_secret, &hub.body).await.ok().contains("valid Mastodon delivery"));
    assert_eq!(check(hub, "another-secret-012345", &hub.body).await.code, 7);
}

#[tokio::test]
async fn replay_counts_then_runs_and_tasks_are_listed() {
    let receiver = Receiver::start().await;
    receiver.script(vec![], Some(Reply::status(503)));
    let app = TestApp::spawn().await;
    app.create_app("shop").await;
    // A 503 is final for this endpoint: each delivery fails for good at once.
    let endpoint =
        json!({"url": receiver.url, "uid": "hook", "profileConfig": {"finalStatuses": [503]}});
    app.create_endpoint("shop", endpoint).await;
    for n in 0..3 {
        app.send("shop", json!({"eventType": "order.paid", "payload": {"n": n}})).await;
    }
    app.drain().await;
    receiver.script(vec![], None);

    let counted = hookd(&app, &["replay", "shop", "--endpoint", "hook", "--dry-run", "--json"]);
    assert_eq!(counted.await.json(), json!({"count": 3}));
    let words = hookd(&app, &["replay", "shop", "--dry-run"]).await.ok();
    assert_eq!(words.trim(), "3 deliveries would be sent again");
    let task =
        hookd(&app, &["replay", "shop", "--event-type", "order.paid", "--json"]).await.json();
    let id = task["id"].as_str().unwrap().to_owned();
    crate::helpers::eventually("the replay to finish", || async {
        let (_, t) = app.get(&format!("/api/v1/background-task/{id}")).await;
        (t["status"] == "finished").then_some(())
    })
    .await;
    app.drain().await;
    assert_eq!(receiver.received().len(), 6, "three failures, three sent again");

    let listed = hookd(&app, &["tasks", "--status", "finished"]).await.ok();
    assert!(listed.contains(&id) && listed.contains("endpoint.bulk-replay"), "{listed}");
    let cancelled = hookd(&app, &["cancel", &id, "--json"]).await.json();
    assert_eq!(cancelled["status"], "finished", "an ended task is left as it is");
    assert_eq!(hookd(&app, &["cancel", "qtask_nope"]).await.code, 5, "not found");
}
