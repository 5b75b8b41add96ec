//! `/api/v1/app/{app_id}/msg`: sending and reading messages.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::applications::resolve;
use super::extract::{IdempotencyKey, JsonBody, ListResponse, QueryParams};
use super::openapi::{AppPath, ListParams, MessagePath};
use crate::error::ApiResult;
use crate::ingest::MessageIn;
use crate::model::Message;
use crate::model::time::format_rfc3339;
use crate::store::{Accepted, MessageFilter};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(read))
}

#[derive(utoipa::ToSchema, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageOut {
    id: String,
    event_type: String,
    #[schema(value_type = Object)]
    payload: Box<RawValue>,
    event_id: Option<String>,
    channels: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    /// hookd's own, when the message was sent with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    ordering_key: Option<String>,
    timestamp: String,
}

impl MessageOut {
    /// Svix's clients ask `with_content=false` to get `{}` in place of the payload.
    pub fn new(m: Message, with_content: bool) -> Self {
        let empty = || RawValue::from_string("{}".into()).expect("{} is JSON");
        let payload = if with_content {
            RawValue::from_string(m.payload).unwrap_or_else(|_| empty())
        } else {
            empty()
        };
        Self {
            id: m.id,
            event_type: m.event_type,
            payload,
            event_id: m.event_id,
            channels: m.channels,
            tags: m.tags,
            ordering_key: m.ordering_key,
            timestamp: format_rfc3339(m.created_at),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg", tag = TAG, params(AppPath, WithContent, Idempotency),
    request_body = MessageIn, responses((status = 202, description = "stored durably; delivery follows", body = MessageOut)))]
async fn create(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
    q: QueryParams,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(input): JsonBody<MessageIn>,
) -> ApiResult<(StatusCode, Json<MessageOut>)> {
    // Everything that can be refused is checked before the message is stored.
    let with_content = q.flag("with_content", true)?;
    let message = match s.ingest.accept(&app_id, input, key).await? {
        Accepted::Created { message, .. } | Accepted::Replayed(message) => message,
    };
    Ok((StatusCode::ACCEPTED, Json(MessageOut::new(message, with_content))))
}

#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}", tag = TAG, params(MessagePath, WithContent),
    responses((status = 200, body = MessageOut)))]
async fn read(
    State(s): State<ApiState>,
    Path((app_id, msg_id)): Path<(String, String)>,
    q: QueryParams,
) -> ApiResult<Json<MessageOut>> {
    let app = resolve(&s, &app_id).await?;
    let message = s.store.get_message(&app.id, &msg_id).await?;
    Ok(Json(MessageOut::new(message, q.flag("with_content", true)?)))
}

#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg", tag = TAG, params(AppPath, ListParams, MessageFilters, WithContent),
    responses((status = 200, body = ListResponse<MessageOut>)))]
async fn list(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<ListResponse<MessageOut>>> {
    let app = resolve(&s, &app_id).await?;
    let filter = MessageFilter {
        event_types: q.list("event_types"),
        channel: q.get("channel").map(str::to_owned),
        before: q.time("before")?,
        after: q.time("after")?,
    };
    let with_content = q.flag("with_content", true)?;
    let page = s.store.list_messages(&app.id, filter, q.page()?).await?;
    Ok(Json(ListResponse::from_page(page, |m| m.id.clone(), |m| MessageOut::new(m, with_content))))
}

const TAG: &str = "Message";

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the derives only
struct WithContent {
    /// `false` answers `{}` in place of each payload.
    with_content: Option<bool>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
struct Idempotency {
    /// 1 to 256 characters: a repeated request answers the first message again.
    #[param(rename = "idempotency-key")]
    idempotency_key: Option<String>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct MessageFilters {
    /// Only these event types (comma-separated or repeated).
    event_types: Option<Vec<String>>,
    /// Only messages of this channel.
    channel: Option<String>,
    /// Created before this time (RFC 3339).
    before: Option<String>,
    /// Created after this time (RFC 3339).
    after: Option<String>,
}
