//! Attempts and per-endpoint delivery state of messages, and manual resend.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::applications::resolve;
use super::extract::{ListResponse, QueryParams};
use super::openapi::{EndpointPath, ListParams, MessageEndpointPath, MessagePath};
use crate::error::ApiResult;
use crate::manage::deliveries;
use crate::model::time::format_rfc3339;
use crate::model::{Attempt, DeliveryState, DeliveryStatus};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(by_message))
        .routes(routes!(by_endpoint))
        .routes(routes!(destinations))
        .routes(routes!(resend))
}

fn status_text(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Success => "success",
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Failed => "fail",
        DeliveryStatus::Sending => "sending",
    }
}

#[derive(utoipa::ToSchema, Serialize)]
#[serde(rename_all = "camelCase")]
struct AttemptOut {
    id: String,
    msg_id: String,
    endpoint_id: String,
    url: String,
    response: String,
    response_status_code: i32,
    response_duration_ms: i64,
    /// 0 success, 1 pending, 2 failed, 3 sending.
    status: u8,
    #[schema(value_type = String)]
    status_text: &'static str,
    trigger_type: u8,
    timestamp: String,
}

impl From<Attempt> for AttemptOut {
    fn from(a: Attempt) -> Self {
        Self {
            id: a.id,
            msg_id: a.msg_id,
            endpoint_id: a.endpoint_id,
            url: a.url,
            response: a.response,
            response_status_code: a.response_status_code,
            response_duration_ms: a.response_duration_ms,
            status: a.status as u8,
            status_text: status_text(a.status),
            trigger_type: a.trigger_type as u8,
            timestamp: format_rfc3339(a.created_at),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/app/{app_id}/attempt/msg/{msg_id}", tag = TAG, params(MessagePath, ListParams),
    responses((status = 200, body = ListResponse<AttemptOut>)))]
async fn by_message(
    State(s): State<ApiState>,
    Path((app_id, msg_id)): Path<(String, String)>,
    q: QueryParams,
) -> ApiResult<Json<ListResponse<AttemptOut>>> {
    let app = resolve(&s, &app_id).await?;
    let msg = s.store.get_message(&app.id, &msg_id).await?;
    let page = s.store.list_attempts_by_message(&msg.id, q.page()?).await?;
    Ok(Json(ListResponse::from_page(page, |a| a.id.clone(), AttemptOut::from)))
}

#[utoipa::path(get, path = "/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}", tag = TAG, params(EndpointPath, ListParams),
    responses((status = 200, body = ListResponse<AttemptOut>)))]
async fn by_endpoint(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    q: QueryParams,
) -> ApiResult<Json<ListResponse<AttemptOut>>> {
    let app = resolve(&s, &app_id).await?;
    let endpoint = s.store.get_endpoint(&app.id, &endpoint_id).await?;
    let page = s.store.list_attempts_by_endpoint(&endpoint.id, q.page()?).await?;
    Ok(Json(ListResponse::from_page(page, |a| a.id.clone(), AttemptOut::from)))
}

#[derive(utoipa::ToSchema, Serialize)]
#[serde(rename_all = "camelCase")]
struct DestinationOut {
    endpoint_id: String,
    /// 0 success, 1 pending, 2 failed, 3 sending.
    status: u8,
    #[schema(value_type = String)]
    status_text: &'static str,
    attempts: i64,
    next_attempt: Option<String>,
}

/// The message's status towards each endpoint it was fanned out to.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/endpoint", tag = TAG, params(MessagePath),
    responses((status = 200, body = ListResponse<DestinationOut>)))]
async fn destinations(
    State(s): State<ApiState>,
    Path((app_id, msg_id)): Path<(String, String)>,
) -> ApiResult<Json<ListResponse<DestinationOut>>> {
    let app = resolve(&s, &app_id).await?;
    let msg = s.store.get_message(&app.id, &msg_id).await?;
    let data =
        s.store.list_deliveries_of_message(&msg.id).await?.into_iter().map(|d: DeliveryState| {
            DestinationOut {
                endpoint_id: d.endpoint_id,
                status: d.status as u8,
                status_text: status_text(d.status),
                attempts: d.attempts,
                next_attempt: d
                    .next_attempt_at
                    .filter(|_| d.status == DeliveryStatus::Pending)
                    .map(format_rfc3339),
            }
        });
    Ok(Json(ListResponse { data: data.collect(), iterator: None, prev_iterator: None, done: true }))
}

/// Sends the message to the endpoint again, now (a manual attempt). Answers 202 with `{}`,
/// which Svix's clients expect.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend", tag = TAG,
    params(MessageEndpointPath), responses((status = 202, description = "queued: `{}`", body = Object)))]
async fn resend(
    State(s): State<ApiState>,
    Path((app_id, msg_id, endpoint_id)): Path<(String, String, String)>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let app = resolve(&s, &app_id).await?;
    deliveries::resend(s.store.as_ref(), &s.ingest, &app.id, &msg_id, &endpoint_id).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({}))))
}

const TAG: &str = "Message attempt";
