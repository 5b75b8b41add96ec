//! What every HTTP request leaves behind, API and console alike: a request id (taken from the
//! client's `X-Request-Id` when it is a sane one, made up otherwise) returned in the response
//! and carried by every log line the request causes, and its count and duration in the
//! metrics under its route template.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::model::ids;

pub const REQUEST_ID: &str = "x-request-id";

/// A request that no route took (the fallback) is counted under this route.
const UNMATCHED: &str = "unmatched";

pub async fn observe(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let route = route.unwrap_or_else(|| UNMATCHED.to_owned());
    // Only the id: a span's fields are formatted when it is made, on every request.
    let span = tracing::info_span!("request", id = %id);
    let mut response = next.run(req).instrument(span.clone()).await;
    let status = response.status();
    if status.is_server_error() {
        span.in_scope(|| {
            tracing::warn!(%method, %route, status = status.as_u16(), "request failed");
        });
    }
    metrics.http_request(method.as_str(), &route, status.as_u16(), started.elapsed());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The client's id if it is 1 to 64 letters, digits, `-`, `_` or `.` (anything else could
/// forge log lines), else a new one.
fn request_id(req: &Request) -> String {
    let given = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok());
    match given {
        Some(id) if is_sane(id) => id.to_owned(),
        _ => ids::new_id("req_"),
    }
}

fn is_sane(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn only_plain_ids_are_taken_from_the_client() {
        assert!(is_sane("3f2c-11aa_b.c"));
        assert!(!is_sane(""));
        assert!(!is_sane("a b"));
        assert!(!is_sane("line\nbreak"));
        assert!(!is_sane(&"x".repeat(65)));
    }
}
