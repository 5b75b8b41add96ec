//! The console and the application portal: server-rendered pages for people.
//!
//! Every page works without JavaScript; `assets/app.js` only enhances (local times, copy
//! buttons, forms sent in place). Pages call the same domain functions as the API
//! ([`crate::manage`], the store's reads), so a rule exists once. Templates live in
//! `templates/ui/` and are compiled into the binary by askama, which escapes every value by
//! default (see docs/decisions/0006-console.md).
//!
//! Who may see what is decided in [`session`]: a session is the operator's or one
//! application's (a portal session); a form is accepted only with its session's CSRF token
//! and from the console's own origin.

mod assets;
mod chart;
mod error;
mod form;
mod pages;
mod session;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;

pub use error::not_found;

use crate::api::BodyLimits;
use crate::ingest::Ingest;
use crate::store::Store;

/// What every page can reach.
#[derive(Clone)]
pub struct UiState {
    pub store: Arc<dyn Store>,
    pub ingest: Arc<Ingest>,
    pub admin_token: Arc<str>,
    /// How long a rotated-out secret keeps signing, in ms.
    pub rotation_grace_ms: i64,
    /// How much of a form is read, and for how long.
    pub body: BodyLimits,
    /// Origins whose pages may frame the portal (`console.frame_ancestors`).
    pub frame_ancestors: Arc<[String]>,
    pub events: crate::operational::Events,
}

/// The console's routes: everything outside `/api/`.
pub fn router(state: UiState) -> Router {
    let policies = Policies {
        closed: content_policy(&[]),
        embeddable: content_policy(&state.frame_ancestors),
    };
    pages::routes()
        .merge(assets::routes())
        .layer(middleware::from_fn(move |req, next| security_headers(policies.clone(), req, next)))
        .with_state(state)
}

/// Whether this response may be framed by the configured sites: the portal's own pages
/// (its entry, signing in, and any page of a portal session) may; the operator's never.
/// The session is known only once the handler's [`session::Viewer`] is read, so the
/// middleware hands this flag down in the request and reads it back.
#[derive(Clone, Default)]
pub struct FramePolicy(Arc<AtomicBool>);

impl FramePolicy {
    pub fn allow_embedding(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[derive(Clone)]
struct Policies {
    closed: HeaderValue,
    embeddable: HeaderValue,
}

/// No inline script or style, no sending forms elsewhere: an injected tag can neither run
/// nor exfiltrate. No page may frame the console but the configured sites, and those only
/// the portal; their origins were checked to be plain origins when the config was read.
fn content_policy(frame_ancestors: &[String]) -> HeaderValue {
    let ancestors = match frame_ancestors {
        [] => "'none'".to_owned(),
        origins => format!("'self' {}", origins.join(" ")),
    };
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         form-action 'self'; frame-ancestors {ancestors}; base-uri 'none'; object-src 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("frame-ancestors 'none'"))
}

/// Pages are per user, so nothing is cached.
async fn security_headers(policies: Policies, mut req: Request, next: Next) -> Response {
    let frame = FramePolicy::default();
    if matches!(req.uri().path(), "/portal" | "/sign-in") {
        frame.allow_embedding();
    }
    req.extensions_mut().insert(frame.clone());
    let mut res = next.run(req).await;
    let policy = match frame.0.load(Ordering::Relaxed) {
        true => policies.embeddable,
        false => policies.closed,
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, policy);
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    res
}
