//! SQLite on a full disk (a 4 MiB tmpfs as the data directory): a write that cannot be
//! stored answers 503 with `Retry-After`, never a 202; health says the store takes no
//! writes; every message that was answered 202 is kept; once there is room again, all works.

use std::io::Write;
use std::path::{Path, PathBuf};

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::common::needed;
use crate::helpers::{TestApp, eventually};

/// A small tmpfs, unmounted when dropped; `None` (the skip policy's answer) where mounting
/// is not allowed.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount() -> Option<Self> {
        let dir = std::env::temp_dir().join(hookd::model::ids::new_id("hookd-full-"));
        std::fs::create_dir_all(&dir).ok()?;
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        needed(mounted.then(|| Self(dir)), "mounting a small tmpfs needs root")
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a file until the disk has no room left.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("create the filler");
    let chunk = vec![0u8; 16 * 1024];
    while file.write_all(&chunk).is_ok() {}
    path
}

#[tokio::test]
async fn a_full_disk_answers_503_with_retry_after_and_recovers() {
    let Some(disk) = Tmpfs::mount() else { return };
    let data = disk.0.join("data");
    let app = TestApp::spawn_with(|c| c.data_dir = data.clone()).await;
    app.create_app("a").await;
    let filler = fill(&disk.0);

    // The WAL may still have room for a few messages; the first refusal comes soon after.
    let body = json!({"eventType": "x", "payload": {"pad": "y".repeat(8_000)}}).to_string();
    let mut accepted = Vec::new();
    let mut refusal = None;
    for _ in 0..2_000 {
        let answer = app.client.raw(Method::POST, "/api/v1/app/a/msg", Some(body.clone()), &[]);
        let (status, headers, bytes) = answer.await.expect("hookd answers");
        match status {
            StatusCode::ACCEPTED => {
                let msg: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                accepted.push(msg["id"].as_str().unwrap().to_owned());
            }
            _ => {
                refusal = Some((status, headers, bytes));
                break;
            }
        }
    }
    let (status, headers, bytes) = refusal.expect("a full disk refuses a write");
    let error: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")),
        "{error}"
    );
    assert_eq!(headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
    let (health, _) = app.get("/api/v1/health").await;
    assert_eq!(health, StatusCode::SERVICE_UNAVAILABLE, "health tells of the full disk");

    std::fs::remove_file(&filler).expect("make room");
    eventually("the store to take writes again", || async {
        (app.get("/api/v1/health").await.0 == StatusCode::NO_CONTENT).then_some(())
    })
    .await;
    let again = app.send("a", json!({"eventType": "x", "payload": {}})).await;
    accepted.push(again);
    for id in &accepted {
        let (status, _) = app.get(&format!("/api/v1/app/a/msg/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{id} was answered 202, so it is kept");
    }
}
