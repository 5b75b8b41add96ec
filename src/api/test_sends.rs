//! Test sends: Svix's `send-example` (through the queue, like any message) and a synchronous
//! trigger in the spirit of Strapi's, which answers with what the receiver said.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::ApiState;
use super::endpoints::endpoint_of;
use super::extract::JsonBody;
use super::messages::MessageOut;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::ingest::MessageIn;
use crate::model::time::now_ms;
use crate::model::{Message, ids};
use crate::profile;
use crate::store::Accepted;

pub fn routes() -> Router<ApiState> {
    let ep = "/api/v1/app/{app_id}/endpoint/{endpoint_id}";
    Router::new()
        .route(&format!("{ep}/send-example"), post(send_example))
        .route(&format!("{ep}/test"), post(test))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExampleIn {
    event_type: String,
    payload: Option<Box<RawValue>>,
}

/// Queues an example of `eventType` for this endpoint only: the given payload, else the first
/// example in the event type's schemas, else `{}`.
async fn send_example(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<ExampleIn>,
) -> ApiResult<(StatusCode, Json<MessageOut>)> {
    let endpoint = endpoint_of(&s, &app_id, &endpoint_id).await?;
    let payload = match input.payload {
        Some(payload) => payload,
        None => example_payload(&s, &input.event_type).await,
    };
    let message = MessageIn {
        event_type: input.event_type,
        payload,
        event_id: None,
        channels: None,
        tags: None,
        deliver_at: None,
    };
    let accepted = s.ingest.accept_for(&endpoint.app_id, message, None, Some(endpoint.id)).await?;
    let (Accepted::Created { message, .. } | Accepted::Replayed(message)) = accepted;
    Ok((StatusCode::ACCEPTED, Json(MessageOut::new(message, true))))
}

async fn example_payload(s: &ApiState, event_type: &str) -> Box<RawValue> {
    let schemas = s.store.get_event_type(event_type).await.ok().and_then(|et| et.schemas);
    let example = schemas
        .as_ref()
        .and_then(|schemas| {
            schemas.as_object()?.values().find_map(|schema| schema.get("examples")?.get(0).cloned())
        })
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    RawValue::from_string(example.to_string())
        .unwrap_or_else(|_| RawValue::from_string("{}".into()).expect("{} is JSON"))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TestIn {
    event_type: Option<String>,
    payload: Option<Box<RawValue>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TestResult {
    status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// Sends a test event right away, even to a disabled endpoint, stores nothing, and answers
/// Strapi's way: `{"data": {"statusCode": N, "message": "…"}}`, with the receiver's text when
/// it is not a 2xx, and 500 with the error in words when no answer came.
async fn test(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let endpoint = endpoint_of(&s, &app_id, &endpoint_id).await?;
    let input: TestIn = if body.is_empty() {
        TestIn::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(ErrorCode::InvalidJson, e.to_string()))?
    };
    let event_type = input
        .event_type
        .unwrap_or_else(|| profile::by_name(&endpoint.profile).test_event_type().into());
    if let Some(payload) = &input.payload {
        crate::validate::json_depth("payload", payload.get())?;
    }
    let payload = input.payload.map_or_else(|| "{}".to_owned(), |p| p.get().to_owned());
    let message = Message {
        id: ids::new_id(ids::MESSAGE),
        app_id: endpoint.app_id.clone(),
        event_type,
        event_id: None,
        channels: None,
        tags: None,
        payload,
        created_at: now_ms(),
    };
    let answer = s.ingest.dispatch().send_once(&message, &endpoint).await;
    let result = match answer.status {
        Some(code @ 200..=299) => TestResult { status_code: code, message: None },
        Some(code) => TestResult { status_code: code, message: Some(answer.text) },
        None => TestResult { status_code: 500, message: Some(answer.text) },
    };
    Ok(Json(serde_json::json!({ "data": result })))
}
