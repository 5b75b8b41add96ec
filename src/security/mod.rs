//! What keeps hookd safe to expose: the SSRF guard on outgoing requests, the admin token, the
//! credentials of sessions and portal tokens, private data files and secrets sealed at rest.

pub mod credentials;
pub mod files;
pub mod sealing;
pub mod secret_key;
pub mod ssrf;
pub mod token;
