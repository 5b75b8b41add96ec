//! Secrets and signatures. Pure functions, with the time passed in, so the published test
//! vectors can pin them down.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::model::ids::fill_random;

const PREFIX: &str = "whsec_";

/// A new Standard Webhooks secret: `whsec_` + standard base64 of 24 random bytes.
pub fn generate_secret() -> String {
    let mut key = [0u8; 24];
    fill_random(&mut key);
    format!("{PREFIX}{}", STANDARD.encode(key))
}

/// Checks a user-supplied `whsec_` secret; `Err` says what is wrong.
pub fn validate_secret(secret: &str) -> Result<(), String> {
    let key = secret
        .strip_prefix(PREFIX)
        .ok_or("the secret must start with whsec_")
        .and_then(|b64| STANDARD.decode(b64).map_err(|_| "the secret is not valid base64"))?;
    if (24..=64).contains(&key.len()) {
        Ok(())
    } else {
        Err("the secret's key must be 24 to 64 bytes".into())
    }
}

/// The key bytes of a secret: base64-decoded for `whsec_…`, the raw bytes otherwise.
fn key_bytes(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix(PREFIX)
        .and_then(|b64| STANDARD.decode(b64).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in data {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The Standard Webhooks `webhook-signature` value: `v1,<sig>` per secret, space-separated.
pub fn standard_signature(secrets: &[&str], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    secrets
        .iter()
        .map(|secret| {
            let mac = hmac_sha256(
                &key_bytes(secret),
                &[msg_id.as_bytes(), b".", ts.as_bytes(), b".", body],
            );
            format!("v1,{}", STANDARD.encode(mac))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `data`, base64: the `Digest: SHA-256=` value.
pub fn sha256_base64(data: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks specification's published vector.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &str = r#"{"test": 2432232314}"#;

    #[test]
    fn standard_webhooks_vector() {
        assert_eq!(
            standard_signature(&[SECRET], MSG_ID, TIMESTAMP, BODY.as_bytes()),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn one_signature_per_secret() {
        let other = generate_secret();
        let sig = standard_signature(&[SECRET, &other], MSG_ID, TIMESTAMP, BODY.as_bytes());
        let parts: Vec<_> = sig.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_validate() {
        assert!(validate_secret(&generate_secret()).is_ok());
        assert!(validate_secret("whsec_short").is_err());
        assert!(validate_secret("nope").is_err());
    }
}
