//! The HTTP API: Svix's paths and JSON shapes, bearer-token auth, JSON errors.
//! Handlers parse, call one domain or store function, and map the result.

mod applications;
mod attempts;
mod endpoint_settings;
mod endpoints;
mod event_types;
pub mod extract;
mod messages;
mod test_sends;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::ingest::Ingest;
use crate::security::token;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub ingest: Arc<Ingest>,
    pub admin_token: Arc<str>,
    /// How long a rotated-out secret keeps signing, in ms.
    pub rotation_grace_ms: i64,
}

/// The whole API. Paths match with or without a trailing slash (see [`strip_trailing_slash`]).
pub fn router(state: ApiState, max_body_size: usize) -> Router {
    let protected = Router::new()
        .merge(applications::routes())
        .merge(event_types::routes())
        .merge(endpoints::routes())
        .merge(endpoint_settings::routes())
        .merge(messages::routes())
        .merge(attempts::routes())
        .merge(test_sends::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/api/v1/health", get(health))
        .merge(protected)
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(ErrorCode::MethodNotAllowed, "this route does not take that method")
        })
        .layer(DefaultBodyLimit::max(max_body_size))
        .with_state(state)
}

/// `/api/v1/app/` routes like `/api/v1/app`, as Svix's server does.
pub fn strip_trailing_slash(mut req: Request) -> Request {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let new = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_owned(),
        };
        if let Ok(uri) = new.parse() {
            *req.uri_mut() = uri;
        }
    }
    req
}

async fn health() -> axum::http::StatusCode {
    axum::http::StatusCode::NO_CONTENT
}

async fn require_token(
    State(state): State<ApiState>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> ApiResult<Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(t) if token::matches(&state.admin_token, t) => Ok(next.run(req).await),
        Some(_) => Err(ApiError::new(ErrorCode::Unauthorized, "the bearer token is not valid")),
        None => Err(ApiError::new(
            ErrorCode::Unauthorized,
            "send the admin token as `Authorization: Bearer <token>`",
        )),
    }
}
