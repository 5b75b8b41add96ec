//! Profiles: how one delivery becomes one HTTP request. Each sender's contract is one file of
//! the same shape (a [`Profile`]): its body envelope, its identity and signature headers, its
//! secrets, and which failed statuses it treats as final.
//!
//! [`render`] is the pipeline every delivery goes through:
//! envelope → payload template (if the endpoint has one) → the profile's headers over the body
//! actually sent → headers merged (hookd's defaults < server defaults < endpoint < profile).

pub mod catalogues;
mod mastodon;
mod misskey;
mod standard;
mod strapi;

use crate::model::{Endpoint, Message};
use crate::template::Template;

pub use mastodon::Mastodon;
pub use misskey::Misskey;
pub use standard::{Standard, Svix};
pub use strapi::Strapi;

/// One delivery attempt's inputs. `now_ms` is passed in so rendering is a pure function.
pub struct Delivery<'a> {
    pub message: &'a Message,
    pub endpoint: &'a Endpoint,
    pub now_ms: i64,
}

/// What goes on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Header layers, lowest first; see [`Profile::merge_headers`].
pub struct HeaderLayers<'a> {
    /// hookd's own: `Content-Type: application/json` and its `User-Agent`.
    pub base: Vec<(String, String)>,
    /// The server's `[delivery] default_headers`.
    pub server: &'a [(String, String)],
    /// The endpoint's custom headers.
    pub endpoint: &'a [(String, String)],
    /// The profile's own (identity, signature, fixed headers).
    pub profile: Vec<(String, String)>,
}

pub trait Profile: Send + Sync {
    fn name(&self) -> &'static str;

    /// The body before any template, as this sender builds it. An `Err` fails the delivery
    /// at once, with the text in the attempt log.
    fn envelope(&self, delivery: &Delivery<'_>) -> Result<Vec<u8>, String>;

    /// Identity, signature and fixed headers, computed over `body` (the bytes actually sent).
    fn headers(&self, delivery: &Delivery<'_>, body: &[u8]) -> Vec<(String, String)>;

    /// Merges the layers, later winning, names compared without case. A profile whose sender
    /// merges differently (Strapi) overrides this.
    fn merge_headers(&self, layers: HeaderLayers<'_>) -> Vec<(String, String)> {
        let mut merged: Vec<(String, String)> = Vec::new();
        let all = layers
            .base
            .into_iter()
            .chain(layers.server.iter().cloned())
            .chain(layers.endpoint.iter().cloned());
        for (name, value) in all.chain(layers.profile) {
            merged.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
            merged.push((name, value));
        }
        merged
    }

    /// Whether a non-2xx status ends the delivery without retries, by this sender's rules.
    fn is_final_status(&self, _status: u16) -> bool {
        false
    }

    /// The event type of a test send (`POST …/endpoint/{id}/test`) when none is given.
    fn test_event_type(&self) -> &'static str {
        "hookd.test"
    }

    /// A new secret when the user gives none.
    fn generate_secret(&self) -> String {
        crate::signing::generate_secret()
    }

    /// Checks a secret the user gives.
    fn validate_secret(&self, secret: &str) -> Result<(), String> {
        crate::signing::validate_secret(secret)
    }
}

/// The profiles an endpoint may choose, by name.
pub const NAMES: &[&str] = &["standard", "svix", "misskey", "mastodon", "strapi"];

/// The profile called `name`; the standard one for anything unknown.
pub fn by_name(name: &str) -> &'static dyn Profile {
    match name {
        "svix" => &Svix,
        "misskey" => &Misskey,
        "mastodon" => &Mastodon,
        "strapi" => &Strapi,
        _ => &Standard,
    }
}

/// Renders one delivery: envelope, template, headers. A template's output is refused past
/// `body_limit` bytes (the server's `max_body_size`), since it can multiply the payload.
pub fn render(
    delivery: &Delivery<'_>,
    base: Vec<(String, String)>,
    server_headers: &[(String, String)],
    body_limit: usize,
) -> Result<Rendered, String> {
    let ep = delivery.endpoint;
    let profile = by_name(&ep.profile);
    let envelope = profile.envelope(delivery)?;
    let body = match &ep.template {
        Some(text) => Template::parse(text)
            .map_err(|e| format!("invalid template: {e}"))?
            .render(&envelope, body_limit)?
            .into_bytes(),
        None => envelope,
    };
    let own = profile.headers(delivery, &body);
    let endpoint: Vec<(String, String)> =
        ep.headers.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
    let headers = profile.merge_headers(HeaderLayers {
        base,
        server: server_headers,
        endpoint: &endpoint,
        profile: own,
    });
    Ok(Rendered { headers, body })
}

/// Fills profile settings the user left out with defaults that need the application: a
/// Misskey user webhook's `userId` defaults to the application's uid (or id).
pub fn fill_defaults(endpoint: &mut Endpoint, app_uid: &str) {
    let config = &mut endpoint.profile_config;
    let system = config.get("system").and_then(|v| v.as_bool()).unwrap_or(false);
    if endpoint.profile == "misskey" && !system && !config.contains_key("userId") {
        config.insert("userId".into(), app_uid.into());
    }
}

/// Whether `status` is final for this endpoint: its `profileConfig.finalStatuses` list if it
/// has one (an empty list retries everything), else its profile's rule.
pub fn is_final_status(endpoint: &Endpoint, status: u16) -> bool {
    match endpoint.profile_config.get("finalStatuses").and_then(|v| v.as_array()) {
        Some(list) => list.iter().any(|s| s.as_u64() == Some(u64::from(status))),
        None => by_name(&endpoint.profile).is_final_status(status),
    }
}

/// A string setting of `profileConfig`: absent or `null` is `None`, another type an error.
fn config_str<'a>(endpoint: &'a Endpoint, key: &str) -> Result<Option<&'a str>, String> {
    match endpoint.profile_config.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("profileConfig.{key} must be a string")),
    }
}

/// Shared fixtures for the profiles' tests.
#[cfg(test)]
mod fixtures {
    use crate::model::{Endpoint, Message};

    /// An endpoint of `profile` with the given `profileConfig` (a JSON object).
    pub fn endpoint(profile: &str, config: serde_json::Value, secret: &str) -> Endpoint {
        Endpoint {
            url: "https://receiver.example/hook".into(),
            secret: secret.into(),
            profile: profile.into(),
            profile_config: config.as_object().cloned().unwrap_or_default(),
            ..Endpoint::blank("ep_1".into(), "app_1".into(), 0)
        }
    }

    pub fn message(event_type: &str, payload: &str, created_at: i64) -> Message {
        Message {
            id: "msg_1".into(),
            app_id: "app_1".into(),
            event_type: event_type.into(),
            event_id: None,
            channels: None,
            tags: None,
            payload: payload.into(),
            ordering_key: None,
            created_at,
        }
    }

    /// hookd's base layer, as the dispatcher passes it.
    pub fn base() -> Vec<(String, String)> {
        vec![
            ("Content-Type".into(), "application/json".into()),
            ("User-Agent".into(), "hookd/test".into()),
        ]
    }

    /// The value of header `name` (any case); panics if it is absent.
    pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        let found = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
        &found.unwrap_or_else(|| panic!("no {name} header in {headers:?}")).1
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{base, endpoint, message};
    use super::*;

    /// The deepest payload ingestion accepts still renders through every profile, with and
    /// without a template over its envelope (which adds a level).
    #[test]
    fn the_deepest_accepted_payload_renders_everywhere() {
        let depth = crate::validate::MAX_JSON_DEPTH;
        let payload = format!("{}{}", "{\"a\":".repeat(depth - 1) + "{", "}".repeat(depth));
        assert!(crate::validate::json_depth("payload", &payload).is_ok());
        let msg = message("account.created", &payload, 1_700_000_000_000);
        for name in NAMES {
            let config = serde_json::json!({"server": "https://misskey.example"});
            for template in [None, Some("{\"t\":\"{{event}}\"}")] {
                let mut ep =
                    endpoint(name, config.clone(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
                ep.template = template.map(str::to_owned);
                let delivery = Delivery { message: &msg, endpoint: &ep, now_ms: 1_700_000_000_000 };
                let rendered = render(&delivery, base(), &[], 1 << 20);
                assert!(rendered.is_ok(), "{name} {template:?}: {:?}", rendered.err());
            }
        }
    }
}
