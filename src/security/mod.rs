//! What keeps hookd safe to expose: the SSRF guard on outgoing requests, the admin token, the
//! credentials of sessions and portal tokens, and private data files.

pub mod credentials;
pub mod files;
pub mod ssrf;
pub mod token;
