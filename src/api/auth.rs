//! Who is calling: the admin token, which may do everything, or a portal token, which may
//! reach one application's routes only (others' answer 404, operator routes 403) and, when
//! read-only, only read them.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;

use super::{ApiState, BodyLimits};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::manage::portal;
use crate::model::Session;
use crate::security::token;

/// Routes a portal token may take besides its application's: reading the catalogue, which
/// its endpoint forms choose from.
const PORTAL_READABLE: &[&str] = &["/api/v1/event-type", "/api/v1/event-type/{name}"];

/// The gate in front of every protected route: the token is checked first, and only then is
/// the body read, within `body`'s limits. One layer, not two: each layer costs every request
/// a boxed future and a clone of the route behind it.
pub async fn require_token(
    State(state): State<ApiState>,
    body: BodyLimits,
    req: Request,
    next: Next,
) -> ApiResult<Response> {
    let given = bearer(req.headers()).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthorized,
            "send the admin token as `Authorization: Bearer <token>`",
        )
    })?;
    if hides_operational_app(&req) {
        return Err(ApiError::not_found("application"));
    }
    if !token::matches(&state.admin_token, given) {
        let Some(session) = portal::open(state.store.as_ref(), given).await? else {
            return Err(ApiError::new(ErrorCode::Unauthorized, "the bearer token is not valid"));
        };
        let route = req.extensions().get::<MatchedPath>().map_or("", MatchedPath::as_str);
        let asked = Asked { method: req.method().clone(), route, path: req.uri().path() };
        within_scope(&state, &session, asked).await?;
    }
    Ok(next.run(body.read_request(req).await?).await)
}

/// The operational webhooks' application is reached only through its own routes: named in
/// any other path it does not exist, so no one sends it a forged operational event.
fn hides_operational_app(req: &Request) -> bool {
    req.extensions().get::<super::OperationalRoute>().is_none()
        && req.uri().path().split('/').any(|segment| segment == crate::operational::APP_ID)
}

/// The token of an `Authorization: Bearer <token>` header; the scheme's name in any case,
/// as RFC 7235 has it.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether the request carries the admin token or a live portal token, for answers that
/// must not tell a stranger anything (which methods a route takes).
pub(super) async fn signed_in(state: &ApiState, headers: &HeaderMap) -> bool {
    match bearer(headers) {
        Some(given) if token::matches(&state.admin_token, given) => true,
        Some(given) => matches!(portal::open(state.store.as_ref(), given).await, Ok(Some(_))),
        None => false,
    }
}

/// What a request asks for, as far as scoping cares (owned parts: a request's body cannot
/// be held across the store lookup).
struct Asked<'a> {
    method: Method,
    route: &'a str,
    path: &'a str,
}

/// Whether a portal session may make this request.
async fn within_scope(state: &ApiState, session: &Session, asked: Asked<'_>) -> ApiResult<()> {
    let reading = matches!(asked.method, Method::GET | Method::HEAD);
    if session.read_only && !reading {
        return Err(forbidden("this portal token is read-only"));
    }
    let route = asked.route;
    if reading && PORTAL_READABLE.contains(&route) {
        return Ok(());
    }
    if !route.starts_with("/api/v1/app/{app_id}") {
        return Err(forbidden("a portal token reaches its own application's routes only"));
    }
    if route == "/api/v1/app/{app_id}" && !reading {
        // Renaming or deleting the application is the operator's, as in the console.
        return Err(forbidden("a portal token may read its application, not change it"));
    }
    let named = asked.path.split('/').nth(4).unwrap_or("");
    let own = session.app_id.as_deref().unwrap_or("");
    if named == own {
        return Ok(()); // Named by its id: no lookup needed.
    }
    match state.store.get_app(named).await {
        Ok(app) if app.id == own => Ok(()),
        // Another application is, for this token, not there at all.
        Ok(_) | Err(crate::store::StoreError::NotFound(_)) => {
            Err(ApiError::not_found("application"))
        }
        Err(e) => Err(e.into()),
    }
}

fn forbidden(detail: &str) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, detail)
}
