//! Signing in with a token, and out.

use askama::Template;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::render;
use crate::security::token;
use crate::ui::UiState;
use crate::ui::error::UiResult;
use crate::ui::form;
use crate::ui::session::{self, LIFETIME_MS, Viewer};

pub fn routes() -> Router<UiState> {
    Router::new().route("/sign-in", get(form_page).post(sign_in)).route("/sign-out", post(sign_out))
}

#[derive(Template)]
#[template(path = "ui/sign_in.html")]
struct SignInPage {
    error: Option<&'static str>,
}

async fn form_page() -> UiResult<Response> {
    render(&SignInPage { error: None })
}

/// The admin token opens the console. The session stores no token, only the hash of the
/// cookie's own secret.
async fn sign_in(State(state): State<UiState>, req: Request) -> UiResult<Response> {
    session::same_origin(req.headers())?;
    let fields = form::read(&state, req.into_body()).await?;
    let given = fields.get("token").trim();
    if given.is_empty() || !token::matches(&state.admin_token, given) {
        let page = SignInPage { error: Some("That token is not valid.") };
        let mut res = render(&page)?;
        *res.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
        return Ok(res);
    }
    let (secret, new) = session::start(None, false, LIFETIME_MS);
    state.store.insert_session(new).await?;
    Ok(signed_in(&secret, LIFETIME_MS / 1000, "/"))
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
    let clear = session::set_cookie(None, 0);
    Ok(([(header::SET_COOKIE, clear)], Redirect::to("/sign-in")).into_response())
}

pub fn signed_in(secret: &str, max_age_s: i64, to: &str) -> Response {
    let cookie = session::set_cookie(Some(secret), max_age_s);
    ([(header::SET_COOKIE, cookie)], Redirect::to(to)).into_response()
}
