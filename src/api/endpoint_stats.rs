//! `GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/stats`: Svix's figures for an endpoint,
//! with hookd's hourly breakdown (the console's chart draws it).

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::endpoints::endpoint_of;
use super::extract::QueryParams;
use super::openapi::{EndpointPath, TimeWindow};
use crate::error::{ApiError, ApiResult};
use crate::model::time::{format_rfc3339, now_ms};
use crate::model::{EndpointStats, HourCount};

/// Without `since`, the figures cover the last day.
const DEFAULT_WINDOW_MS: i64 = 24 * 3600 * 1000;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(stats))
}

#[derive(utoipa::ToSchema, Serialize)]
struct StatsOut {
    success: u64,
    pending: u64,
    sending: u64,
    fail: u64,
    /// hookd's addition: attempts per hour, oldest first (hours without any left out).
    hourly: Vec<HourOut>,
}

#[derive(utoipa::ToSchema, Serialize)]
struct HourOut {
    start: String,
    success: u64,
    fail: u64,
}

impl From<EndpointStats> for StatsOut {
    fn from(s: EndpointStats) -> Self {
        let hour = |h: &HourCount| HourOut {
            start: format_rfc3339(h.start),
            success: h.success,
            fail: h.fail,
        };
        Self {
            success: s.hourly.iter().map(|h| h.success).sum(),
            pending: s.pending,
            sending: s.sending,
            fail: s.hourly.iter().map(|h| h.fail).sum(),
            hourly: s.hourly.iter().map(hour).collect(),
        }
    }
}

/// `success` and `fail` count attempts in the window; `pending` and `sending` are now.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats", tag = "Endpoint",
    params(EndpointPath, TimeWindow), responses((status = 200, body = StatsOut)))]
async fn stats(
    State(s): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    q: QueryParams,
) -> ApiResult<Json<StatsOut>> {
    let endpoint = endpoint_of(&s, &app_id, &endpoint_id).await?;
    let until = q.time("until")?.unwrap_or_else(now_ms);
    let since = q.time("since")?.unwrap_or(until - DEFAULT_WINDOW_MS);
    if since > until {
        return Err(ApiError::bad_request("since must not be after until"));
    }
    Ok(Json(s.store.endpoint_stats(&endpoint.id, since, until).await?.into()))
}
