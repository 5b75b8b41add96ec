//! Test sends: Svix's `send-example` (through the queue, like any message) and a synchronous
//! trigger in the spirit of Strapi's, which answers with what the receiver said.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::endpoints::endpoint_of;
use super::extract::JsonBody;
use super::messages::MessageOut;
use super::openapi::EndpointPath;
use crate::error::ApiResult;
use crate::manage::deliveries;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(send_example)).routes(routes!(test))
}

#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExampleIn {
    event_type: String,
    #[schema(value_type = Option<Object>)]
    payload: Option<Box<RawValue>>,
}

/// Queues an example of `eventType` for this endpoint only: the given payload, else the first
/// example in the event type's schemas, else `{}`.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example", tag = "Endpoint", params(EndpointPath), request_body = ExampleIn,
    responses((status = 202, body = MessageOut)))]
async fn send_example(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<ExampleIn>,
) -> ApiResult<(StatusCode, Json<MessageOut>)> {
    let endpoint = endpoint_of(&s, &app_id, &endpoint_id).await?;
    let (store, ingest) = (s.store.as_ref(), &s.ingest);
    let message =
        deliveries::send_example(store, ingest, &endpoint, input.event_type, input.payload).await?;
    Ok((StatusCode::ACCEPTED, Json(MessageOut::new(message, true))))
}

#[derive(utoipa::ToSchema, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TestIn {
    event_type: Option<String>,
    #[schema(value_type = Option<Object>)]
    payload: Option<Box<RawValue>>,
}

#[derive(utoipa::ToSchema, Serialize)]
#[serde(rename_all = "camelCase")]
struct TestResult {
    status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// Sends a test event right away, even to a disabled endpoint, stores nothing, and answers
/// Strapi's way: `{"data": {"statusCode": N, "message": "…"}}`, with the receiver's text when
/// it is not a 2xx, and 500 with the error in words when no answer came.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/test", tag = "Endpoint", params(EndpointPath), request_body(content = Option<TestIn>),
    responses((status = 200, description = "the receiver's answer (`statusCode` 500 when none came)", body = TestAnswer)))]
async fn test(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let endpoint = endpoint_of(&s, &app_id, &endpoint_id).await?;
    let input: TestIn = super::extract::optional_json(&body)?;
    let answer =
        deliveries::test_send(&s.ingest, &endpoint, input.event_type, input.payload.as_deref())
            .await?;
    let result = match answer.status {
        Some(code) => TestResult { status_code: code, message: answer.text },
        None => TestResult { status_code: 500, message: answer.text },
    };
    Ok(Json(serde_json::json!({ "data": result })))
}

/// `{"data": {"statusCode", "message"?}}`, for the document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // described, not built: the handler answers the same shape as JSON
struct TestAnswer {
    data: TestResult,
}
