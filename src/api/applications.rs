//! `/api/v1/app`: applications.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::extract::{JsonBody, ListResponse, QueryParams, nullable};
use crate::error::{ApiError, ApiResult};
use crate::model::time::{format_rfc3339, now_ms};
use crate::model::{Application, Metadata, ids};
use crate::store::StoreError;
use crate::validate;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/app", get(list).post(create))
        .route("/api/v1/app/{app_id}", get(read).put(upsert).patch(patch).delete(remove))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApplicationIn {
    name: String,
    uid: Option<String>,
    #[serde(alias = "rateLimit")]
    throttle_rate: Option<u32>,
    #[serde(default)]
    metadata: Metadata,
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

impl ApplicationIn {
    /// Validates and applies the input over `app` (a new one, or the current one for PUT).
    fn apply(self, mut app: Application) -> ApiResult<Application> {
        validate::text("name", &self.name, 1, 256)?;
        if let Some(uid) = &self.uid {
            validate::key("uid", uid)?;
        }
        validate::rate("throttleRate", self.throttle_rate)?;
        validate::metadata(&self.metadata)?;
        app.name = self.name;
        app.uid = self.uid;
        app.rate_limit = self.throttle_rate;
        app.metadata = self.metadata;
        app.updated_at = now_ms();
        Ok(app)
    }
}

fn blank_app() -> Application {
    let now = now_ms();
    Application {
        id: ids::new_id(ids::APP),
        uid: None,
        name: String::new(),
        rate_limit: None,
        metadata: Metadata::new(),
        created_at: now,
        updated_at: now,
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
    JsonBody(input): JsonBody<ApplicationIn>,
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
    let app = s.store.insert_app(input.apply(blank_app())?).await?;
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
    JsonBody(mut input): JsonBody<ApplicationIn>,
) -> ApiResult<(StatusCode, Json<ApplicationOut>)> {
    match s.store.get_app(&app_id).await {
        Ok(current) => {
            Ok((StatusCode::OK, Json(s.store.update_app(input.apply(current)?).await?.into())))
        }
        Err(StoreError::NotFound(_)) => {
            input.uid.get_or_insert(app_id);
            let app = s.store.insert_app(input.apply(blank_app())?).await?;
            Ok((StatusCode::CREATED, Json(app.into())))
        }
        Err(e) => Err(e.into()),
    }
}

async fn patch(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
    JsonBody(p): JsonBody<ApplicationPatch>,
) -> ApiResult<Json<ApplicationOut>> {
    let current = s.store.get_app(&app_id).await?;
    let merged = ApplicationIn {
        name: p.name.unwrap_or_else(|| current.name.clone()),
        uid: p.uid.unwrap_or_else(|| current.uid.clone()),
        throttle_rate: p.throttle_rate.unwrap_or(current.rate_limit),
        metadata: p.metadata.unwrap_or_else(|| current.metadata.clone()),
    };
    Ok(Json(s.store.update_app(merged.apply(current)?).await?.into()))
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
