//! `/api/v1/app`: applications.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::extract::{JsonBody, ListResponse, QueryParams, nullable};
use super::openapi::{AppPath, ListParams};
use crate::error::{ApiError, ApiResult};
use crate::manage::applications::{self, ApplicationSpec};
use crate::model::time::format_rfc3339;
use crate::model::{Application, Metadata};
use crate::store::StoreError;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(read, upsert, patch, remove))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ApplicationPatch {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    uid: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable", alias = "rateLimit")]
    throttle_rate: Option<Option<u32>>,
    metadata: Option<Metadata>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationOut {
    id: String,
    uid: Option<String>,
    name: String,
    throttle_rate: Option<u32>,
    rate_limit: Option<u32>,
    metadata: Metadata,
    created_at: String,
    updated_at: String,
}

impl From<Application> for ApplicationOut {
    fn from(app: Application) -> Self {
        Self {
            id: app.id,
            uid: app.uid,
            name: app.name,
            throttle_rate: app.rate_limit,
            rate_limit: app.rate_limit,
            metadata: app.metadata,
            created_at: format_rfc3339(app.created_at),
            updated_at: format_rfc3339(app.updated_at),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/app", tag = TAG, params(ListParams),
    responses((status = 200, body = ListResponse<ApplicationOut>)))]
async fn list(
    State(s): State<ApiState>,
    q: QueryParams,
) -> ApiResult<Json<ListResponse<ApplicationOut>>> {
    let page = s.store.list_apps(q.page()?).await?;
    Ok(Json(ListResponse::from_page(page, |a| a.id.clone(), ApplicationOut::from)))
}

#[utoipa::path(post, path = "/api/v1/app", tag = TAG, params(GetIfExists), request_body = ApplicationSpec,
    responses((status = 201, body = ApplicationOut), (status = 200, description = "`get_if_exists` found it", body = ApplicationOut)))]
async fn create(
    State(s): State<ApiState>,
    q: QueryParams,
    JsonBody(input): JsonBody<ApplicationSpec>,
) -> ApiResult<(StatusCode, Json<ApplicationOut>)> {
    if q.flag("get_if_exists", false)? {
        if let Some(uid) = &input.uid {
            match s.store.get_app(uid).await {
                Ok(app) => return Ok((StatusCode::OK, Json(app.into()))),
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let app = applications::create(s.store.as_ref(), input).await?;
    Ok((StatusCode::CREATED, Json(app.into())))
}

#[utoipa::path(get, path = "/api/v1/app/{app_id}", tag = TAG, params(AppPath),
    responses((status = 200, body = ApplicationOut)))]
async fn read(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
) -> ApiResult<Json<ApplicationOut>> {
    Ok(Json(s.store.get_app(&app_id).await?.into()))
}

/// PUT replaces the application, or creates it (with the path as its uid) if there is none.
#[utoipa::path(put, path = "/api/v1/app/{app_id}", tag = TAG, params(AppPath), request_body = ApplicationSpec,
    responses((status = 200, body = ApplicationOut), (status = 201, description = "created", body = ApplicationOut)))]
async fn upsert(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
    JsonBody(input): JsonBody<ApplicationSpec>,
) -> ApiResult<(StatusCode, Json<ApplicationOut>)> {
    let (app, created) = applications::upsert(s.store.as_ref(), &app_id, input).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(app.into())))
}

#[utoipa::path(patch, path = "/api/v1/app/{app_id}", tag = TAG, params(AppPath), request_body = ApplicationPatch,
    responses((status = 200, body = ApplicationOut)))]
async fn patch(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
    JsonBody(p): JsonBody<ApplicationPatch>,
) -> ApiResult<Json<ApplicationOut>> {
    let current = s.store.get_app(&app_id).await?;
    let mut merged = ApplicationSpec::of(&current);
    merged.name = p.name.unwrap_or(merged.name);
    merged.uid = p.uid.unwrap_or(merged.uid);
    merged.throttle_rate = p.throttle_rate.unwrap_or(merged.throttle_rate);
    merged.metadata = p.metadata.unwrap_or(merged.metadata);
    Ok(Json(applications::update(s.store.as_ref(), current, merged).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/app/{app_id}", tag = TAG, params(AppPath),
    responses((status = 204, description = "deleted, with its endpoints, messages and attempts")))]
async fn remove(State(s): State<ApiState>, Path(app_id): Path<String>) -> ApiResult<StatusCode> {
    let app = s.store.get_app(&app_id).await?;
    applications::delete(s.store.clone(), &app.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

const TAG: &str = "Application";

/// `POST /api/v1/app?get_if_exists=true`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the derive only
struct GetIfExists {
    /// Answer the application with this `uid` (200) if there is one, instead of 409.
    get_if_exists: Option<bool>,
}

/// Resolves `{app_id}` (an id or a uid) to the application, or 404.
pub async fn resolve(s: &ApiState, app_id: &str) -> Result<Application, ApiError> {
    Ok(s.store.get_app(app_id).await?)
}
