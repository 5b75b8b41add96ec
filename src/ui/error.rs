//! What a page shows when it cannot do what was asked: a readable page with the status that
//! fits, never a raw JSON body or a stack trace.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::error::{ApiError, DomainError, ErrorCode};
use crate::store::StoreError;

pub enum UiError {
    /// No session, or it expired: to the sign-in page.
    SignIn,
    /// Signed in, but this is not theirs to do (a portal session on an operator page, a
    /// read-only session changing something, a form from another origin).
    Forbidden(String),
    NotFound,
    BadRequest(String),
    /// A rule of the API refused it (a conflict, a bad value), with the API's status.
    Refused(StatusCode, String),
    /// A fault inside hookd; the details go to the log only.
    Internal(String),
}

pub type UiResult<T> = Result<T, UiError>;

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    detail: &'a str,
}

impl From<StoreError> for UiError {
    fn from(err: StoreError) -> Self {
        ApiError::from(err).into()
    }
}

impl From<DomainError> for UiError {
    fn from(err: DomainError) -> Self {
        ApiError::from(err).into()
    }
}

impl From<ApiError> for UiError {
    fn from(err: ApiError) -> Self {
        match err.code {
            ErrorCode::NotFound => Self::NotFound,
            ErrorCode::Internal => Self::Internal(err.detail),
            ErrorCode::Unauthorized | ErrorCode::Forbidden => Self::Forbidden(err.detail),
            code => Self::Refused(code.status(), err.detail),
        }
    }
}

impl From<askama::Error> for UiError {
    fn from(err: askama::Error) -> Self {
        Self::Internal(format!("rendering a page failed: {err}"))
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, title, detail) = match &self {
            Self::SignIn => return Redirect::to("/sign-in").into_response(),
            Self::Forbidden(why) => (StatusCode::FORBIDDEN, "Not allowed", why.as_str()),
            Self::NotFound => {
                (StatusCode::NOT_FOUND, "Not found", "There is nothing here, or it was deleted.")
            }
            Self::BadRequest(why) => (StatusCode::BAD_REQUEST, "That did not work", why.as_str()),
            Self::Refused(status, why) => (*status, "That did not work", why.as_str()),
            Self::Internal(why) => {
                tracing::error!(detail = %why, "console page failed");
                let detail = "Something went wrong inside hookd; the details are in its log.";
                (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", detail)
            }
        };
        let page = ErrorPage { title, detail }.render().unwrap_or_else(|_| title.to_owned());
        // Also outside the console's router (the fallback for unknown paths), so the page
        // carries the console's policy itself.
        let headers = [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'self'; frame-ancestors 'none'"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ];
        (status, headers, Html(page)).into_response()
    }
}

/// The console's answer for a path that names nothing.
pub async fn not_found() -> Response {
    UiError::NotFound.into_response()
}
