//! `standard` (default): Standard Webhooks. `svix`: the same with `svix-` header names.
//! The body is the payload exactly as it was accepted.

use super::{Delivery, Profile, Rendered};
use crate::signing::standard_signature;

pub struct Standard;
pub struct Svix;

fn render(delivery: &Delivery<'_>, prefix: &str) -> Rendered {
    let msg = delivery.message;
    let timestamp = delivery.now_ms.div_euclid(1000);
    let body = msg.payload.as_bytes().to_vec();
    let secrets = delivery.endpoint.signing_secrets(delivery.now_ms);
    let signature = standard_signature(&secrets, &msg.id, timestamp, &body);
    Rendered {
        headers: vec![
            (format!("{prefix}-id"), msg.id.clone()),
            (format!("{prefix}-timestamp"), timestamp.to_string()),
            (format!("{prefix}-signature"), signature),
        ],
        body,
    }
}

impl Profile for Standard {
    fn name(&self) -> &'static str {
        "standard"
    }

    fn render(&self, delivery: &Delivery<'_>) -> Result<Rendered, String> {
        Ok(render(delivery, "webhook"))
    }
}

impl Profile for Svix {
    fn name(&self) -> &'static str {
        "svix"
    }

    fn render(&self, delivery: &Delivery<'_>) -> Result<Rendered, String> {
        Ok(render(delivery, "svix"))
    }
}
