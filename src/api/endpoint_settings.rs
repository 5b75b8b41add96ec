//! `/api/v1/app/{app_id}/endpoint/{endpoint_id}/…`: an endpoint's secret, custom headers and
//! the recovery of its failed deliveries.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::endpoints::endpoint_of;
use super::extract::{JsonBody, body_time};
use super::openapi::EndpointPath;
use crate::error::ApiResult;
use crate::manage::{endpoints, tasks};
use crate::model::Endpoint;
use crate::model::time::format_rfc3339;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(read_secret))
        .routes(routes!(rotate_secret))
        .routes(routes!(read_headers, replace_headers, patch_headers))
        .routes(routes!(recover))
}

#[derive(utoipa::ToSchema, Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretOut {
    key: String,
    /// hookd's addition, for an ed25519 secret (`whsk_…`): the public key (`whpk_…`) that
    /// receivers verify `v1a` signatures with.
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<String>,
}

impl SecretOut {
    fn of(key: String) -> Self {
        Self { public_key: crate::signing::public_key(&key), key }
    }
}

#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret", tag = TAG, params(EndpointPath),
    responses((status = 200, body = SecretOut)))]
async fn read_secret(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<SecretOut>> {
    Ok(Json(SecretOut::of(endpoint_of(&s, &app_id, &endpoint_id).await?.secret)))
}

#[derive(utoipa::ToSchema, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RotateIn {
    key: Option<String>,
    grace_period_seconds: Option<u32>,
}

/// Makes `key` (or a new secret) current; the old one keeps signing for the grace period.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate", tag = TAG, params(EndpointPath), request_body = RotateIn,
    responses((status = 200, body = SecretOut)))]
async fn rotate_secret(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<RotateIn>,
) -> ApiResult<Json<SecretOut>> {
    let ep = endpoint_of(&s, &app_id, &endpoint_id).await?;
    let grace = input.grace_period_seconds.map_or(s.rotation_grace_ms, |g| i64::from(g) * 1000);
    let key = endpoints::rotate_secret(s.store.as_ref(), ep, input.key, grace).await?;
    Ok(Json(SecretOut::of(key)))
}

#[derive(utoipa::ToSchema, Serialize)]
struct HeadersOut {
    headers: BTreeMap<String, String>,
    sensitive: Vec<String>,
}

#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HeadersIn {
    headers: BTreeMap<String, Option<String>>,
    #[serde(default)]
    delete_headers: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = TAG, params(EndpointPath),
    responses((status = 200, body = HeadersOut)))]
async fn read_headers(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<HeadersOut>> {
    let headers = endpoint_of(&s, &app_id, &endpoint_id).await?.headers;
    Ok(Json(HeadersOut { headers, sensitive: Vec::new() }))
}

#[utoipa::path(put, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = TAG, params(EndpointPath), request_body = HeadersIn,
    responses((status = 204, description = "saved")))]
async fn replace_headers(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<HeadersIn>,
) -> ApiResult<StatusCode> {
    let ep = endpoint_of(&s, &app_id, &endpoint_id).await?;
    save_headers(&s, ep, BTreeMap::new(), input).await
}

/// PATCH merges: a `null` value or a name in `deleteHeaders` removes that header.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = TAG, params(EndpointPath), request_body = HeadersIn,
    responses((status = 204, description = "saved")))]
async fn patch_headers(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<HeadersIn>,
) -> ApiResult<StatusCode> {
    let ep = endpoint_of(&s, &app_id, &endpoint_id).await?;
    let base = ep.headers.clone();
    save_headers(&s, ep, base, input).await
}

/// Applies `input` over `headers`: a `null` value or a name in `deleteHeaders` removes one.
async fn save_headers(
    s: &ApiState,
    ep: Endpoint,
    mut headers: BTreeMap<String, String>,
    input: HeadersIn,
) -> ApiResult<StatusCode> {
    for (name, value) in input.headers {
        match value {
            Some(v) => headers.insert(name, v),
            None => headers.remove(&name),
        };
    }
    input.delete_headers.iter().for_each(|name| drop(headers.remove(name)));
    endpoints::save_headers(s.store.as_ref(), ep, headers).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecoverIn {
    since: String,
    until: Option<String>,
}

/// Svix's `RecoverOut`: the background task, read on with `GET /api/v1/background-task/{id}`.
#[derive(utoipa::ToSchema, Serialize)]
#[serde(rename_all = "camelCase")]
struct RecoverOut {
    id: String,
    #[schema(value_type = String)]
    status: &'static str,
    #[schema(value_type = String)]
    task: &'static str,
    updated_at: String,
}

/// Queues again, in a background task, the endpoint's failed deliveries of messages created
/// since a time (and before `until`).
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/recover", tag = TAG, params(EndpointPath), request_body = RecoverIn,
    responses((status = 202, body = RecoverOut)))]
async fn recover(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<RecoverIn>,
) -> ApiResult<(StatusCode, Json<RecoverOut>)> {
    let ep = endpoint_of(&s, &app_id, &endpoint_id).await?;
    let since = body_time("since", Some(&input.since))?.unwrap_or_default();
    let until = body_time("until", input.until.as_deref())?;
    let task = tasks::recover(s.store.as_ref(), &s.ingest, &ep, since, until).await?;
    let out = RecoverOut {
        id: task.id,
        status: task.status.as_str(),
        task: task.kind.as_str(),
        updated_at: format_rfc3339(task.updated_at),
    };
    Ok((StatusCode::ACCEPTED, Json(out)))
}

const TAG: &str = "Endpoint";
