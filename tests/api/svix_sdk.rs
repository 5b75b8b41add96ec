//! The official Svix Python SDK drives hookd unchanged.

use crate::common::python;
use crate::helpers::{TOKEN, TestApp};

#[tokio::test]
async fn svix_python_sdk_round_trip() {
    run_sdk_script("svix_smoke.py", "SVIX SDK OK").await;
}

#[tokio::test]
async fn svix_python_sdk_manages_operational_webhook_endpoints() {
    run_sdk_script("svix_operational.py", "SVIX OPERATIONAL OK").await;
}

/// Runs a script of tests/sdk against a fresh hookd; it must print `ok`.
async fn run_sdk_script(script: &str, ok: &str) {
    let Some(python) = python() else { return };
    let app = TestApp::spawn().await;
    let script = format!("{}/tests/sdk/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new(python)
        .arg(script)
        .env("HOOKD_URL", &app.base)
        .env("HOOKD_TOKEN", TOKEN)
        .output()
        .await
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stdout.contains(ok), "stdout:\n{stdout}\nstderr:\n{stderr}");
}

/// Whether the official `standardwebhooks` library accepts this request under `secret`;
/// `None` when Python is not set up (see the skip policy in `tests/common`).
pub async fn standard_webhooks_verifies(
    secret: &str,
    request: &crate::receiver::Received,
) -> Option<bool> {
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").into()))
        .collect();
    let body = String::from_utf8_lossy(&request.body);
    python_check(
        "verify_standard.py",
        serde_json::json!({"secret": secret, "headers": headers, "body": body}),
    )
    .await
}

/// Runs a Python checker from tests/sdk with `input` on stdin; whether it exits 0, or `None`
/// when Python is not set up.
pub async fn python_check(script: &str, input: serde_json::Value) -> Option<bool> {
    use tokio::io::AsyncWriteExt;
    let path = format!("{}/tests/sdk/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = tokio::process::Command::new(python()?)
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.to_string().as_bytes()).await.expect("write");
    drop(stdin);
    Some(child.wait_with_output().await.expect("python finishes").status.success())
}
