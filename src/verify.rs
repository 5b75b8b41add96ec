//! The receiver's side: is this request a genuine delivery? Given the endpoint's secret, the
//! request's headers and its exact body, it says which contract signed it (Standard Webhooks,
//! Mastodon's `X-Hub-Signature`, Misskey's shared secret) or why it does not verify. For
//! `hookd verify`, and for anyone writing a receiver who wants to check their own.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::security::token::same_bytes as same;
use crate::signing::{hex, hmac_sha256, standard_signature, verify_ed25519};

/// Which contract a request was verified under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Standard Webhooks (hookd's default profile, Svix): the message id and when it was signed.
    Standard { msg_id: String, timestamp: i64 },
    /// Mastodon: `X-Hub-Signature: sha256=<hex HMAC of the body>`.
    Mastodon,
    /// Misskey: `X-Misskey-Hook-Secret` is the secret itself.
    Misskey,
}

impl std::fmt::Display for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Standard { msg_id, timestamp } => {
                write!(
                    f,
                    "a valid Standard Webhooks delivery (webhook-id {msg_id}, signed at {timestamp})"
                )
            }
            Self::Mastodon => f.write_str("a valid Mastodon delivery (X-Hub-Signature matches)"),
            Self::Misskey => {
                f.write_str("a valid Misskey delivery (X-Misskey-Hook-Secret matches)")
            }
        }
    }
}

/// Verifies a request. `now` and `tolerance` are in seconds; a Standard Webhooks timestamp
/// further than `tolerance` from `now` is refused (replays), unless `tolerance` is `None`.
pub fn verify(
    secret: &str,
    headers: &[(String, String)],
    body: &[u8],
    now: i64,
    tolerance: Option<i64>,
) -> Result<Verified, String> {
    let header = |name: &str| {
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
    };
    if let Some(signature) = header("webhook-signature").or_else(|| header("svix-signature")) {
        let id =
            header("webhook-id").or_else(|| header("svix-id")).ok_or("no webhook-id header")?;
        let ts = header("webhook-timestamp")
            .or_else(|| header("svix-timestamp"))
            .ok_or("no webhook-timestamp header")?;
        return standard(secret, id, ts, signature, body, now, tolerance);
    }
    if let Some(signature) = header("x-hub-signature") {
        let expected = format!("sha256={}", hex(&hmac_sha256(secret.as_bytes(), &[body])));
        return match same(signature.as_bytes(), expected.as_bytes()) {
            true => Ok(Verified::Mastodon),
            false => Err("X-Hub-Signature does not match this secret and body".into()),
        };
    }
    if let Some(given) = header("x-misskey-hook-secret") {
        return match same(given.as_bytes(), secret.as_bytes()) {
            true => Ok(Verified::Misskey),
            false => Err("X-Misskey-Hook-Secret is not this secret".into()),
        };
    }
    Err("no signature header: expected webhook-signature (Standard Webhooks), X-Hub-Signature \
         (Mastodon) or X-Misskey-Hook-Secret (Misskey)"
        .into())
}

fn standard(
    secret: &str,
    id: &str,
    ts: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
    tolerance: Option<i64>,
) -> Result<Verified, String> {
    let timestamp: i64 =
        ts.parse().map_err(|_| format!("webhook-timestamp {ts:?} is not a number"))?;
    if let Some(tolerance) = tolerance.filter(|t| (now - timestamp).abs() > *t) {
        let age = now - timestamp;
        return Err(format!(
            "webhook-timestamp is {age} s from now, beyond the {tolerance} s tolerance (a replay?)"
        ));
    }
    let signed = [id.as_bytes(), b".", ts.as_bytes(), b".", body].concat();
    let expected = standard_signature(&[secret], id, timestamp, body);
    let hmac = expected.strip_prefix("v1,").map(|h| STANDARD.decode(h));
    let matches = signatures.split_whitespace().any(|entry| {
        if let Some(given) = entry.strip_prefix("v1a,") {
            return verify_ed25519(secret, &signed, given);
        }
        // Compared as decoded bytes, so padding differences cannot matter.
        match (entry.strip_prefix("v1,").map(|g| STANDARD.decode(g)), &hmac) {
            (Some(Ok(given)), Some(Ok(expected))) => same(&given, expected),
            _ => false,
        }
    });
    if matches {
        Ok(Verified::Standard { msg_id: id.to_owned(), timestamp })
    } else {
        Err("no signature in webhook-signature matches this key, id, timestamp and body".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks specification's published vector (reference/vectors.md).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(sig: &str) -> Vec<(String, String)> {
        vec![
            ("Webhook-Id".into(), ID.into()),
            ("webhook-timestamp".into(), TS.to_string()),
            ("webhook-signature".into(), sig.into()),
        ]
    }

    #[test]
    fn the_published_vector_verifies_and_a_tampered_body_does_not() {
        let ok = verify(SECRET, &headers(SIG), BODY, TS + 10, Some(300)).unwrap();
        assert_eq!(ok, Verified::Standard { msg_id: ID.into(), timestamp: TS });
        let both = format!("v1,AAAA {SIG}");
        assert!(
            verify(SECRET, &headers(&both), BODY, TS, Some(300)).is_ok(),
            "any signature may match"
        );
        let err = verify(SECRET, &headers(SIG), br#"{"test": 1}"#, TS, Some(300)).unwrap_err();
        assert!(err.contains("no signature"), "{err}");
        let err = verify(SECRET, &headers(SIG), BODY, TS + 301, Some(300)).unwrap_err();
        assert!(err.contains("tolerance"), "{err}");
        assert!(verify(SECRET, &headers(SIG), BODY, TS + 10_000, None).is_ok());
    }

    #[test]
    fn ed25519_signatures_verify_with_the_public_key() {
        let public = "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=";
        let v1a = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";
        assert!(verify(public, &headers(v1a), BODY, TS, Some(300)).is_ok());
        assert!(verify(public, &headers(v1a), b"{}", TS, Some(300)).is_err());
        assert!(
            verify(SECRET, &headers(v1a), BODY, TS, Some(300)).is_err(),
            "not with an HMAC key"
        );
    }

    #[test]
    fn mastodon_and_misskey() {
        let body = br#"{"event":"account.created"}"#;
        let sig = format!("sha256={}", hex(&hmac_sha256(b"0123456789abcdef", &[body])));
        let h = vec![("X-Hub-Signature".to_owned(), sig)];
        assert_eq!(verify("0123456789abcdef", &h, body, 0, Some(300)), Ok(Verified::Mastodon));
        assert!(verify("another-secret-0", &h, body, 0, Some(300)).is_err());
        let h = vec![("x-misskey-hook-secret".to_owned(), "s3cret".to_owned())];
        assert_eq!(verify("s3cret", &h, body, 0, None), Ok(Verified::Misskey));
        assert!(verify("s3creT", &h, body, 0, None).is_err());
        assert!(verify("s", &[], body, 0, None).unwrap_err().contains("no signature header"));
    }
}
