//! Standard Webhooks `v1a`: an endpoint with an ed25519 key signs with it, receivers verify
//! with the public key alone, and a rotation keeps both keys signing through the grace.

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::receiver::{Received, Receiver};
use crate::svix_sdk::python_check;

/// Whether the `cryptography` package verifies one `v1a` signature of `request` under `public`
/// (`None` when Python is not set up).
async fn verifies(public: &str, request: &Received) -> Option<bool> {
    let headers: serde_json::Map<String, Value> = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").into()))
        .collect();
    let body = String::from_utf8_lossy(&request.body);
    let input = json!({"public_key": public, "headers": headers, "body": body});
    python_check("verify_ed25519.py", input).await
}

#[tokio::test]
async fn an_ed25519_endpoint_signs_v1a_and_a_rotation_keeps_both_keys() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    app.create_app("a").await;
    let ep = app.create_endpoint("a", json!({"url": receiver.url, "secret": "whsk_"})).await;
    let secret_path = format!("/api/v1/app/a/endpoint/{ep}/secret");
    let (_, secret) = app.get(&secret_path).await;
    let first = secret["publicKey"].as_str().unwrap().to_owned();
    assert!(secret["key"].as_str().unwrap().starts_with("whsk_") && first.starts_with("whpk_"));

    app.send("a", json!({"eventType": "t", "payload": {"n": 1}})).await;
    let got = receiver.wait_for(1).await;
    let signature = got[0].header("webhook-signature");
    assert!(signature.starts_with("v1a,") && !signature.contains(' '), "{signature}");
    if let Some(ok) = verifies(&first, &got[0]).await {
        assert!(ok, "cryptography refused the v1a signature");
    }

    let (status, rotated) =
        app.post(&format!("{secret_path}/rotate"), json!({"key": "whsk_"})).await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["publicKey"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    app.send("a", json!({"eventType": "t", "payload": {"n": 2}})).await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].header("webhook-signature").matches("v1a,").count(), 2, "both keys sign");
    for public in [&first, &second] {
        if let Some(ok) = verifies(public, &got[1]).await {
            assert!(ok, "{public} does not verify the delivery after the rotation");
        }
    }
    let stranger = "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=";
    if let Some(ok) = verifies(stranger, &got[1]).await {
        assert!(!ok, "another key verified the delivery");
    }
}
