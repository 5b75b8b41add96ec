//! Credentials that open a [`Session`]: the console's cookie secrets and application portal
//! tokens. Both are 32 random bytes; the store keeps only a hash of each, computed per kind,
//! so a copy of the database opens nothing and a cookie secret cannot be used as a portal
//! token (or the reverse).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::model::Session;
use crate::model::ids::fill_random;
use crate::model::time::now_ms;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A browser's session cookie.
    Cookie,
    /// A portal token: a bearer token for the API and a key to the portal.
    Portal,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::Portal => "portal",
        }
    }
}

/// Portal tokens carry this prefix, so a reader (and a secret scanner) can tell them apart.
/// No dots: Svix's client libraries read a `.region` suffix off a token.
pub const PORTAL_PREFIX: &str = "hkp_";

/// A new credential of `kind` and the session it opens, for `app_id` (`None`: the operator).
pub fn issue(
    kind: Kind,
    app_id: Option<String>,
    read_only: bool,
    lifetime_ms: i64,
) -> (String, Session) {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    let random = URL_SAFE_NO_PAD.encode(bytes);
    let secret = match kind {
        Kind::Cookie => random,
        Kind::Portal => format!("{PORTAL_PREFIX}{random}"),
    };
    let now = now_ms();
    let session = Session {
        id: stored_id(kind, &secret),
        app_id,
        read_only,
        created_at: now,
        expires_at: now.saturating_add(lifetime_ms),
    };
    (secret, session)
}

/// The store's key for a credential of `kind`.
pub fn stored_id(kind: Kind, secret: &str) -> String {
    let digest = Sha256::new().chain_update(kind.tag()).chain_update(b":").chain_update(secret);
    crate::signing::hex(&digest.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_hash_apart_and_portal_tokens_are_marked() {
        let (token, session) = issue(Kind::Portal, Some("app_1".into()), true, 1000);
        assert!(token.starts_with(PORTAL_PREFIX) && !token.contains('.'));
        assert_eq!(session.id, stored_id(Kind::Portal, &token));
        assert_ne!(session.id, stored_id(Kind::Cookie, &token));
        assert_eq!(session.expires_at - session.created_at, 1000);
    }
}
