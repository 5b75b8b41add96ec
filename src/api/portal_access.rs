//! `/api/v1/auth/…`: portal access for an application's own users, in Svix's shapes.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::applications::resolve;
use super::extract::optional_json;
use crate::error::ApiResult;
use crate::manage::portal;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/auth/app-portal-access/{app_id}", post(grant))
        // Svix's older name for the same thing, which its client libraries still call.
        .route("/api/v1/auth/dashboard-access/{app_id}", post(grant))
        .route("/api/v1/auth/app/{app_id}/expire-all", post(expire_all))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AccessIn {
    /// Seconds the token is valid (Svix's default: a week).
    expiry: Option<u64>,
    #[serde(default)]
    read_only: bool,
}

#[derive(Serialize)]
struct AccessOut {
    url: String,
    token: String,
}

/// A portal token, and the URL that signs its holder into the portal. The token travels in
/// the URL's fragment, which browsers never send to a server (nor to its logs). Only the
/// admin token reaches these routes: `auth` refuses portal tokens outside their application.
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

#[derive(Deserialize, Default)]
struct ExpireIn {
    /// Seconds until the tokens expire; at once if absent.
    expiry: Option<u64>,
}

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
