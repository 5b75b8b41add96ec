//! Background tasks in Svix's shape: `POST /api/v1/app/{app_id}/replay` (hookd's bulk replay)
//! starts one, `GET /api/v1/background-task[/{task_id}]` reads them, and
//! `POST /api/v1/background-task/{task_id}/cancel` (hookd's) stops one. The endpoint's
//! `recover` (in `endpoint_settings.rs`) starts one too.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::extract::{JsonBody, ListResponse, QueryParams, body_time};
use super::openapi::{AppPath, ListParams};
use crate::error::{ApiError, ApiResult};
use crate::manage::tasks::{self, Replay};
use crate::model::task::{BackgroundTask, CANCELLED, Selection, TaskFilter, TaskKind, TaskStatus};
use crate::model::time::format_rfc3339;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(replay))
        .routes(routes!(list))
        .routes(routes!(get_task))
        .routes(routes!(cancel))
}

/// Svix's `BackgroundTaskOut` (and `RecoverOut`, which has no `data`).
#[derive(utoipa::ToSchema, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackgroundTaskOut {
    id: String,
    /// `running`, `finished` or `failed` (a cancelled task is `failed`, `data.error` `cancelled`).
    #[schema(value_type = String)]
    status: &'static str,
    /// `endpoint.bulk-replay` or `endpoint.recover`.
    #[schema(value_type = String)]
    task: &'static str,
    data: TaskData,
    updated_at: String,
}

#[derive(utoipa::ToSchema, Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskData {
    app_id: String,
    /// Deliveries queued again so far (Svix's name for it in a recovery's result).
    messages_sent: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    cancelled: bool,
}

impl From<BackgroundTask> for BackgroundTaskOut {
    fn from(t: BackgroundTask) -> Self {
        let cancelled = t.error.as_deref() == Some(CANCELLED);
        Self {
            id: t.id,
            status: t.status.as_str(),
            task: t.kind.as_str(),
            data: TaskData { app_id: t.app_id, messages_sent: t.queued, error: t.error, cancelled },
            updated_at: format_rfc3339(t.updated_at),
        }
    }
}

/// Which deliveries to send again; all but `status` narrow the choice.
#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReplayIn {
    endpoint_id: Option<String>,
    event_types: Option<Vec<String>>,
    /// `failed` (the default): deliveries that failed for good; `all`: those that succeeded too.
    status: Option<String>,
    /// Messages created at or after this time (RFC 3339).
    since: Option<String>,
    /// Messages created before this time (RFC 3339).
    until: Option<String>,
    /// Only count: answers `{"count": N}`, the deliveries a real run would queue now.
    #[serde(default)]
    dry_run: bool,
}

#[derive(utoipa::ToSchema, Serialize)]
struct ReplayCount {
    count: u64,
}

impl ReplayIn {
    fn selection(&self) -> ApiResult<Selection> {
        let failed_only = match self.status.as_deref() {
            None | Some("failed") => true,
            Some("all") => false,
            Some(_) => return Err(ApiError::invalid_field("status", "must be failed or all")),
        };
        Ok(Selection {
            endpoint_id: self.endpoint_id.clone(),
            event_types: self.event_types.clone(),
            failed_only,
            since: body_time("since", self.since.as_deref())?,
            until: body_time("until", self.until.as_deref())?,
        })
    }
}

/// Sends again, in the background and paced (`delivery.replay_rate`), the application's
/// deliveries the body picks: those pending or in flight are left as they are.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/replay", tag = TAG, params(AppPath), request_body = ReplayIn,
    responses((status = 202, body = BackgroundTaskOut), (status = 200, description = "`dryRun`", body = ReplayCount)))]
async fn replay(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
    JsonBody(input): JsonBody<ReplayIn>,
) -> ApiResult<Response> {
    let selection = input.selection()?;
    match tasks::replay(s.store.as_ref(), &s.ingest, &app_id, selection, input.dry_run).await? {
        Replay::Count(count) => Ok(Json(ReplayCount { count }).into_response()),
        Replay::Started(task) => {
            Ok((StatusCode::ACCEPTED, Json(BackgroundTaskOut::from(*task))).into_response())
        }
    }
}

/// Narrows the list (`status`, `task`), with the usual paging.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct TaskListParams {
    /// `running`, `finished` or `failed`.
    status: Option<String>,
    /// `endpoint.bulk-replay` or `endpoint.recover`.
    task: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/background-task", tag = TAG, params(ListParams, TaskListParams),
    responses((status = 200, body = ListResponse<BackgroundTaskOut>)))]
async fn list(
    State(s): State<ApiState>,
    q: QueryParams,
) -> ApiResult<Json<ListResponse<BackgroundTaskOut>>> {
    let status =
        match q.get("status") {
            None => None,
            Some(text) => Some(TaskStatus::parse(text).ok_or_else(|| {
                ApiError::bad_request("status must be running, finished or failed")
            })?),
        };
    let kind = match q.get("task") {
        None => None,
        Some(text) => Some(TaskKind::parse(text).ok_or_else(|| {
            ApiError::bad_request("task must be endpoint.bulk-replay or endpoint.recover")
        })?),
    };
    let page = s.store.list_tasks(TaskFilter { status, kind }, q.page()?).await?;
    Ok(Json(ListResponse::from_page(page, |t| t.id.clone(), BackgroundTaskOut::from)))
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct TaskPath {
    task_id: String,
}

#[utoipa::path(get, path = "/api/v1/background-task/{task_id}", tag = TAG, params(TaskPath),
    responses((status = 200, body = BackgroundTaskOut)))]
async fn get_task(
    State(s): State<ApiState>,
    Path(task_id): Path<String>,
) -> ApiResult<Json<BackgroundTaskOut>> {
    Ok(Json(s.store.get_task(&task_id).await?.into()))
}

/// Stops a running task at its next step; what it queued stays queued. A task that already
/// ended is answered as it is.
#[utoipa::path(post, path = "/api/v1/background-task/{task_id}/cancel", tag = TAG, params(TaskPath),
    responses((status = 200, body = BackgroundTaskOut)))]
async fn cancel(
    State(s): State<ApiState>,
    Path(task_id): Path<String>,
) -> ApiResult<Json<BackgroundTaskOut>> {
    Ok(Json(tasks::cancel(s.store.as_ref(), &task_id).await?.into()))
}

const TAG: &str = "Background task";
