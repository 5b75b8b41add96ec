//! The HTTP API: Svix's paths and JSON shapes, bearer-token auth, JSON errors.
//! Handlers parse, call one domain or store function, and map the result.

mod applications;
mod attempts;
mod auth;
mod endpoint_settings;
mod endpoint_stats;
mod endpoints;
mod event_types;
pub mod extract;
mod health;
mod messages;
mod metrics;
pub mod observe;
mod openapi;
mod portal_access;
mod serve;
mod tasks;
mod test_sends;

pub use health::Health;
pub use metrics::MetricsAccess;
pub use serve::serve;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::ingest::Ingest;
use crate::store::Store;

/// What every handler can reach. Cloned for every request by each layer that takes it, so it
/// is one reference count.
#[derive(Clone)]
pub struct ApiState(Arc<Shared>);

impl ApiState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for ApiState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`ApiState`].
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub ingest: Arc<Ingest>,
    pub admin_token: Arc<str>,
    /// How long a rotated-out secret keeps signing, in ms.
    pub rotation_grace_ms: i64,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub metrics_access: MetricsAccess,
    pub health: Arc<Health>,
    pub events: crate::operational::Events,
}

/// How much of a request body is read, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_size: usize,
    pub timeout: Duration,
}

/// The whole API. Paths match with or without a trailing slash (see [`strip_trailing_slash`]).
pub fn router(state: ApiState, body: BodyLimits) -> Router {
    let (router, doc) = routes(state.clone(), body).split_for_parts();
    let doc: Arc<str> = openapi::finish(doc).to_json().unwrap_or_default().into();
    router
        .route("/api/v1/openapi.json", get(move || openapi_json(doc.clone())))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(json_errors))
        .layer(DefaultBodyLimit::max(body.max_size))
        .with_state(state)
}

/// Every documented route, with the token check and the bounded body read on those that
/// need them.
fn routes(state: ApiState, body: BodyLimits) -> OpenApiRouter<ApiState> {
    let protected = OpenApiRouter::new()
        .merge(applications::routes())
        .merge(event_types::routes())
        .merge(endpoints::routes())
        .merge(endpoint_settings::routes())
        .merge(endpoint_stats::routes())
        .merge(messages::routes())
        .merge(attempts::routes())
        .merge(test_sends::routes())
        .merge(portal_access::routes())
        .merge(tasks::routes())
        .route_layer(middleware::from_fn_with_state(state, move |state, req, next| {
            auth::require_token(state, body, req, next)
        }));
    OpenApiRouter::new()
        .routes(routes!(health::health))
        .routes(routes!(metrics::scrape))
        .merge(protected)
}

/// 405 only to a caller who is signed in: to anyone else the route answers 401, as a route
/// that took the method would, so a stranger learns nothing of which routes exist.
async fn method_not_allowed(
    axum::extract::State(state): axum::extract::State<ApiState>,
    headers: axum::http::HeaderMap,
) -> ApiError {
    if auth::signed_in(&state, &headers).await {
        ApiError::new(ErrorCode::MethodNotAllowed, "this route does not take that method")
    } else {
        ApiError::new(ErrorCode::Unauthorized, "send a token as `Authorization: Bearer <token>`")
    }
}

/// Every error body is hookd's JSON: an extractor's own rejection (a path segment that is not
/// UTF-8, say) is plain text, so a client error that is not JSON is rewritten into one, with
/// the extractor's words as its detail.
async fn json_errors(req: Request, next: Next) -> Response {
    use axum::response::IntoResponse;
    let response = next.run(req).await;
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !response.status().is_client_error() || is_json {
        return response;
    }
    let code = match response.status().as_u16() {
        408 => ErrorCode::RequestTimeout,
        413 => ErrorCode::PayloadTooLarge,
        422 => ErrorCode::Validation,
        _ => ErrorCode::BadRequest,
    };
    let text = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&text).trim().to_owned();
    let detail = if detail.is_empty() { "the request was refused".to_owned() } else { detail };
    ApiError::new(code, detail).into_response()
}

async fn openapi_json(doc: Arc<str>) -> Response {
    use axum::response::IntoResponse;
    ([(axum::http::header::CONTENT_TYPE, "application/json")], doc.to_string()).into_response()
}

/// Marks a request that came in under `/api/v1/operational-webhook/endpoint`: only these may
/// reach the operational webhooks' application (see [`crate::operational`]).
#[derive(Clone, Copy)]
pub struct OperationalRoute;

const OPERATIONAL_PREFIX: &str = "/api/v1/operational-webhook/endpoint";

/// Svix's operational-webhook endpoint routes are the endpoint routes of the reserved
/// application: `/api/v1/operational-webhook/endpoint/{id}/secret` is served as
/// `/api/v1/app/<reserved>/endpoint/{id}/secret`, by the same handlers and rules.
pub fn operational_paths(mut req: Request) -> Request {
    let Some(rest) = req.uri().path().strip_prefix(OPERATIONAL_PREFIX) else { return req };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return req;
    }
    let path = format!("/api/v1/app/{}/endpoint{rest}", crate::operational::APP_ID);
    if set_path(&mut req, &path) {
        req.extensions_mut().insert(OperationalRoute);
    }
    req
}

/// Replaces the request's path, keeping its query; false if the result is not a URI.
fn set_path(req: &mut Request, path: &str) -> bool {
    let new = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    new.parse().map(|uri| *req.uri_mut() = uri).is_ok()
}

/// `/api/v1/app/` routes like `/api/v1/app`, as Svix's server does.
pub fn strip_trailing_slash(mut req: Request) -> Request {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/').to_owned();
        set_path(&mut req, &trimmed);
    }
    req
}

/// The API's answer for a path that names no route (the composed router's fallback under
/// `/api/`).
pub async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

impl BodyLimits {
    /// The request with its whole body read before the handler runs, within the size and
    /// the time limit, so a client trickling its body cannot hold a connection, and every
    /// refusal is hookd's JSON error (an extractor's own rejection is plain text).
    pub async fn read_request(&self, req: Request) -> ApiResult<Request> {
        if axum::body::HttpBody::size_hint(req.body()).exact() == Some(0) {
            return Ok(req); // No body to wait for (a GET, a DELETE).
        }
        let (parts, body) = req.into_parts();
        Ok(Request::from_parts(parts, Body::from(self.read(body).await?)))
    }

    /// Reads a whole body within the size and the time limit (413, 408 otherwise). The
    /// console's forms are read by the same rule.
    pub async fn read(&self, body: Body) -> ApiResult<axum::body::Bytes> {
        let read = tokio::time::timeout(self.timeout, axum::body::to_bytes(body, self.max_size));
        match read.await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(e)) if is_length_limit(&e) => Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the request body is larger than {} bytes", self.max_size),
            )),
            Ok(Err(e)) => Err(ApiError::bad_request(format!("reading the body failed: {e}"))),
            Err(_) => Err(ApiError::new(
                ErrorCode::RequestTimeout,
                format!("the request body did not arrive within {:?}", self.timeout),
            )),
        }
    }
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}
