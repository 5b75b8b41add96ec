//! What keeps hookd safe to expose: the SSRF guard on outgoing requests, the admin token, and
//! the credentials of sessions and portal tokens.

pub mod credentials;
pub mod ssrf;
pub mod token;
