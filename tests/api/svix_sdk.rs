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
