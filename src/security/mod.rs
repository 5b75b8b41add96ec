//! What keeps hookd safe to expose: the SSRF guard on outgoing requests and the API token.

pub mod ssrf;
pub mod token;
