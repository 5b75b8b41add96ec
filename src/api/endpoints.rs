//! `/api/v1/app/{app_id}/endpoint`: endpoints, their secrets and their custom headers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::applications::resolve;
use super::extract::{JsonBody, ListResponse, QueryParams, nullable};
use super::openapi::{AppPath, EndpointPath, ListParams};
use crate::error::ApiResult;
use crate::manage::endpoints::{self, EndpointSpec, OrderingOnFailure};
use crate::model::time::format_rfc3339;
use crate::model::{Application, Endpoint, Metadata};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(read, replace, patch, remove))
}

#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
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
    #[schema(value_type = Option<Object>)]
    profile_config: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, deserialize_with = "nullable")]
    template: Option<Option<String>>,
    /// `null` removes the filter.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    filter: Option<Option<serde_json::Value>>,
    ordering_on_failure: Option<OrderingOnFailure>,
}

#[derive(utoipa::ToSchema, Serialize)]
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
    #[schema(value_type = Object)]
    profile_config: serde_json::Map<String, serde_json::Value>,
    template: Option<String>,
    #[schema(value_type = Option<Object>)]
    filter: Option<serde_json::Value>,
    ordering_on_failure: OrderingOnFailure,
    created_at: String,
    updated_at: String,
}

impl From<Endpoint> for EndpointOut {
    fn from(e: Endpoint) -> Self {
        Self {
            ordering_on_failure: OrderingOnFailure::of(&e),
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
            filter: e.filter,
            created_at: format_rfc3339(e.created_at),
            updated_at: format_rfc3339(e.updated_at),
        }
    }
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

#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint", tag = TAG, params(AppPath, ListParams),
    responses((status = 200, body = ListResponse<EndpointOut>)))]
async fn list(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<ListResponse<EndpointOut>>> {
    let app = resolve(&s, &app_id).await?;
    let page = s.store.list_endpoints(&app.id, q.page()?).await?;
    Ok(Json(ListResponse::from_page(page, |e| e.id.clone(), EndpointOut::from)))
}

#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint", tag = TAG, params(AppPath), request_body = EndpointSpec,
    responses((status = 201, body = EndpointOut)))]
async fn create(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
    JsonBody(spec): JsonBody<EndpointSpec>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    let app = resolve(&s, &app_id).await?;
    let endpoint = endpoints::create(s.store.as_ref(), &s.events, &app, spec).await?;
    Ok((StatusCode::CREATED, Json(endpoint.into())))
}

#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = TAG, params(EndpointPath),
    responses((status = 200, body = EndpointOut)))]
async fn read(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointOut>> {
    Ok(Json(endpoint_of(&s, &app_id, &endpoint_id).await?.into()))
}

#[utoipa::path(put, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = TAG, params(EndpointPath), request_body = EndpointSpec,
    responses((status = 200, body = EndpointOut)))]
async fn replace(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(spec): JsonBody<EndpointSpec>,
) -> ApiResult<Json<EndpointOut>> {
    let (app, current) = app_and_endpoint(&s, &app_id, &endpoint_id).await?;
    Ok(Json(endpoints::update(s.store.as_ref(), &s.events, &app, current, spec).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = TAG, params(EndpointPath), request_body = EndpointPatch,
    responses((status = 200, body = EndpointOut)))]
async fn patch(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(p): JsonBody<EndpointPatch>,
) -> ApiResult<Json<EndpointOut>> {
    let (app, current) = app_and_endpoint(&s, &app_id, &endpoint_id).await?;
    let mut spec = EndpointSpec::of(&current);
    spec.url = p.url.unwrap_or(spec.url);
    spec.description = p.description.unwrap_or(spec.description);
    spec.uid = p.uid.unwrap_or(spec.uid);
    spec.version = p.version;
    spec.disabled = p.disabled.unwrap_or(spec.disabled);
    spec.event_types = p.event_types.unwrap_or(spec.event_types);
    spec.channels = p.channels.unwrap_or(spec.channels);
    spec.throttle_rate = p.throttle_rate.unwrap_or(spec.throttle_rate);
    spec.metadata = p.metadata.unwrap_or(spec.metadata);
    spec.template = p.template.unwrap_or(spec.template);
    spec.filter = p.filter.unwrap_or(spec.filter);
    spec.ordering_on_failure = p.ordering_on_failure.unwrap_or(spec.ordering_on_failure);
    (spec.profile, spec.profile_config) = (p.profile, p.profile_config);
    Ok(Json(endpoints::update(s.store.as_ref(), &s.events, &app, current, spec).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = TAG, params(EndpointPath),
    responses((status = 204, description = "deleted")))]
async fn remove(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let endpoint = endpoint_of(&s, &app_id, &endpoint_id).await?;
    endpoints::delete(s.store.as_ref(), &s.events, &endpoint).await?;
    Ok(StatusCode::NO_CONTENT)
}

const TAG: &str = "Endpoint";
