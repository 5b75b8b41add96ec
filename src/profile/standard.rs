//! `standard` (default): Standard Webhooks. `svix`: the same with `svix-` header names.
//! The body is the payload exactly as it was accepted.

use super::{Delivery, Profile};
use crate::signing::standard_signature;

pub struct Standard;
pub struct Svix;

fn signed_headers(delivery: &Delivery<'_>, body: &[u8], prefix: &str) -> Vec<(String, String)> {
    let id = &delivery.message.id;
    let timestamp = delivery.now_ms.div_euclid(1000);
    let secrets = delivery.endpoint.signing_secrets(delivery.now_ms);
    vec![
        (format!("{prefix}-id"), id.clone()),
        (format!("{prefix}-timestamp"), timestamp.to_string()),
        (format!("{prefix}-signature"), standard_signature(&secrets, id, timestamp, body)),
    ]
}

impl Profile for Standard {
    fn name(&self) -> &'static str {
        "standard"
    }

    fn envelope(&self, delivery: &Delivery<'_>) -> Result<Vec<u8>, String> {
        Ok(delivery.message.payload.as_bytes().to_vec())
    }

    fn headers(&self, delivery: &Delivery<'_>, body: &[u8]) -> Vec<(String, String)> {
        signed_headers(delivery, body, "webhook")
    }
}

impl Profile for Svix {
    fn name(&self) -> &'static str {
        "svix"
    }

    fn envelope(&self, delivery: &Delivery<'_>) -> Result<Vec<u8>, String> {
        Ok(delivery.message.payload.as_bytes().to_vec())
    }

    fn headers(&self, delivery: &Delivery<'_>, body: &[u8]) -> Vec<(String, String)> {
        signed_headers(delivery, body, "svix")
    }
}
