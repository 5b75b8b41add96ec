//! The official Svix Python SDK drives hookd unchanged.

use crate::helpers::{TOKEN, TestApp};

/// The Python with `svix` and `standardwebhooks` installed; `scripts/test` sets it up.
pub fn test_python() -> String {
    std::env::var("HOOKD_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("HOOKD_TEST_PYTHON is not set: run ./scripts/test, which installs the Python SDKs")
    })
}

#[tokio::test]
async fn svix_python_sdk_round_trip() {
    let app = TestApp::spawn().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/svix_smoke.py");
    let output = tokio::process::Command::new(test_python())
        .arg(script)
        .env("HOOKD_URL", &app.base)
        .env("HOOKD_TOKEN", TOKEN)
        .output()
        .await
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("SVIX SDK OK"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
}

/// Whether the official `standardwebhooks` library accepts this request under `secret`.
pub async fn standard_webhooks_verifies(secret: &str, request: &crate::receiver::Received) -> bool {
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

/// Runs a Python checker from tests/sdk with `input` on stdin; true if it exits 0.
pub async fn python_check(script: &str, input: serde_json::Value) -> bool {
    use tokio::io::AsyncWriteExt;
    let path = format!("{}/tests/sdk/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = tokio::process::Command::new(test_python())
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.to_string().as_bytes()).await.expect("write");
    drop(stdin);
    child.wait_with_output().await.expect("python finishes").status.success()
}
