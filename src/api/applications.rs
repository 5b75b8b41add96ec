//! `/api/v1/app`: applications.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::extract::{JsonBody, ListResponse, QueryParams, nullable};
use crate::error::{ApiError, ApiResult};
use crate::manage::applications::{self, ApplicationSpec};
use crate::model::time::format_rfc3339;
use crate::model::{Application, Metadata};
use crate::store::StoreError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/app", get(list).post(create))
        .route("/api/v1/app/{app_id}", get(read).put(upsert).patch(patch).delete(remove))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApplicationPatch {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    uid: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable", alias = "rateLimit")]
    throttle_rate: Option<Option<u32>>,
    metadata: Option<Metadata>,
}

#[derive(Serialize)]
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

async fn list(
    State(s): State<ApiState>,
    q: QueryParams,
) -> ApiResult<Json<ListResponse<ApplicationOut>>> {
    let page = s.store.list_apps(q.page()?).await?;
    Ok(Json(ListResponse::from_page(page, |a| a.id.clone(), ApplicationOut::from)))
}

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

async fn read(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
) -> ApiResult<Json<ApplicationOut>> {
    Ok(Json(s.store.get_app(&app_id).await?.into()))
}

/// PUT replaces the application, or creates it (with the path as its uid) if there is none.
async fn upsert(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
    JsonBody(input): JsonBody<ApplicationSpec>,
) -> ApiResult<(StatusCode, Json<ApplicationOut>)> {
    let (app, created) = applications::upsert(s.store.as_ref(), &app_id, input).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(app.into())))
}

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

async fn remove(State(s): State<ApiState>, Path(app_id): Path<String>) -> ApiResult<StatusCode> {
    let app = s.store.get_app(&app_id).await?;
    s.store.delete_app(&app.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resolves `{app_id}` (an id or a uid) to the application, or 404.
pub async fn resolve(s: &ApiState, app_id: &str) -> Result<Application, ApiError> {
    Ok(s.store.get_app(app_id).await?)
}
