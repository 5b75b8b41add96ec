//! PostgreSQL stopped and started again under load: while it is down, ingestion answers 503
//! with `Retry-After` (never a 202, never a 500) and health says so; every message answered
//! 202 is delivered; once it is back, acceptance and delivery resume by themselves.
//!
//! The test runs its own PostgreSQL (initdb into a temporary directory, a port of its own),
//! so stopping it disturbs no other test. `pg_ctl stop -m immediate` is PostgreSQL's crash
//! stop: no checkpoint, crash recovery at the next start.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::common::needed;
use crate::helpers::{Api, TestApp, eventually};
use crate::receiver::Receiver;

/// A PostgreSQL server of the test's own, run as the `postgres` user.
struct OwnPostgres {
    /// PostgreSQL's server binaries.
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl OwnPostgres {
    /// `None` (the skip policy's answer) without PostgreSQL's binaries or root.
    fn init() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|mut versions| versions.next())
            .and_then(Result::ok)
            .map(|v| v.path().join("bin"));
        let bin = needed(bin, "PostgreSQL's server binaries are not in /usr/lib/postgresql")?;
        let dir = std::env::temp_dir().join(hookd::model::ids::new_id("hookd-pg-"));
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        std::fs::create_dir_all(&dir).ok()?;
        let owned = std::process::Command::new("chown").arg("postgres").arg(&dir).status();
        let pg = Self { bin: bin.clone(), dir: dir.clone(), port };
        let initdb = bin.join("initdb").display().to_string();
        let data = dir.join("data").display().to_string();
        let made = owned.is_ok_and(|s| s.success())
            && pg
                .as_postgres(&initdb, &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"]);
        needed(made.then_some(()), "running initdb as the postgres user needs root")?;
        pg.ctl(&["start", "-w", "-l", &dir.join("log").display().to_string()]).then_some(pg)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn as_postgres(&self, program: &str, args: &[&str]) -> bool {
        std::process::Command::new("runuser")
            .args(["-u", "postgres", "--", program])
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn ctl(&self, args: &[&str]) -> bool {
        let bin = self.bin.join("pg_ctl").display().to_string();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
            self.port,
            self.dir.display()
        );
        let data = self.dir.join("data").display().to_string();
        let mut all = vec!["-D", data.as_str(), "-o", options.as_str()];
        all.extend_from_slice(args);
        self.as_postgres(&bin, &all)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.ctl(&["stop", "-m", "immediate", "-w"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What the clients saw: ids answered 202, and every other status.
#[derive(Default)]
struct Seen {
    accepted: Vec<String>,
    refused: Vec<(StatusCode, Option<String>)>,
}

/// Sends messages until `stop`, as 4 clients, recording every answer.
fn load(
    api: Api,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<tokio::sync::Notify>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..4)
        .map(|client| {
            let (api, seen, stop) = (api.clone(), seen.clone(), stop.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let body = json!({"eventType": "t", "payload": {"client": client, "i": i}});
                    let sent =
                        api.raw(Method::POST, "/api/v1/app/a/msg", Some(body.to_string()), &[]);
                    let stopped = stop.notified();
                    let answer = tokio::select! { a = sent => a, () = stopped => return };
                    let Ok((status, headers, bytes)) = answer else { continue };
                    record(&seen, status, &headers, &bytes);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect()
}

fn record(seen: &Mutex<Seen>, status: StatusCode, headers: &hyper::HeaderMap, body: &[u8]) {
    let mut seen = seen.lock().unwrap();
    if status == StatusCode::ACCEPTED {
        let msg: serde_json::Value = serde_json::from_slice(body).unwrap();
        seen.accepted.push(msg["id"].as_str().unwrap().to_owned());
    } else {
        let retry = headers.get("retry-after").and_then(|v| v.to_str().ok());
        seen.refused.push((status, retry.map(str::to_owned)));
    }
}

#[tokio::test]
async fn postgres_restarted_under_load_loses_nothing_and_resumes() {
    let Some(pg) = OwnPostgres::init() else { return };
    let receiver = Receiver::start().await;
    let url = pg.url();
    let app = TestApp::spawn_with(|c| c.database_url = Some(url)).await;
    app.create_app("a").await;
    app.create_endpoint("a", json!({"url": receiver.url})).await;

    let (seen, stop) =
        (Arc::new(Mutex::new(Seen::default())), Arc::new(tokio::sync::Notify::new()));
    let clients = load(app.client.clone(), seen.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(pg.ctl(&["stop", "-m", "immediate", "-w"]), "stop PostgreSQL");
    let before_down = seen.lock().unwrap().accepted.len();
    eventually("a 503 while PostgreSQL is down", || async {
        (!seen.lock().unwrap().refused.is_empty()).then_some(())
    })
    .await;
    let (health, _) = app.get("/api/v1/health").await;
    assert_eq!(health, StatusCode::SERVICE_UNAVAILABLE, "health while PostgreSQL is down");
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(pg.ctl(&["start", "-w"]), "start PostgreSQL again");
    eventually("acceptance resumed", || async {
        (seen.lock().unwrap().accepted.len() > before_down + 20).then_some(())
    })
    .await;
    stop.notify_waiters();
    for client in clients {
        client.abort();
    }

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    for (status, retry) in &seen.refused {
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE, "a refusal other than 503");
        assert!(retry.is_some(), "a 503 without Retry-After");
    }
    let accepted: HashSet<String> = seen.accepted.into_iter().collect();
    eventually("every accepted message delivered", || async {
        let got: HashSet<String> =
            receiver.received().iter().map(|r| r.header("webhook-id").to_owned()).collect();
        accepted.is_subset(&got).then_some(())
    })
    .await;
    let (health, _) = app.get("/api/v1/health").await;
    assert_eq!(health, StatusCode::NO_CONTENT, "health once PostgreSQL is back");
}
