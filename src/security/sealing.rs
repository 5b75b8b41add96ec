//! Secrets at rest: endpoint secrets and custom header values are sealed with
//! XChaCha20-Poly1305 (as Svix does) under a key kept apart from the database, so a copy of
//! the database file or a dump of the PostgreSQL tables alone reveals none of them.
//!
//! A sealed value reads `sealed1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`. The key id
//! (the first 8 hex digits of the key's SHA-256) says which key of the [`Keyring`] opens it,
//! so keys can be rotated: the first key seals, every key opens. The nonce is 24 random bytes
//! (XChaCha's extended nonce makes random nonces safe for any number of values). Each value is
//! bound to its place (the endpoint and the column) as associated data, so a sealed value
//! copied into another row or column does not open.
//!
//! A value without the prefix is one written before sealing existed; it is read as it is and
//! sealed at the next start ([`crate::store::Store::reseal_secrets`]).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::model::ids::fill_random;

const PREFIX: &str = "sealed1:";
const NONCE_LEN: usize = 24;

/// One key: its id and its cipher.
struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// The keys this node holds: the first seals, all of them open.
pub struct Keyring {
    keys: Vec<Key>,
}

/// Why a stored value did not open.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Sealed with a key this node does not hold (the key id).
    UnknownKey(String),
    /// Not a well-formed sealed value, or changed since it was sealed.
    Damaged,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::UnknownKey(id) => write!(
                f,
                "sealed with key {id}, which is not among this node's keys (secret_key / \
                 HOOKD_SECRET_KEY, or <data_dir>/secret-key): every node needs the same keys"
            ),
            OpenError::Damaged => f.write_str("a sealed value is damaged or was altered"),
        }
    }
}

/// Shows the key ids only, never a key.
impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.keys.iter().map(|k| &k.id)).finish()
    }
}

impl Keyring {
    /// Keys as configured: base64 of 32 bytes each, separated by commas or new lines.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (i, item) in
            text.split([',', '\n']).map(str::trim).filter(|s| !s.is_empty()).enumerate()
        {
            let bytes = STANDARD
                .decode(item)
                .or_else(|_| URL_SAFE_NO_PAD.decode(item))
                .map_err(|_| format!("key {} is not base64", i + 1))?;
            if bytes.len() != 32 {
                return Err(format!("key {} is {} bytes; a key is 32 bytes", i + 1, bytes.len()));
            }
            let id = hex8(&Sha256::digest(&bytes));
            let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
                .map_err(|_| format!("key {} is not a valid key", i + 1))?;
            keys.push(Key { id, cipher });
        }
        if keys.is_empty() {
            return Err("no key given".into());
        }
        Ok(Self { keys })
    }

    /// A new random key, as [`Keyring::parse`] reads it.
    pub fn generate_key() -> String {
        let mut bytes = [0u8; 32];
        fill_random(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Seals `plain` for the place `context` names.
    pub fn seal(&self, plain: &str, context: &str) -> String {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let payload = Payload { msg: plain.as_bytes(), aad: context.as_bytes() };
        // Encryption fails only for messages beyond 256 GiB; ours are bounded far below.
        let sealed = key.cipher.encrypt(XNonce::from_slice(&nonce), payload).unwrap_or_default();
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", key.id, URL_SAFE_NO_PAD.encode(raw))
    }

    /// The plain text of a stored value; one without the prefix is returned as it is.
    pub fn open(&self, stored: &str, context: &str) -> Result<String, OpenError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_owned()) };
        let (id, body) = rest.split_once(':').ok_or(OpenError::Damaged)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| OpenError::UnknownKey(id.to_owned()))?;
        let raw = URL_SAFE_NO_PAD.decode(body).map_err(|_| OpenError::Damaged)?;
        if raw.len() < NONCE_LEN {
            return Err(OpenError::Damaged);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let payload = Payload { msg: sealed, aad: context.as_bytes() };
        let plain = key
            .cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| OpenError::Damaged)?;
        String::from_utf8(plain).map_err(|_| OpenError::Damaged)
    }

    /// Whether `stored` is sealed with the key that seals now (else it is sealed again).
    pub fn is_current(&self, stored: &str) -> bool {
        stored
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(id, _)| id == self.current_id())
    }
}

fn hex8(digest: &[u8]) -> String {
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::parse(&Keyring::generate_key()).expect("a generated key parses")
    }

    #[test]
    fn sealed_values_open_in_their_place_only() {
        let keys = ring();
        let sealed = keys.seal("whsec_abc", "ep_1/secret");
        assert!(sealed.starts_with("sealed1:") && !sealed.contains("whsec_abc"));
        assert_eq!(keys.open(&sealed, "ep_1/secret").as_deref(), Ok("whsec_abc"));
        assert_eq!(keys.open(&sealed, "ep_2/secret"), Err(OpenError::Damaged));
        assert_ne!(keys.seal("whsec_abc", "ep_1/secret"), sealed, "a fresh nonce each time");
    }

    #[test]
    fn altered_values_do_not_open() {
        let keys = ring();
        let sealed = keys.seal("Bearer t", "c");
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).expect("still text");
        assert_eq!(keys.open(&altered, "c"), Err(OpenError::Damaged));
        assert_eq!(keys.open("sealed1:nothing", "c"), Err(OpenError::Damaged));
    }

    #[test]
    fn rotation_opens_with_any_key_and_seals_with_the_first() {
        let (old, new) = (Keyring::generate_key(), Keyring::generate_key());
        let before = Keyring::parse(&old).expect("old");
        let sealed = before.seal("s", "c");
        let during = Keyring::parse(&format!("{new},{old}")).expect("both");
        assert_eq!(during.open(&sealed, "c").as_deref(), Ok("s"));
        assert!(!during.is_current(&sealed) && during.is_current(&during.seal("s", "c")));
        let after = Keyring::parse(&new).expect("new");
        assert_eq!(
            after.open(&sealed, "c"),
            Err(OpenError::UnknownKey(before.current_id().into()))
        );
    }

    #[test]
    fn plain_values_from_before_sealing_read_as_they_are() {
        assert_eq!(ring().open("whsec_old", "c").as_deref(), Ok("whsec_old"));
        assert!(!ring().is_current("whsec_old"));
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        assert!(Keyring::parse("").unwrap_err().contains("no key"));
        assert!(Keyring::parse("not base64!").unwrap_err().contains("base64"));
        assert!(Keyring::parse("c2hvcnQ=").unwrap_err().contains("32 bytes"));
    }
}
