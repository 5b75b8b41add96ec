//! The payload path: a request body as `POST /api/v1/app/{app_id}/msg` takes it (Svix's
//! `MessageIn`), the depth check acceptance makes, and a delivery of what passes through
//! every profile (standard, Svix, Misskey, Mastodon, Strapi). Refusals are fine; a panic is
//! a bug.

#![no_main]

use hookd::ingest::MessageIn;
use hookd::model::{Endpoint, Message};
use hookd::profile::{self, Delivery};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<MessageIn>(data) else { return };
    if hookd::validate::json_depth("payload", input.payload.get()).is_err() {
        return;
    }
    let message = Message {
        id: "msg_1".into(),
        app_id: "app_1".into(),
        event_type: input.event_type,
        event_id: input.event_id,
        channels: input.channels,
        tags: input.tags,
        payload: input.payload.get().to_owned(),
        created_at: 0,
    };
    for name in ["standard", "svix", "misskey", "mastodon", "strapi"] {
        let mut endpoint = Endpoint::blank("ep_1".into(), "app_1".into(), 0);
        endpoint.profile = name.into();
        endpoint.url = "https://receiver.example/hook".into();
        endpoint.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into();
        let delivery = Delivery { message: &message, endpoint: &endpoint, now_ms: 0 };
        let _ = profile::render(&delivery, Vec::new(), &[], LIMIT);
    }
});
