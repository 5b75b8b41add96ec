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
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::UiState;
use super::error::{UiError, UiResult};
use super::form::{self, Fields};
use crate::model::time::now_ms;
use crate::model::{Application, Session, ids};
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
        match state.store.get_session(&session_id(&secret), now_ms()).await {
            Ok(session) => Ok(Self { session, secret }),
            Err(crate::store::StoreError::NotFound(_)) => Err(UiError::SignIn),
            Err(e) => Err(e.into()),
        }
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

/// Refuses a request a browser marks as sent from another site or origin. Browsers send
/// `Sec-Fetch-Site` or `Origin` with every form post; a client that sends neither is not a
/// browser acting for someone, and still needs the CSRF token.
pub fn same_origin(headers: &HeaderMap) -> UiResult<()> {
    let refused = || UiError::Forbidden("Forms are accepted from this console only.".into());
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site")) {
        if !matches!(site, "same-origin" | "none") {
            return Err(refused());
        }
    }
    if let Some(origin) = text(header::ORIGIN) {
        let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
        if Some(authority) != text(header::HOST) {
            return Err(refused());
        }
    }
    Ok(())
}

/// A new session's cookie secret and the session to store for it.
pub fn start(app_id: Option<String>, read_only: bool, lifetime_ms: i64) -> (String, Session) {
    let mut bytes = [0u8; 32];
    ids::fill_random(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let now = now_ms();
    let session = Session {
        id: session_id(&secret),
        app_id,
        read_only,
        created_at: now,
        expires_at: now + lifetime_ms,
    };
    (secret, session)
}

/// The `Set-Cookie` value that holds `secret` (or, with `None`, clears it).
pub fn set_cookie(secret: Option<&str>, max_age_s: i64) -> String {
    let value = secret.unwrap_or("");
    let age = if secret.is_some() { max_age_s } else { 0 };
    format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}")
}

/// The store's key for a cookie secret.
pub fn session_id(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn csrf_for(secret: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(b"hookd csrf");
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
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
