//! `GET /api/v1/health`: 204 while the store takes writes, 503 with the reason when it does
//! not (a full or read-only disk, a database that is down), so a load balancer or an
//! orchestrator stops sending traffic to a node that would only answer 500s.
//!
//! The check commits a one-row write. Its answer is kept for a second, and one check runs
//! at a time: a flood of health requests (the route needs no token) costs one small write
//! per second, not one per request.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use tokio::sync::Mutex;

use super::ApiState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::time::now_ms;

const KEEP: Duration = Duration::from_secs(1);

/// The last check's answer and when it was made.
#[derive(Default)]
pub struct Health {
    last: Mutex<Option<(Instant, Result<(), String>)>>,
}

#[utoipa::path(get, path = "/api/v1/health", tag = "Health",
    responses((status = 204, description = "the store takes writes"),
        (status = 503, description = "the store does not take writes; `detail` says why", body = super::openapi::ErrorBody)))]
pub async fn health(State(state): State<ApiState>) -> ApiResult<StatusCode> {
    let mut last = state.health.last.lock().await;
    let fresh = last.as_ref().filter(|(at, _)| at.elapsed() < KEEP).map(|(_, r)| r.clone());
    let answer = match fresh {
        Some(answer) => answer,
        None => {
            let answer = state.store.check_writable(now_ms()).await.map_err(|e| e.to_string());
            if let Err(why) = &answer {
                tracing::error!(error = %why, "health check: the store does not take writes");
            }
            *last = Some((Instant::now(), answer.clone()));
            answer
        }
    };
    answer.map(|()| StatusCode::NO_CONTENT).map_err(|why| {
        ApiError::new(ErrorCode::Unavailable, format!("the store does not take writes: {why}"))
    })
}
