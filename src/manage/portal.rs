//! Application portal access: tokens that let an application's own users manage that one
//! application's endpoints and see its messages, in the portal and through the API.

use crate::error::{DomainError, DomainResult};
use crate::model::time::now_ms;
use crate::model::{Application, Session};
use crate::security::credentials::{self, Kind, PORTAL_PREFIX};
use crate::store::{Store, StoreError};

/// Svix's default lifetime of a portal token: a week.
pub const DEFAULT_EXPIRY_S: u64 = 7 * 24 * 3600;
/// The longest a portal token may live: a year.
pub const MAX_EXPIRY_S: u64 = 365 * 24 * 3600;

/// A new portal token for `app`, valid for `expiry_s` seconds; `read_only` changes nothing.
pub async fn grant(
    store: &dyn Store,
    app: &Application,
    expiry_s: Option<u64>,
    read_only: bool,
) -> DomainResult<String> {
    let expiry = expiry_s.unwrap_or(DEFAULT_EXPIRY_S);
    if !(1..=MAX_EXPIRY_S).contains(&expiry) {
        return Err(DomainError::invalid(
            "expiry",
            format!("expiry is 1 to {MAX_EXPIRY_S} seconds"),
        ));
    }
    let lifetime_ms = (expiry as i64).saturating_mul(1000);
    let (token, session) =
        credentials::issue(Kind::Portal, Some(app.id.clone()), read_only, lifetime_ms);
    store.insert_session(session).await?;
    Ok(token)
}

/// Ends every portal token and portal session of the application, at once or within
/// `in_s` seconds; returns how many were cut short.
pub async fn revoke_all(store: &dyn Store, app_id: &str, in_s: Option<u64>) -> DomainResult<usize> {
    let delay_ms = in_s.unwrap_or(0).min(MAX_EXPIRY_S) as i64 * 1000;
    Ok(store.expire_app_sessions(app_id, now_ms() + delay_ms).await?)
}

/// The session a portal token opens, if it is one and still valid.
pub async fn open(store: &dyn Store, token: &str) -> DomainResult<Option<Session>> {
    if !token.starts_with(PORTAL_PREFIX) {
        return Ok(None);
    }
    open_session(store, Kind::Portal, token).await
}

/// The session a credential of `kind` opens (a console cookie's secret, a portal token), if
/// it is still valid.
pub async fn open_session(
    store: &dyn Store,
    kind: Kind,
    secret: &str,
) -> DomainResult<Option<Session>> {
    match store.get_session(&credentials::stored_id(kind, secret), now_ms()).await {
        Ok(session) => Ok(Some(session)),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The link that signs its holder into the portal, on this server as the caller reached it
/// (https behind a TLS proxy that sets `X-Forwarded-Proto`). The token travels in the
/// fragment, which browsers never send to a server, so it reaches no access log.
pub fn entry_url(headers: &axum::http::HeaderMap, token: &str) -> String {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = match text("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    let host = text("host").unwrap_or("127.0.0.1:8071");
    format!("{scheme}://{host}/portal#token={token}")
}
