//! `/api/v1/app/{app_id}/endpoint`: endpoints, their secrets and their custom headers.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::applications::resolve;
use super::extract::{JsonBody, ListResponse, QueryParams, nullable};
use crate::error::{ApiError, ApiResult};
use crate::model::time::{format_rfc3339, now_ms};
use crate::model::{Application, Endpoint, Metadata, ids};
use crate::profile;
use crate::template::Template;
use crate::validate;

pub fn routes() -> Router<ApiState> {
    let ep = "/api/v1/app/{app_id}/endpoint/{endpoint_id}";
    Router::new()
        .route("/api/v1/app/{app_id}/endpoint", get(list).post(create))
        .route(ep, get(read).put(replace).patch(patch).delete(remove))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EndpointIn {
    url: String,
    #[serde(default)]
    description: String,
    uid: Option<String>,
    version: Option<i32>,
    #[serde(default)]
    disabled: bool,
    #[serde(alias = "filterTypes")]
    event_types: Option<Vec<String>>,
    channels: Option<Vec<String>>,
    #[serde(alias = "rateLimit")]
    throttle_rate: Option<u32>,
    #[serde(default)]
    metadata: Metadata,
    secret: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    /// hookd's addition: the wire contract (`standard`, `svix`, …).
    profile: Option<String>,
    profile_config: Option<serde_json::Map<String, serde_json::Value>>,
    /// hookd's addition: a payload template (see docs/profiles.md).
    template: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EndpointPatch {
    url: Option<String>,
    description: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    uid: Option<Option<String>>,
    version: Option<i32>,
    disabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable", alias = "filterTypes")]
    event_types: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    channels: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable", alias = "rateLimit")]
    throttle_rate: Option<Option<u32>>,
    metadata: Option<Metadata>,
    profile: Option<String>,
    profile_config: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, deserialize_with = "nullable")]
    template: Option<Option<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointOut {
    id: String,
    url: String,
    description: String,
    uid: Option<String>,
    version: i32,
    disabled: bool,
    event_types: Option<Vec<String>>,
    filter_types: Option<Vec<String>>,
    channels: Option<Vec<String>>,
    throttle_rate: Option<u32>,
    rate_limit: Option<u32>,
    metadata: Metadata,
    profile: String,
    profile_config: serde_json::Map<String, serde_json::Value>,
    template: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<Endpoint> for EndpointOut {
    fn from(e: Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url,
            description: e.description,
            uid: e.uid,
            version: e.version,
            disabled: e.disabled,
            event_types: e.filter_types.clone(),
            filter_types: e.filter_types,
            channels: e.channels,
            throttle_rate: e.throttle_rate,
            rate_limit: e.throttle_rate,
            metadata: e.metadata,
            profile: e.profile,
            profile_config: e.profile_config,
            template: e.template,
            created_at: format_rfc3339(e.created_at),
            updated_at: format_rfc3339(e.updated_at),
        }
    }
}

impl EndpointIn {
    /// Validates and applies the input over `ep`; `new` when `ep` is a blank new endpoint.
    fn apply(self, mut ep: Endpoint, app: &Application, new: bool) -> ApiResult<Endpoint> {
        self.validate_fields()?;
        apply_profile_and_secret(&mut ep, self.profile, self.secret, new)?;
        ep.template = checked_template(self.template)?;
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
        ep.metadata = self.metadata;
        if let Some(config) = self.profile_config {
            ep.profile_config = config;
        }
        profile::fill_defaults(&mut ep, app.uid.as_deref().unwrap_or(&app.id));
        ep.updated_at = now_ms();
        Ok(ep)
    }

    fn validate_fields(&self) -> ApiResult<()> {
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

/// Sets the profile, then the secret by that profile's rules: the given one, or a new one
/// for a new endpoint or when the old secret does not suit the new profile.
fn apply_profile_and_secret(
    ep: &mut Endpoint,
    profile_name: Option<String>,
    secret: Option<String>,
    new: bool,
) -> ApiResult<()> {
    if let Some(name) = profile_name {
        if !profile::NAMES.contains(&name.as_str()) {
            let names = profile::NAMES.join(", ");
            return Err(ApiError::invalid_field(
                "profile",
                format!("profile must be one of {names}"),
            ));
        }
        ep.profile = name;
    }
    let chosen = profile::by_name(&ep.profile);
    match secret {
        Some(secret) => {
            chosen.validate_secret(&secret).map_err(|e| ApiError::invalid_field("secret", e))?;
            ep.secret = secret;
        }
        None if new || chosen.validate_secret(&ep.secret).is_err() => {
            ep.secret = chosen.generate_secret()
        }
        None => {}
    }
    Ok(())
}

/// A template that parses, or none; as in Mastodon, a blank template means none.
fn checked_template(template: Option<String>) -> ApiResult<Option<String>> {
    let template = template.filter(|t| !t.trim().is_empty());
    if let Some(text) = &template {
        Template::parse(text).map_err(|e| ApiError::invalid_field("template", e))?;
    }
    Ok(template)
}

fn validate_url(url: &str) -> ApiResult<()> {
    let uri: axum::http::Uri =
        url.parse().map_err(|_| ApiError::invalid_field("url", "url is not a valid URL"))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) || url.len() > 2048 {
        return Err(ApiError::invalid_field(
            "url",
            "url must be an absolute http(s) URL of at most 2048 characters",
        ));
    }
    Ok(())
}

/// Names hookd sets itself; letting users override them would break signing or HTTP framing.
const RESERVED_HEADERS: &[&str] = &["host", "content-length", "transfer-encoding", "connection"];

pub(super) fn validate_headers(headers: &BTreeMap<String, String>) -> ApiResult<()> {
    if headers.len() > 64 {
        return Err(ApiError::invalid_field("headers", "at most 64 custom headers"));
    }
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        let valid = axum::http::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && axum::http::HeaderValue::from_str(value).is_ok();
        let reserved = RESERVED_HEADERS.contains(&lower.as_str())
            || lower.starts_with("webhook-")
            || lower.starts_with("svix-");
        if !valid || reserved {
            return Err(ApiError::invalid_field(
                "headers",
                format!("header {name:?} is not allowed"),
            ));
        }
    }
    Ok(())
}

fn blank_endpoint(app_id: &str) -> Endpoint {
    Endpoint::blank(ids::new_id(ids::ENDPOINT), app_id.to_owned(), now_ms())
}

/// Resolves `{app_id}` and `{endpoint_id}` (ids or uids) to the endpoint, or 404.
pub(super) async fn endpoint_of(
    s: &ApiState,
    app_id: &str,
    endpoint_id: &str,
) -> ApiResult<Endpoint> {
    Ok(app_and_endpoint(s, app_id, endpoint_id).await?.1)
}

async fn app_and_endpoint(
    s: &ApiState,
    app_id: &str,
    endpoint_id: &str,
) -> ApiResult<(Application, Endpoint)> {
    let app = resolve(s, app_id).await?;
    let endpoint = s.store.get_endpoint(&app.id, endpoint_id).await?;
    Ok((app, endpoint))
}

async fn list(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<ListResponse<EndpointOut>>> {
    let app = resolve(&s, &app_id).await?;
    let page = s.store.list_endpoints(&app.id, q.page()?).await?;
    Ok(Json(ListResponse::from_page(page, |e| e.id.clone(), EndpointOut::from)))
}

async fn create(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
    JsonBody(input): JsonBody<EndpointIn>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    let app = resolve(&s, &app_id).await?;
    let endpoint =
        s.store.insert_endpoint(input.apply(blank_endpoint(&app.id), &app, true)?).await?;
    Ok((StatusCode::CREATED, Json(endpoint.into())))
}

async fn read(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointOut>> {
    Ok(Json(endpoint_of(&s, &app_id, &endpoint_id).await?.into()))
}

async fn replace(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<EndpointIn>,
) -> ApiResult<Json<EndpointOut>> {
    let (app, current) = app_and_endpoint(&s, &app_id, &endpoint_id).await?;
    let read_at = current.updated_at;
    Ok(Json(s.store.update_endpoint(input.apply(current, &app, false)?, read_at).await?.into()))
}

async fn patch(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(p): JsonBody<EndpointPatch>,
) -> ApiResult<Json<EndpointOut>> {
    let (app, current) = app_and_endpoint(&s, &app_id, &endpoint_id).await?;
    let merged = EndpointIn {
        url: p.url.unwrap_or_else(|| current.url.clone()),
        description: p.description.unwrap_or_else(|| current.description.clone()),
        uid: p.uid.unwrap_or_else(|| current.uid.clone()),
        version: p.version,
        disabled: p.disabled.unwrap_or(current.disabled),
        event_types: p.event_types.unwrap_or_else(|| current.filter_types.clone()),
        channels: p.channels.unwrap_or_else(|| current.channels.clone()),
        throttle_rate: p.throttle_rate.unwrap_or(current.throttle_rate),
        metadata: p.metadata.unwrap_or_else(|| current.metadata.clone()),
        secret: None,
        headers: None,
        profile: p.profile,
        profile_config: p.profile_config,
        template: p.template.unwrap_or_else(|| current.template.clone()),
    };
    let read_at = current.updated_at;
    Ok(Json(s.store.update_endpoint(merged.apply(current, &app, false)?, read_at).await?.into()))
}

async fn remove(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let endpoint = endpoint_of(&s, &app_id, &endpoint_id).await?;
    s.store.delete_endpoint(&endpoint.app_id, &endpoint.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
