//! The domain: applications, event types, endpoints, messages, deliveries and attempts.
//! Plain data with the few rules that belong to it; nothing here knows HTTP or SQL.

pub mod delivery;
pub mod filter;
pub mod ids;
pub mod task;
pub mod time;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Free-form string pairs a user attaches to an application or endpoint.
pub type Metadata = BTreeMap<String, String>;

/// A tenant: the source of messages and the owner of endpoints (Svix's "application").
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub id: String,
    /// The user's own key for the application; the API accepts it wherever it takes the id.
    pub uid: Option<String>,
    pub name: String,
    pub rate_limit: Option<u32>,
    pub metadata: Metadata,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An entry of the event-type catalogue. Global, like Svix's; it serves filters, docs and the
/// UI, while messages of unknown types are still accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct EventType {
    pub name: String,
    pub description: String,
    /// Archived types are hidden from lists by default; delete archives unless told to expunge.
    pub archived: bool,
    pub deprecated: bool,
    pub schemas: Option<serde_json::Value>,
    pub feature_flag: Option<String>,
    pub group_name: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A secret that still signs until `expires_at`, after a rotation.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiringSecret {
    pub secret: String,
    pub expires_at: i64,
}

/// Where one application's messages go, and how they are signed.
#[derive(Clone, PartialEq)]
pub struct Endpoint {
    pub id: String,
    pub app_id: String,
    pub uid: Option<String>,
    pub url: String,
    pub description: String,
    pub version: i32,
    pub disabled: bool,
    /// `None` receives every event type; `Some` only those listed.
    pub filter_types: Option<Vec<String>>,
    /// `None` receives messages on any channel; `Some` only messages sharing one of them.
    pub channels: Option<Vec<String>>,
    /// Messages per second this endpoint may receive; `None` is unlimited.
    pub throttle_rate: Option<u32>,
    pub metadata: Metadata,
    /// Extra headers sent with every request to this endpoint.
    pub headers: BTreeMap<String, String>,
    /// The signing secret (`whsec_…` for the standard profile).
    pub secret: String,
    /// Rotated-out secrets that keep signing during their grace period.
    pub previous_secrets: Vec<ExpiringSecret>,
    /// When the current run of failures started; `None` while healthy.
    pub failing_since: Option<i64>,
    /// The wire contract requests follow: `standard`, `svix`, … (see `profile`).
    pub profile: String,
    /// The profile's own settings (e.g. Misskey's server origin).
    pub profile_config: serde_json::Map<String, serde_json::Value>,
    /// A payload template (Mastodon's `{{path}}` language) that replaces the body.
    pub template: Option<String>,
    /// A payload filter (see [`filter`]): only messages it matches get a delivery.
    pub filter: Option<serde_json::Value>,
    /// When a message with an ordering key fails for good: hold back the key's later
    /// messages until it is resent (true), or go on with the next (false, the default).
    pub hold_key_on_failure: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Secrets stay out of logs: `Debug` shows that they are set, never their value.
impl std::fmt::Debug for ExpiringSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExpiringSecret")
            .field("secret", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Secrets and header values (which often carry credentials) stay out of logs.
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("app_id", &self.app_id)
            .field("uid", &self.uid)
            .field("url", &self.url)
            .field("disabled", &self.disabled)
            .field("filter_types", &self.filter_types)
            .field("channels", &self.channels)
            .field("throttle_rate", &self.throttle_rate)
            .field("header_names", &self.headers.keys().collect::<Vec<_>>())
            .field("secret", &"<redacted>")
            .field("previous_secrets", &self.previous_secrets.len())
            .field("failing_since", &self.failing_since)
            .field("profile", &self.profile)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint with every setting at its default (standard profile, no secret yet, no
    /// filters), for callers to fill in.
    pub fn blank(id: String, app_id: String, now: i64) -> Self {
        Self {
            id,
            app_id,
            uid: None,
            url: String::new(),
            description: String::new(),
            version: 1,
            disabled: false,
            filter_types: None,
            channels: None,
            throttle_rate: None,
            metadata: Metadata::new(),
            headers: BTreeMap::new(),
            secret: String::new(),
            previous_secrets: Vec::new(),
            failing_since: None,
            profile: "standard".into(),
            profile_config: serde_json::Map::new(),
            template: None,
            filter: None,
            hold_key_on_failure: false,
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether a message of this type on these channels is for this endpoint.
    pub fn subscribes_to(&self, event_type: &str, channels: Option<&[String]>) -> bool {
        !self.disabled
            && subscription_matches(
                self.filter_types.as_deref(),
                self.channels.as_deref(),
                event_type,
                channels,
            )
    }

    /// The secrets that sign a request at `now`: the current one first, then those still in
    /// their grace period.
    pub fn signing_secrets(&self, now: i64) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        secrets.extend(
            self.previous_secrets.iter().filter(|s| s.expires_at > now).map(|s| s.secret.as_str()),
        );
        secrets
    }
}

/// The fan-out rule, on the two fields it needs, so the store can apply it to partial rows.
pub fn subscription_matches(
    filter_types: Option<&[String]>,
    endpoint_channels: Option<&[String]>,
    event_type: &str,
    message_channels: Option<&[String]>,
) -> bool {
    let type_ok = filter_types.is_none_or(|types| types.iter().any(|t| t == event_type));
    let channel_ok = endpoint_channels.is_none_or(|wanted| {
        message_channels.is_some_and(|have| have.iter().any(|c| wanted.contains(c)))
    });
    type_ok && channel_ok
}

/// An accepted event. `payload` is the JSON text exactly as the sender gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub app_id: String,
    pub event_type: String,
    pub event_id: Option<String>,
    pub channels: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub payload: String,
    /// Messages of an application with the same key reach each endpoint one at a time, in
    /// the order they were accepted (see `model::delivery`).
    pub ordering_key: Option<String>,
    pub created_at: i64,
}

/// The stored state of a delivery that failed for good and holds back the later messages
/// of its ordering key (its endpoint holds keys on failure); it reads as failed.
pub const HELD: i64 = 5;

/// The state of one message to one endpoint. The numbers are Svix's `MessageStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Success = 0,
    Pending = 1,
    Failed = 2,
    Sending = 3,
}

impl DeliveryStatus {
    pub fn from_code(code: i64) -> Self {
        match code {
            0 => Self::Success,
            2 | HELD => Self::Failed,
            3 => Self::Sending,
            _ => Self::Pending,
        }
    }
}

/// Why an attempt was made. The numbers are Svix's `MessageAttemptTriggerType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerType {
    Scheduled = 0,
    Manual = 1,
}

/// One HTTP request made for a delivery, and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub id: String,
    pub msg_id: String,
    pub endpoint_id: String,
    pub url: String,
    /// The response body (truncated), or the network error in words.
    pub response: String,
    /// The HTTP status, or 0 when no response came (timeout, refused, refused by the guard).
    pub response_status_code: i32,
    pub response_duration_ms: i64,
    pub status: DeliveryStatus,
    pub trigger_type: TriggerType,
    pub created_at: i64,
}

/// A message's state towards one endpoint, as the API's "destinations" show it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryState {
    pub msg_id: String,
    pub endpoint_id: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
}

/// A signed-in browser (the operator's console, or one application's portal), or a portal
/// token. The cookie or the token holds a random secret; the store keeps only its hash, so a
/// copy of the database opens nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The hash of the secret, by kind (see `security::credentials::stored_id`).
    pub id: String,
    /// `None` for the operator; else the one application this session may see.
    pub app_id: Option<String>,
    /// A read-only session changes nothing.
    pub read_only: bool,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The dashboard's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overview {
    /// Messages accepted since the time asked for.
    pub messages: u64,
    /// Successful attempts since then (one per delivered message and endpoint, plus resends).
    pub succeeded: u64,
    /// Deliveries that failed for good since then.
    pub failed: u64,
    /// Deliveries waiting to be sent, or being sent, now.
    pub pending: u64,
}

/// An endpoint's recent delivery figures: attempts per hour by outcome, and what is waiting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointStats {
    /// Hours with attempts, oldest first; hours without any are left out.
    pub hourly: Vec<HourCount>,
    /// Deliveries waiting for their next attempt now.
    pub pending: u64,
    /// Deliveries being sent now.
    pub sending: u64,
}

/// Attempts in the hour starting at `start` (ms).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HourCount {
    pub start: i64,
    pub success: u64,
    pub fail: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn debug_output_keeps_secrets_out() {
        let secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0";
        let endpoint = Endpoint {
            headers: [("Authorization".to_owned(), "Bearer hunter2".to_owned())].into(),
            secret: secret.into(),
            previous_secrets: vec![ExpiringSecret { secret: secret.into(), expires_at: 1 }],
            ..Endpoint::blank("ep_1".into(), "app_1".into(), 0)
        };
        let shown = format!("{endpoint:?} {:?}", endpoint.previous_secrets);
        assert!(!shown.contains(secret) && !shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("Authorization"));
    }

    #[test]
    fn fan_out_rule() {
        let types = strings(&["user.created"]);
        let chans = strings(&["eu"]);
        assert!(subscription_matches(None, None, "x", None));
        assert!(subscription_matches(Some(&types), None, "user.created", None));
        assert!(!subscription_matches(Some(&types), None, "user.deleted", None));
        assert!(!subscription_matches(None, Some(&chans), "x", None));
        assert!(subscription_matches(None, Some(&chans), "x", Some(&strings(&["us", "eu"]))));
        assert!(!subscription_matches(None, Some(&chans), "x", Some(&strings(&["us"]))));
    }
}
