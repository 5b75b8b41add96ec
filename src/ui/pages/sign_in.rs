//! Signing in with a token, and out; and the portal's entry, which signs an application's
//! user in with the portal token carried in the link's fragment.

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::render;
use crate::manage::portal;
use crate::model::time::now_ms;
use crate::security::credentials::{self, Kind};
use crate::security::token;
use crate::ui::UiState;
use crate::ui::error::UiResult;
use crate::ui::form;
use crate::ui::session::{self, CookieKind, LIFETIME_MS, Viewer};

pub fn routes() -> Router<UiState> {
    Router::new()
        .route("/sign-in", get(form_page).post(sign_in))
        .route("/portal", get(portal_page))
        .route("/sign-out", post(sign_out))
}

#[derive(Template)]
#[template(path = "ui/sign_in.html")]
struct SignInPage {
    error: Option<&'static str>,
    /// The portal's entry: the script signs in with the token in the link's fragment.
    portal: bool,
    /// Someone is signed in already: the portal link signs in only if they confirm, so a
    /// link cannot swap a signed-in person's session for another application's unseen.
    switching: bool,
}

async fn form_page() -> UiResult<Response> {
    render(&SignInPage { error: None, portal: false, switching: false })
}

async fn portal_page(State(state): State<UiState>, req: Request) -> UiResult<Response> {
    let (mut parts, _) = req.into_parts();
    let signed_in = Viewer::from_request_parts(&mut parts, &state).await.is_ok();
    render(&SignInPage { error: None, portal: true, switching: signed_in })
}

/// The admin token opens the console; a portal token opens its application's portal, for
/// as long as the token lasts (a working day at most). The session stores no token, only
/// the hash of the cookie's own secret.
async fn sign_in(State(state): State<UiState>, req: Request) -> UiResult<Response> {
    session::same_origin(req.headers())?;
    let https = CookieKind::of(req.headers(), false).https;
    let fields = form::read(&state, req.into_body()).await?;
    let given = fields.get("token").trim();
    let opened = if !given.is_empty() && token::matches(&state.admin_token, given) {
        Some((None, false, LIFETIME_MS))
    } else {
        portal::open(state.store.as_ref(), given).await?.map(|portal| {
            let left = (portal.expires_at - now_ms()).min(LIFETIME_MS);
            (portal.app_id, portal.read_only, left)
        })
    };
    let Some((app_id, read_only, lifetime)) = opened else {
        let page =
            SignInPage { error: Some("That token is not valid."), portal: false, switching: false };
        let mut res = render(&page)?;
        *res.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(res);
    };
    let to = app_id.as_ref().map_or("/".to_owned(), |app| format!("/apps/{app}/endpoints"));
    let embeddable = app_id.is_some() && !state.frame_ancestors.is_empty();
    let (secret, new) = credentials::issue(Kind::Cookie, app_id, read_only, lifetime);
    state.store.insert_session(new).await?;
    let kind = CookieKind { embeddable, https };
    let cookie = session::set_cookie(Some(&secret), (lifetime + 999) / 1000, kind);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&to)).into_response())
}

/// Ends the session in the store (a copied cookie stops working too) and in the browser.
async fn sign_out(
    State(state): State<UiState>,
    viewer: Viewer,
    req: Request,
) -> UiResult<Response> {
    let (parts, body) = req.into_parts();
    session::verified_form(&parts.headers, &state, body, &viewer).await?;
    state.store.delete_session(&viewer.session.id).await?;
    let embeddable = viewer.session.app_id.is_some() && !state.frame_ancestors.is_empty();
    let clear = session::set_cookie(None, 0, CookieKind::of(&parts.headers, embeddable));
    Ok(([(header::SET_COOKIE, clear)], Redirect::to("/sign-in")).into_response())
}
