//! `/api/v1/event-type`: the event-type catalogue.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::extract::{JsonBody, ListResponse, QueryParams, nullable};
use crate::error::{ApiError, ApiResult};
use crate::model::EventType;
use crate::model::time::{format_rfc3339, now_ms};
use crate::profile::catalogues;
use crate::store::StoreError;
use crate::validate;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/event-type", get(list).post(create))
        .route("/api/v1/event-type/{name}", get(read).put(upsert).patch(patch).delete(remove))
        .route("/api/v1/event-type/import/{catalogue}", axum::routing::post(import))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventTypeIn {
    /// Absent in PUT bodies, where the path names the type.
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    deprecated: bool,
    schemas: Option<serde_json::Value>,
    feature_flag: Option<String>,
    group_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
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

#[derive(Serialize)]
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

impl EventTypeIn {
    fn into_event_type(self, name: String, created_at: i64) -> ApiResult<EventType> {
        validate::key("name", &name)?;
        validate::text("description", &self.description, 0, 4096)?;
        if self.schemas.as_ref().is_some_and(|s| !s.is_object()) {
            return Err(crate::error::ApiError::invalid_field(
                "schemas",
                "schemas must be an object",
            ));
        }
        Ok(EventType {
            name,
            description: self.description,
            archived: self.archived,
            deprecated: self.deprecated,
            schemas: self.schemas,
            feature_flag: self.feature_flag,
            group_name: self.group_name,
            created_at,
            updated_at: now_ms(),
        })
    }
}

async fn list(
    State(s): State<ApiState>,
    q: QueryParams,
) -> ApiResult<Json<ListResponse<EventTypeOut>>> {
    let page = s.store.list_event_types(q.page()?, q.flag("include_archived", false)?).await?;
    Ok(Json(ListResponse::from_page(page, |e| e.name.clone(), EventTypeOut::from)))
}

async fn create(
    State(s): State<ApiState>,
    JsonBody(input): JsonBody<EventTypeIn>,
) -> ApiResult<(StatusCode, Json<EventTypeOut>)> {
    let name = input.name.clone().unwrap_or_default();
    let event_type = s.store.insert_event_type(input.into_event_type(name, now_ms())?).await?;
    Ok((StatusCode::CREATED, Json(event_type.into())))
}

async fn read(
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> ApiResult<Json<EventTypeOut>> {
    Ok(Json(s.store.get_event_type(&name).await?.into()))
}

async fn upsert(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    JsonBody(input): JsonBody<EventTypeIn>,
) -> ApiResult<(StatusCode, Json<EventTypeOut>)> {
    match s.store.get_event_type(&name).await {
        Ok(current) => {
            let updated = input.into_event_type(name, current.created_at)?;
            Ok((StatusCode::OK, Json(s.store.update_event_type(updated).await?.into())))
        }
        Err(StoreError::NotFound(_)) => {
            let created = s.store.insert_event_type(input.into_event_type(name, now_ms())?).await?;
            Ok((StatusCode::CREATED, Json(created.into())))
        }
        Err(e) => Err(e.into()),
    }
}

async fn patch(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    JsonBody(p): JsonBody<EventTypePatch>,
) -> ApiResult<Json<EventTypeOut>> {
    let current = s.store.get_event_type(&name).await?;
    let merged = EventTypeIn {
        name: None,
        description: p.description.unwrap_or(current.description),
        archived: p.archived.unwrap_or(current.archived),
        deprecated: p.deprecated.unwrap_or(current.deprecated),
        schemas: p.schemas.unwrap_or(current.schemas),
        feature_flag: p.feature_flag.unwrap_or(current.feature_flag),
        group_name: p.group_name.unwrap_or(current.group_name),
    };
    let updated = merged.into_event_type(name, current.created_at)?;
    Ok(Json(s.store.update_event_type(updated).await?.into()))
}

/// Archives the type (it stays usable and can be restored), or deletes it with `expunge=true`.
async fn remove(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    q: QueryParams,
) -> ApiResult<StatusCode> {
    if q.flag("expunge", false)? {
        s.store.expunge_event_type(&name).await?;
    } else {
        let mut current = s.store.get_event_type(&name).await?;
        current.archived = true;
        current.updated_at = now_ms();
        s.store.update_event_type(current).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a shipped catalogue's event types (misskey, mastodon, strapi); types that exist
/// already are left as they are. Answers with the catalogue's types.
async fn import(
    State(s): State<ApiState>,
    Path(catalogue): Path<String>,
) -> ApiResult<Json<ListResponse<EventTypeOut>>> {
    let entries = catalogues::by_name(&catalogue).ok_or_else(|| {
        ApiError::not_found(&format!(
            "catalogue {catalogue:?} (there are: {})",
            catalogues::NAMES.join(", ")
        ))
    })?;
    let mut data = Vec::with_capacity(entries.len());
    for (name, description) in entries {
        let input = EventTypeIn {
            name: None,
            description: (*description).into(),
            archived: false,
            deprecated: false,
            schemas: None,
            feature_flag: None,
            group_name: Some(catalogue.clone()),
        };
        let saved =
            match s.store.insert_event_type(input.into_event_type((*name).into(), now_ms())?).await
            {
                Err(StoreError::Conflict(_)) => s.store.get_event_type(name).await?,
                other => other?,
            };
        data.push(saved.into());
    }
    Ok(Json(ListResponse { data, iterator: None, prev_iterator: None, done: true }))
}
