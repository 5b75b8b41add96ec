//! `GET /metrics`: the Prometheus scrape. It needs the admin token or `metrics.token`,
//! unless `metrics.public` is set (for a scraper on a trusted network that cannot send one).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::auth::bearer;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::time::now_ms;
use crate::security::token;

/// Who may scrape.
#[derive(Clone, Default)]
pub struct MetricsAccess {
    pub token: Option<Arc<str>>,
    pub public: bool,
}

#[utoipa::path(get, path = "/metrics", tag = "Health",
    responses((status = 200, description = "Prometheus metrics (OpenMetrics text)", content_type = "application/openmetrics-text", body = String)))]
pub async fn scrape(State(state): State<ApiState>, headers: HeaderMap) -> ApiResult<Response> {
    let access = &state.metrics_access;
    let allowed = access.public
        || bearer(&headers).is_some_and(|given| {
            token::matches(&state.admin_token, given)
                || access.token.as_deref().is_some_and(|t| token::matches(t, given))
        });
    if !allowed {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "send the admin token or metrics.token as `Authorization: Bearer <token>`",
        ));
    }
    let backlog = state.store.backlog(now_ms()).await?;
    let text = state.metrics.render(backlog.due, backlog.scheduled);
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}
