//! Sessions, and who may see and do what.
//!
//! Signing in stores a [`Session`] and gives the browser a cookie with a random secret; the
//! store keeps only the secret's SHA-256, so neither a token nor a usable secret is at rest.
//! The cookie is HttpOnly (no script reads it) and SameSite=Strict (no other site's request
//! carries it). Every form also carries a CSRF token derived from the secret, and a form
//! from another origin is refused, so a page elsewhere cannot act for a signed-in user.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::UiState;
use super::error::{UiError, UiResult};
use super::form::{self, Fields};
use crate::manage::portal;
use crate::model::{Application, Session};
use crate::security::credentials::Kind;
use crate::security::token;

pub const COOKIE: &str = "hookd_session";
/// A console session lasts a working day; signing in again is cheap.
pub const LIFETIME_MS: i64 = 12 * 3600 * 1000;

/// The signed-in person making this request.
pub struct Viewer {
    pub session: Session,
    secret: String,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.session.app_id.is_none()
    }

    pub fn may_change(&self) -> bool {
        !self.session.read_only
    }

    /// The token every form of this session carries.
    pub fn csrf(&self) -> String {
        csrf_for(&self.secret)
    }

    /// Operator pages: a portal session is refused.
    pub fn require_admin(&self) -> UiResult<()> {
        match self.is_admin() {
            true => Ok(()),
            false => Err(UiError::Forbidden("This page is for the operator only.".into())),
        }
    }

    /// An application's pages: a portal session sees its own application only; any other
    /// is, for it, not there at all.
    pub fn require_app(&self, app: &Application) -> UiResult<()> {
        match &self.session.app_id {
            Some(own) if *own != app.id => Err(UiError::NotFound),
            _ => Ok(()),
        }
    }
}

impl FromRequestParts<UiState> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &UiState) -> UiResult<Self> {
        let secret = cookie(&parts.headers, COOKIE).ok_or(UiError::SignIn)?;
        let opened = portal::open_session(state.store.as_ref(), Kind::Cookie, &secret).await?;
        let session = opened.ok_or(UiError::SignIn)?;
        if session.app_id.is_some() {
            if let Some(frame) = parts.extensions.get::<super::FramePolicy>() {
                frame.allow_embedding();
            }
        }
        Ok(Self { session, secret })
    }
}

/// A form that changes something: from a signed-in session that may change things, with
/// its CSRF token, from this origin.
pub struct Submitted {
    pub viewer: Viewer,
    pub fields: Fields,
}

impl FromRequest<UiState> for Submitted {
    type Rejection = UiError;

    async fn from_request(req: Request, state: &UiState) -> UiResult<Self> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let fields = verified_form(&parts.headers, state, body, &viewer).await?;
        if !viewer.may_change() {
            return Err(UiError::Forbidden("This session is read-only.".into()));
        }
        Ok(Self { viewer, fields })
    }
}

/// Reads a form of `viewer`'s session, refusing it from another origin or without the
/// session's CSRF token.
pub async fn verified_form(
    headers: &HeaderMap,
    state: &UiState,
    body: axum::body::Body,
    viewer: &Viewer,
) -> UiResult<Fields> {
    same_origin(headers)?;
    let fields = form::read(state, body).await?;
    if !token::matches(&viewer.csrf(), fields.get("csrf")) {
        return Err(UiError::Forbidden("The form has expired; reload the page and retry.".into()));
    }
    Ok(fields)
}

/// Refuses a request a browser marks as sent from another site or origin. Current browsers
/// send `Sec-Fetch-Site` with every request, and it decides; older ones send `Origin` with
/// form posts, compared with the host the browser addressed (`X-Forwarded-Host` behind a
/// proxy that rewrites `Host`). A client that sends neither is not a browser acting for
/// someone, and still needs the CSRF token.
pub fn same_origin(headers: &HeaderMap) -> UiResult<()> {
    let refused = || UiError::Forbidden("Forms are accepted from this console only.".into());
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return match site {
            "same-origin" | "none" => Ok(()),
            _ => Err(refused()),
        };
    }
    if let Some(origin) = text("origin") {
        let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
        let addressed = text("x-forwarded-host").or_else(|| text("host"));
        if Some(authority) != addressed {
            return Err(refused());
        }
    }
    Ok(())
}

/// How a session's cookie is set.
#[derive(Debug, Clone, Copy, Default)]
pub struct CookieKind {
    /// A portal session when the portal may be framed: `SameSite=None; Secure; Partitioned`,
    /// since a strict cookie is not sent inside another site's frame, and a partitioned one
    /// is kept apart per embedding site. Its forms are still guarded by the CSRF token and
    /// the origin check.
    pub embeddable: bool,
    /// The browser came over HTTPS (`X-Forwarded-Proto: https` from a TLS proxy): `Secure`.
    pub https: bool,
}

impl CookieKind {
    pub fn of(headers: &HeaderMap, embeddable: bool) -> Self {
        let https = headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes() == b"https");
        Self { embeddable, https }
    }
}

/// The `Set-Cookie` value that holds `secret` (or, with `None`, clears it).
pub fn set_cookie(secret: Option<&str>, max_age_s: i64, kind: CookieKind) -> String {
    let value = secret.unwrap_or("");
    let age = if secret.is_some() { max_age_s.max(1) } else { 0 };
    let site = match kind {
        CookieKind { embeddable: true, .. } => "SameSite=None; Secure; Partitioned",
        CookieKind { https: true, .. } => "SameSite=Strict; Secure",
        _ => "SameSite=Strict",
    };
    format!("{COOKIE}={value}; Path=/; HttpOnly; {site}; Max-Age={age}")
}

fn csrf_for(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(crate::signing::hmac_sha256(secret.as_bytes(), &[b"hookd csrf"]))
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}
