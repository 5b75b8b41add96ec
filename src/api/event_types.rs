//! `/api/v1/event-type`: the event-type catalogue.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::extract::{JsonBody, ListResponse, QueryParams, nullable};
use super::openapi::ListParams;
use crate::error::ApiResult;
use crate::manage::event_types::{self, EventTypeSpec};
use crate::model::EventType;
use crate::model::time::format_rfc3339;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, upsert, patch, remove))
        .routes(routes!(import))
}

#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EventTypePatch {
    description: Option<String>,
    archived: Option<bool>,
    deprecated: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    schemas: Option<Option<serde_json::Value>>,
    #[serde(default, deserialize_with = "nullable")]
    feature_flag: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    group_name: Option<Option<String>>,
}

#[derive(utoipa::ToSchema, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeOut {
    name: String,
    description: String,
    archived: bool,
    deprecated: bool,
    schemas: Option<serde_json::Value>,
    feature_flag: Option<String>,
    group_name: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<EventType> for EventTypeOut {
    fn from(e: EventType) -> Self {
        Self {
            name: e.name,
            description: e.description,
            archived: e.archived,
            deprecated: e.deprecated,
            schemas: e.schemas,
            feature_flag: e.feature_flag,
            group_name: e.group_name,
            created_at: format_rfc3339(e.created_at),
            updated_at: format_rfc3339(e.updated_at),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/event-type", tag = TAG, params(ListParams, ListArchived),
    responses((status = 200, body = ListResponse<EventTypeOut>)))]
async fn list(
    State(s): State<ApiState>,
    q: QueryParams,
) -> ApiResult<Json<ListResponse<EventTypeOut>>> {
    let page = s.store.list_event_types(q.page()?, q.flag("include_archived", false)?).await?;
    Ok(Json(ListResponse::from_page(page, |e| e.name.clone(), EventTypeOut::from)))
}

#[utoipa::path(post, path = "/api/v1/event-type", tag = TAG, request_body = EventTypeSpec,
    responses((status = 201, body = EventTypeOut)))]
async fn create(
    State(s): State<ApiState>,
    JsonBody(input): JsonBody<EventTypeSpec>,
) -> ApiResult<(StatusCode, Json<EventTypeOut>)> {
    let name = input.name.clone().unwrap_or_default();
    let event_type = event_types::create(s.store.as_ref(), name, input).await?;
    Ok((StatusCode::CREATED, Json(event_type.into())))
}

#[utoipa::path(get, path = "/api/v1/event-type/{name}", tag = TAG, params(NamePath),
    responses((status = 200, body = EventTypeOut)))]
async fn read(
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> ApiResult<Json<EventTypeOut>> {
    Ok(Json(s.store.get_event_type(&name).await?.into()))
}

#[utoipa::path(put, path = "/api/v1/event-type/{name}", tag = TAG, params(NamePath), request_body = EventTypeSpec,
    responses((status = 200, body = EventTypeOut), (status = 201, description = "created", body = EventTypeOut)))]
async fn upsert(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    JsonBody(input): JsonBody<EventTypeSpec>,
) -> ApiResult<(StatusCode, Json<EventTypeOut>)> {
    let (event_type, created) = event_types::upsert(s.store.as_ref(), name, input).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(event_type.into())))
}

#[utoipa::path(patch, path = "/api/v1/event-type/{name}", tag = TAG, params(NamePath), request_body = EventTypePatch,
    responses((status = 200, body = EventTypeOut)))]
async fn patch(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    JsonBody(p): JsonBody<EventTypePatch>,
) -> ApiResult<Json<EventTypeOut>> {
    let current = s.store.get_event_type(&name).await?;
    let mut merged = EventTypeSpec::of(&current);
    merged.description = p.description.unwrap_or(merged.description);
    merged.archived = p.archived.unwrap_or(merged.archived);
    merged.deprecated = p.deprecated.unwrap_or(merged.deprecated);
    merged.schemas = p.schemas.unwrap_or(merged.schemas);
    merged.feature_flag = p.feature_flag.unwrap_or(merged.feature_flag);
    merged.group_name = p.group_name.unwrap_or(merged.group_name);
    let updated = merged.into_event_type(name, current.created_at)?;
    Ok(Json(s.store.update_event_type(updated).await?.into()))
}

/// Archives the type (it stays usable and can be restored), or deletes it with `expunge=true`.
#[utoipa::path(delete, path = "/api/v1/event-type/{name}", tag = TAG, params(NamePath, Expunge),
    responses((status = 204, description = "archived, or deleted with `expunge=true`")))]
async fn remove(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    q: QueryParams,
) -> ApiResult<StatusCode> {
    if q.flag("expunge", false)? {
        s.store.expunge_event_type(&name).await?;
    } else {
        event_types::set_archived(s.store.as_ref(), &name, true).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a shipped catalogue's event types (misskey, mastodon, strapi); types that exist
/// already are left as they are. Answers with the catalogue's types.
#[utoipa::path(post, path = "/api/v1/event-type/import/{catalogue}", tag = TAG, params(CataloguePath),
    responses((status = 200, body = ListResponse<EventTypeOut>)))]
async fn import(
    State(s): State<ApiState>,
    Path(catalogue): Path<String>,
) -> ApiResult<Json<ListResponse<EventTypeOut>>> {
    let saved = event_types::import(s.store.as_ref(), &catalogue).await?;
    let data = saved.into_iter().map(EventTypeOut::from).collect();
    Ok(Json(ListResponse { data, iterator: None, prev_iterator: None, done: true }))
}

const TAG: &str = "Event type";

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by the derives only
struct NamePath {
    /// The event type's name.
    name: String,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct CataloguePath {
    /// `misskey`, `mastodon` or `strapi`.
    catalogue: String,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ListArchived {
    /// Include archived types.
    include_archived: Option<bool>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct Expunge {
    /// Delete the type instead of archiving it.
    expunge: Option<bool>,
}
