//! `/api/v1/auth/…`: portal access for an application's own users, in Svix's shapes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::applications::resolve;
use super::extract::optional_json;
use super::openapi::AppPath;
use crate::error::ApiResult;
use crate::manage::portal;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(grant))
        .routes(routes!(grant_dashboard))
        .routes(routes!(expire_all))
}

#[derive(utoipa::ToSchema, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AccessIn {
    /// Seconds the token is valid (Svix's default: a week).
    expiry: Option<u64>,
    #[serde(default)]
    read_only: bool,
}

#[derive(utoipa::ToSchema, Serialize)]
struct AccessOut {
    url: String,
    token: String,
}

/// A portal token, and the URL that signs its holder into the portal. The token travels in
/// the URL's fragment, which browsers never send to a server (nor to its logs). Only the
/// admin token reaches these routes: `auth` refuses portal tokens outside their application.
#[utoipa::path(post, path = "/api/v1/auth/app-portal-access/{app_id}", tag = TAG, params(AppPath),
    request_body(content = Option<AccessIn>), responses((status = 200, body = AccessOut)))]
async fn grant(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<AccessOut>> {
    let input: AccessIn = optional_json(&body)?;
    let app = resolve(&s, &app_id).await?;
    let token = portal::grant(s.store.as_ref(), &app, input.expiry, input.read_only).await?;
    let url = portal::entry_url(&headers, &token);
    Ok(Json(AccessOut { url, token }))
}

#[derive(utoipa::ToSchema, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExpireIn {
    /// Seconds until the tokens expire; at once if absent.
    expiry: Option<u64>,
}

#[utoipa::path(post, path = "/api/v1/auth/app/{app_id}/expire-all", tag = TAG, params(AppPath),
    request_body(content = Option<ExpireIn>), responses((status = 204, description = "the tokens expire")))]
async fn expire_all(
    State(s): State<ApiState>,
    Path(app_id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let input: ExpireIn = optional_json(&body)?;
    let app = resolve(&s, &app_id).await?;
    portal::revoke_all(s.store.as_ref(), &app.id, input.expiry).await?;
    Ok(StatusCode::NO_CONTENT)
}

const TAG: &str = "Authentication";

/// Svix's older name for `app-portal-access`, which its client libraries still call.
#[utoipa::path(post, path = "/api/v1/auth/dashboard-access/{app_id}", tag = TAG, params(AppPath),
    request_body(content = Option<AccessIn>), responses((status = 200, body = AccessOut)))]
async fn grant_dashboard(
    state: State<ApiState>,
    app_id: Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<AccessOut>> {
    grant(state, app_id, headers, body).await
}
