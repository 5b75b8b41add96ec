//! Endpoints: what a valid one is, how its profile chooses its secret, how a secret rotates,
//! and switching one off and on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, DomainResult};
use crate::model::time::now_ms;
use crate::model::{Application, Endpoint, ExpiringSecret, Metadata, filter, ids};
use crate::operational::{Events, OpEvent};
use crate::profile;
use crate::store::Store;
use crate::template::Template;
use crate::validate;

/// An endpoint as a user describes it (Svix's `EndpointIn`, with hookd's profile and template).
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = EndpointIn)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndpointSpec {
    pub url: String,
    #[serde(default)]
    pub description: String,
    pub uid: Option<String>,
    pub version: Option<i32>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(alias = "filterTypes")]
    pub event_types: Option<Vec<String>>,
    pub channels: Option<Vec<String>>,
    #[serde(alias = "rateLimit")]
    pub throttle_rate: Option<u32>,
    #[serde(default)]
    pub metadata: Metadata,
    pub secret: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    /// hookd's addition: the wire contract (`standard`, `svix`, …).
    pub profile: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub profile_config: Option<serde_json::Map<String, serde_json::Value>>,
    /// hookd's addition: a payload template (see docs/profiles.md).
    pub template: Option<String>,
    /// hookd's addition: a payload filter (see docs/api.md, "Payload filters").
    #[schema(value_type = Option<Object>)]
    pub filter: Option<serde_json::Value>,
    /// hookd's addition: what follows when a message with an `orderingKey` fails for good.
    #[serde(default)]
    pub ordering_on_failure: OrderingOnFailure,
}

/// What an endpoint does when a message with an ordering key fails for good (docs/api.md,
/// "Ordering keys"): go on with the key's next message, or hold them until it is resent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrderingOnFailure {
    #[default]
    Skip,
    Hold,
}

impl OrderingOnFailure {
    pub fn of(ep: &Endpoint) -> Self {
        if ep.hold_key_on_failure { Self::Hold } else { Self::Skip }
    }
}

impl EndpointSpec {
    /// The spec that describes `ep` as it is (secret and headers left as they are), for a
    /// partial update to start from.
    pub fn of(ep: &Endpoint) -> Self {
        Self {
            url: ep.url.clone(),
            description: ep.description.clone(),
            uid: ep.uid.clone(),
            version: Some(ep.version),
            disabled: ep.disabled,
            event_types: ep.filter_types.clone(),
            channels: ep.channels.clone(),
            throttle_rate: ep.throttle_rate,
            metadata: ep.metadata.clone(),
            secret: None,
            headers: None,
            profile: None,
            profile_config: None,
            template: ep.template.clone(),
            filter: ep.filter.clone(),
            ordering_on_failure: OrderingOnFailure::of(ep),
        }
    }

    /// Validates the spec and applies it over `ep`; `new` when `ep` is a [`blank`] one.
    pub fn apply(self, mut ep: Endpoint, app: &Application, new: bool) -> DomainResult<Endpoint> {
        self.validate_fields()?;
        apply_profile_and_secret(&mut ep, self.profile, self.secret, new)?;
        ep.template = checked_template(self.template)?;
        if let Some(filter) = &self.filter {
            filter::validate(filter).map_err(|e| DomainError::invalid("filter", e))?;
        }
        ep.filter = self.filter;
        if let Some(headers) = self.headers {
            validate_headers(&headers)?;
            ep.headers = headers;
        }
        ep.url = self.url;
        ep.description = self.description;
        ep.uid = self.uid;
        ep.version = self.version.unwrap_or(ep.version);
        if ep.disabled && !self.disabled {
            ep.failing_since = None; // re-enabled: its health starts afresh
        }
        ep.disabled = self.disabled;
        ep.filter_types = self.event_types;
        ep.channels = self.channels;
        ep.throttle_rate = self.throttle_rate;
        ep.hold_key_on_failure = self.ordering_on_failure == OrderingOnFailure::Hold;
        ep.metadata = self.metadata;
        if let Some(config) = self.profile_config {
            ep.profile_config = config;
        }
        profile::fill_defaults(&mut ep, app.uid.as_deref().unwrap_or(&app.id));
        ep.updated_at = now_ms();
        Ok(ep)
    }

    fn validate_fields(&self) -> DomainResult<()> {
        validate_url(&self.url)?;
        validate::text("description", &self.description, 0, 4096)?;
        if let Some(uid) = &self.uid {
            validate::key("uid", uid)?;
        }
        validate::keys("eventTypes", self.event_types.as_deref(), 256)?;
        validate::keys("channels", self.channels.as_deref(), 10)?;
        validate::rate("throttleRate", self.throttle_rate)?;
        validate::metadata(&self.metadata)
    }
}

/// A new endpoint of the application with a fresh id, to apply a spec over.
pub fn blank(app_id: &str) -> Endpoint {
    Endpoint::blank(ids::new_id(ids::ENDPOINT), app_id.to_owned(), now_ms())
}

/// Creates an endpoint of `app` from `spec`.
pub async fn create(
    store: &dyn Store,
    events: &Events,
    app: &Application,
    spec: EndpointSpec,
) -> DomainResult<Endpoint> {
    let ep = store.insert_endpoint(spec.apply(blank(&app.id), app, true)?).await?;
    events.report(OpEvent::EndpointCreated {
        app_id: app.id.clone(),
        endpoint_id: ep.id.clone(),
        endpoint_uid: ep.uid.clone(),
    });
    Ok(ep)
}

/// Replaces `current` by `spec`, unless the endpoint changed since `current` was read.
pub async fn update(
    store: &dyn Store,
    events: &Events,
    app: &Application,
    current: Endpoint,
    spec: EndpointSpec,
) -> DomainResult<Endpoint> {
    let (read_at, was_disabled) = (current.updated_at, current.disabled);
    let ep = store.update_endpoint(spec.apply(current, app, false)?, read_at).await?;
    let (app_id, endpoint_id, endpoint_uid) = (app.id.clone(), ep.id.clone(), ep.uid.clone());
    events.report(OpEvent::EndpointUpdated {
        app_id: app_id.clone(),
        endpoint_id: endpoint_id.clone(),
        endpoint_uid: endpoint_uid.clone(),
    });
    match (was_disabled, ep.disabled) {
        (true, false) => {
            events.report(OpEvent::EndpointEnabled { app_id, endpoint_id, endpoint_uid })
        }
        (false, true) => events.report(OpEvent::EndpointDisabled {
            app_id,
            endpoint_id,
            manual: true,
            gone: false,
        }),
        _ => {}
    }
    Ok(ep)
}

/// Switches the endpoint on or off; switching it on starts its health afresh.
pub async fn set_enabled(
    store: &dyn Store,
    events: &Events,
    app: &Application,
    current: Endpoint,
    enabled: bool,
) -> DomainResult<Endpoint> {
    let mut spec = EndpointSpec::of(&current);
    spec.disabled = !enabled;
    update(store, events, app, current, spec).await
}

/// Deletes the endpoint (its deliveries still in flight are dropped as they finish).
pub async fn delete(store: &dyn Store, events: &Events, ep: &Endpoint) -> DomainResult<()> {
    store.delete_endpoint(&ep.app_id, &ep.id).await?;
    events.report(OpEvent::EndpointDeleted {
        app_id: ep.app_id.clone(),
        endpoint_id: ep.id.clone(),
        endpoint_uid: ep.uid.clone(),
    });
    Ok(())
}

/// Rotated-out secrets kept signing at once, at most: each adds a signature to every request.
pub const MAX_PREVIOUS_SECRETS: usize = 5;
/// The longest a rotated-out secret keeps signing.
pub const MAX_ROTATION_GRACE_MS: i64 = 7 * 24 * 3600 * 1000;

/// Makes `key` (or a new secret) current; the old one keeps signing for `grace_ms`.
/// Returns the new secret.
pub async fn rotate_secret(
    store: &dyn Store,
    mut ep: Endpoint,
    key: Option<String>,
    grace_ms: i64,
) -> DomainResult<String> {
    let chosen = profile::by_name(&ep.profile);
    let new = match key.map(|k| requested(chosen, k)) {
        Some(key) => chosen
            .validate_secret(&key)
            .map(|()| key)
            .map_err(|e| DomainError::invalid("key", e))?,
        None => chosen.generate_secret(),
    };
    if grace_ms > MAX_ROTATION_GRACE_MS {
        let most = MAX_ROTATION_GRACE_MS / 1000;
        let why = format!("gracePeriodSeconds must be at most {most} (7 days)");
        return Err(DomainError::invalid("gracePeriodSeconds", why));
    }
    let (now, read_at) = (now_ms(), ep.updated_at);
    let old = std::mem::replace(&mut ep.secret, new.clone());
    ep.previous_secrets.retain(|p| p.expires_at > now);
    ep.previous_secrets.push(ExpiringSecret { secret: old, expires_at: now + grace_ms });
    // Every one of them signs each delivery: keep the newest few, as Svix does.
    let excess = ep.previous_secrets.len().saturating_sub(MAX_PREVIOUS_SECRETS);
    ep.previous_secrets.drain(..excess);
    ep.updated_at = now;
    store.update_endpoint(ep, read_at).await?;
    Ok(new)
}

/// Replaces the endpoint's custom headers.
pub async fn save_headers(
    store: &dyn Store,
    mut ep: Endpoint,
    headers: BTreeMap<String, String>,
) -> DomainResult<()> {
    validate_headers(&headers)?;
    let read_at = ep.updated_at;
    ep.headers = headers;
    ep.updated_at = now_ms();
    store.update_endpoint(ep, read_at).await?;
    Ok(())
}

/// Sets the profile, then the secret by that profile's rules: the given one, or a new one
/// for a new endpoint or when the old secret does not suit the new profile.
fn apply_profile_and_secret(
    ep: &mut Endpoint,
    profile_name: Option<String>,
    secret: Option<String>,
    new: bool,
) -> DomainResult<()> {
    if let Some(name) = profile_name {
        if !profile::NAMES.contains(&name.as_str()) {
            let names = profile::NAMES.join(", ");
            return Err(DomainError::invalid("profile", format!("profile must be one of {names}")));
        }
        ep.profile = name;
    }
    let chosen = profile::by_name(&ep.profile);
    match secret.map(|s| requested(chosen, s)) {
        Some(secret) => {
            chosen.validate_secret(&secret).map_err(|e| DomainError::invalid("secret", e))?;
            ep.secret = secret;
        }
        None if new || chosen.validate_secret(&ep.secret).is_err() => {
            ep.secret = chosen.generate_secret()
        }
        None => {}
    }
    Ok(())
}

/// The secret a user asks for: under the Standard Webhooks profiles, the bare prefix `whsk_`
/// asks for a new ed25519 key (signed `v1a`); other profiles take what is given.
fn requested(chosen: &dyn profile::Profile, secret: String) -> String {
    match chosen.name() {
        "standard" | "svix" => crate::signing::requested(secret),
        _ => secret,
    }
}

/// A template that parses, or none; as in Mastodon, a blank template means none.
fn checked_template(template: Option<String>) -> DomainResult<Option<String>> {
    let template = template.filter(|t| !t.trim().is_empty());
    if let Some(text) = &template {
        Template::parse(text).map_err(|e| DomainError::invalid("template", e))?;
    }
    Ok(template)
}

fn validate_url(url: &str) -> DomainResult<()> {
    let uri: axum::http::Uri =
        url.parse().map_err(|_| DomainError::invalid("url", "url is not a valid URL"))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) || url.len() > 2048 {
        return Err(DomainError::invalid(
            "url",
            "url must be an absolute http(s) URL of at most 2048 characters",
        ));
    }
    let authority = uri.authority().map_or("", |a| a.as_str());
    // `user:pass@` would be stored, shown back and never sent (decision 0005).
    if authority.contains('@') {
        return Err(DomainError::invalid(
            "url",
            "the URL must not carry user:password@; send credentials as a custom header",
        ));
    }
    // A port that does not fit 16 bits still parses as a URL, and went to the default port.
    let after_host = &authority[authority.rfind(']').map_or(0, |i| i + 1)..];
    let port = after_host.rsplit_once(':').map(|(_, port)| port).filter(|p| !p.is_empty());
    if port.is_some_and(|p| p.parse::<u16>().map_or(true, |n| n == 0)) {
        return Err(DomainError::invalid("url", "the URL's port must be 1 to 65535"));
    }
    Ok(())
}

/// Names hookd sets itself; letting users override them would break signing or HTTP framing.
const RESERVED_HEADERS: &[&str] = &["host", "content-length", "transfer-encoding", "connection"];

pub fn validate_headers(headers: &BTreeMap<String, String>) -> DomainResult<()> {
    if headers.len() > 64 {
        return Err(DomainError::invalid("headers", "at most 64 custom headers"));
    }
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        let valid = axum::http::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && axum::http::HeaderValue::from_str(value).is_ok();
        let reserved = RESERVED_HEADERS.contains(&lower.as_str())
            || lower.starts_with("webhook-")
            || lower.starts_with("svix-");
        if !valid || reserved {
            return Err(DomainError::invalid("headers", format!("header {name:?} is not allowed")));
        }
    }
    Ok(())
}
