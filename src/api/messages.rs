//! `/api/v1/app/{app_id}/msg`: sending and reading messages.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::value::RawValue;

use super::ApiState;
use super::applications::resolve;
use super::extract::{JsonBody, ListResponse, QueryParams};
use crate::error::{ApiError, ApiResult};
use crate::ingest::MessageIn;
use crate::model::Message;
use crate::model::time::format_rfc3339;
use crate::store::{Accepted, MessageFilter};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/app/{app_id}/msg", get(list).post(create))
        .route("/api/v1/app/{app_id}/msg/{msg_id}", get(read))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageOut {
    id: String,
    event_type: String,
    payload: Box<RawValue>,
    event_id: Option<String>,
    channels: Option<Vec<String>>,
    tags: Option<Vec<String>>,
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
            timestamp: format_rfc3339(m.created_at),
        }
    }
}

async fn create(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
    q: QueryParams,
    headers: HeaderMap,
    JsonBody(input): JsonBody<MessageIn>,
) -> ApiResult<(StatusCode, Json<MessageOut>)> {
    let key = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::bad_request("Idempotency-Key must be visible ASCII"))?
                .to_owned(),
        ),
        None => None,
    };
    // Everything that can be refused is checked before the message is stored.
    let with_content = q.flag("with_content", true)?;
    let message = match s.ingest.accept(&app_id, input, key).await? {
        Accepted::Created { message, .. } | Accepted::Replayed(message) => message,
    };
    Ok((StatusCode::ACCEPTED, Json(MessageOut::new(message, with_content))))
}

async fn read(
    State(s): State<ApiState>,
    Path((app_id, msg_id)): Path<(String, String)>,
    q: QueryParams,
) -> ApiResult<Json<MessageOut>> {
    let app = resolve(&s, &app_id).await?;
    let message = s.store.get_message(&app.id, &msg_id).await?;
    Ok(Json(MessageOut::new(message, q.flag("with_content", true)?)))
}

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
