//! Secrets and signatures. Pure functions, with the time passed in, so the published test
//! vectors can pin them down.
//!
//! A secret is either a Standard Webhooks HMAC key (`whsec_` + base64, signed `v1,`) or an
//! ed25519 key (`whsk_` + the base64 32-byte seed, signed `v1a,`), whose public key
//! (`whpk_…`) a receiver verifies with, holding no shared secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::model::ids::fill_random;

const PREFIX: &str = "whsec_";
const ED25519_SECRET: &str = "whsk_";
const ED25519_PUBLIC: &str = "whpk_";

/// A new Standard Webhooks secret: `whsec_` + standard base64 of 24 random bytes.
pub fn generate_secret() -> String {
    let mut key = [0u8; 24];
    fill_random(&mut key);
    format!("{PREFIX}{}", STANDARD.encode(key))
}

/// A new ed25519 secret key: `whsk_` + standard base64 of a 32-byte random seed.
pub fn generate_ed25519_secret() -> String {
    let mut seed = [0u8; 32];
    fill_random(&mut seed);
    format!("{ED25519_SECRET}{}", STANDARD.encode(seed))
}

/// What a user asks for with `secret`: the bare prefix `whsk_` asks for a new ed25519 key.
pub fn requested(secret: String) -> String {
    if secret == ED25519_SECRET { generate_ed25519_secret() } else { secret }
}

/// The signing key of a `whsk_` secret.
fn ed25519_key(secret: &str) -> Option<SigningKey> {
    let seed = STANDARD.decode(secret.strip_prefix(ED25519_SECRET)?).ok()?;
    Some(SigningKey::from_bytes(&seed.try_into().ok()?))
}

/// The public key (`whpk_…`) of an ed25519 secret; `None` for an HMAC one.
pub fn public_key(secret: &str) -> Option<String> {
    let key = ed25519_key(secret)?;
    Some(format!("{ED25519_PUBLIC}{}", STANDARD.encode(key.verifying_key().as_bytes())))
}

/// Whether `signature` (base64, as after `v1a,`) is the ed25519 signature of `content` under
/// the public key `whpk_…` (or the public half of a `whsk_…`).
pub fn verify_ed25519(key: &str, content: &[u8], signature: &str) -> bool {
    let public = match key.strip_prefix(ED25519_PUBLIC) {
        Some(b64) => STANDARD.decode(b64).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()),
        None => ed25519_key(key).map(|k| k.verifying_key().to_bytes()),
    };
    let Some(public) = public.and_then(|p| VerifyingKey::from_bytes(&p).ok()) else {
        return false;
    };
    let signature = STANDARD.decode(signature).ok().and_then(|s| <[u8; 64]>::try_from(s).ok());
    signature.is_some_and(|s| public.verify(content, &Signature::from_bytes(&s)).is_ok())
}

/// Checks a user-supplied `whsec_` or `whsk_` secret; `Err` says what is wrong.
pub fn validate_secret(secret: &str) -> Result<(), String> {
    if secret.starts_with(ED25519_SECRET) {
        return match ed25519_key(secret) {
            Some(_) => Ok(()),
            None => Err("an ed25519 secret is whsk_ and the base64 of a 32-byte seed".into()),
        };
    }
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

/// The Standard Webhooks `webhook-signature` value: `v1,<sig>` per HMAC secret and
/// `v1a,<sig>` per ed25519 one, space-separated.
pub fn standard_signature(secrets: &[&str], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let signed = [msg_id.as_bytes(), b".", ts.as_bytes(), b".", body];
    secrets
        .iter()
        .map(|secret| match ed25519_key(secret) {
            Some(key) => format!("v1a,{}", STANDARD.encode(key.sign(&signed.concat()).to_bytes())),
            None => format!("v1,{}", STANDARD.encode(hmac_sha256(&key_bytes(secret), &signed))),
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

    // Standard Webhooks' ed25519 (v1a) vector (reference/vectors.md).
    const SEED: &str = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
    const PUBLIC: &str = "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=";
    const V1A: &str = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";

    #[test]
    fn ed25519_vector() {
        assert_eq!(public_key(SEED).as_deref(), Some(PUBLIC));
        assert_eq!(standard_signature(&[SEED], MSG_ID, TIMESTAMP, BODY.as_bytes()), V1A);
        let content = format!("{MSG_ID}.{TIMESTAMP}.{BODY}");
        let sig = V1A.strip_prefix("v1a,").unwrap();
        assert!(verify_ed25519(PUBLIC, content.as_bytes(), sig));
        assert!(verify_ed25519(SEED, content.as_bytes(), sig), "a whsk_ key verifies too");
        assert!(!verify_ed25519(PUBLIC, b"tampered", sig));
        assert_eq!(public_key(SECRET), None, "an HMAC secret has no public key");
    }

    #[test]
    fn ed25519_secrets_generate_and_mix_with_hmac_in_a_rotation() {
        let new = requested("whsk_".into());
        assert!(validate_secret(&new).is_ok() && public_key(&new).is_some());
        assert!(validate_secret("whsk_AAAA").is_err());
        let both = standard_signature(&[&new, SECRET], MSG_ID, TIMESTAMP, BODY.as_bytes());
        let kinds: Vec<&str> = both.split(' ').map(|s| s.split(',').next().unwrap()).collect();
        assert_eq!(kinds, ["v1a", "v1"]);
    }

    #[test]
    fn secrets_validate() {
        assert!(validate_secret(&generate_secret()).is_ok());
        assert!(validate_secret("whsec_short").is_err());
        assert!(validate_secret("nope").is_err());
    }
}
