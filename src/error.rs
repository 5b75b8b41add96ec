//! The one table of error codes a user of the API can see, and the error types of each layer.
//!
//! Which error belongs where:
//! - [`StoreError`] (`store/`): what the database said, in the domain's terms.
//! - [`DomainError`] (`validate`, `ingest`, `manage/`): a request broke a rule of hookd's;
//!   nothing of HTTP in it, so the console and the API share it.
//! - [`ApiError`] (`api/`): the JSON answer, its stable code and its status, made from either
//!   of the above. `ui::error::UiError` is the console's page for the same.
//!
//! Every error a client can cause maps to a stable snake_case `code` and the HTTP status that
//! fits it. The body is always `{"code": ..., "detail": ...}`. Server faults are logged once,
//! here, at the boundary, and answered with an opaque body so no internals leak.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// A stable error code. Clients match on [`ErrorCode::as_str`], so never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request body is not JSON, or not well-formed JSON.
    InvalidJson,
    /// The request is malformed in some other way (bad query parameter, bad iterator).
    BadRequest,
    /// Missing or wrong `Authorization: Bearer` token.
    Unauthorized,
    /// The token is valid but may not do this (a portal token on an operator route, or a
    /// read-only portal token changing something).
    Forbidden,
    /// No such resource (or route).
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// A unique field (`uid`, event type name) is already taken.
    Conflict,
    /// A message with this `eventId` was already accepted for this application.
    DuplicateEventId,
    /// The body is larger than `max_body_size`.
    PayloadTooLarge,
    /// The body did not arrive within `server.body_timeout`.
    RequestTimeout,
    /// The body is JSON but a field is missing, of the wrong type or out of range.
    Validation,
    /// Something went wrong inside hookd; the details are in its log.
    Internal,
    /// hookd cannot do its work now (the store does not take writes); the health check's
    /// answer, with the reason.
    Unavailable,
}

impl ErrorCode {
    /// Every code, for the OpenAPI document (a new code goes here too).
    pub const ALL: [ErrorCode; 13] = [
        Self::InvalidJson,
        Self::BadRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::DuplicateEventId,
        Self::PayloadTooLarge,
        Self::RequestTimeout,
        Self::Validation,
        Self::Internal,
        Self::Unavailable,
    ];

    /// The status and the wire name of each code: the single place they are defined.
    pub const fn parts(self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidJson => (StatusCode::BAD_REQUEST, "invalid_json"),
            Self::BadRequest => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Conflict => (StatusCode::CONFLICT, "conflict"),
            Self::DuplicateEventId => (StatusCode::CONFLICT, "duplicate_event_id"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::Validation => (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        }
    }

    pub const fn status(self) -> StatusCode {
        self.parts().0
    }

    pub const fn as_str(self) -> &'static str {
        self.parts().1
    }
}

/// What a 503 tells a client to wait before it tries again, in seconds.
const RETRY_AFTER_SECONDS: &str = "5";

/// An error on its way to becoming a JSON response.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    /// For validation errors: the path of the offending field in the body, e.g. `["body", "url"]`.
    pub loc: Vec<String>,
}

#[derive(Serialize)]
struct ErrorBody<'a, D: Serialize> {
    code: &'a str,
    detail: D,
}

/// One entry of a 422's `detail` list. Svix (and its client libraries, which parse it) use this
/// FastAPI-style shape for validation errors, so hookd does too.
#[derive(Serialize)]
struct FieldError<'a> {
    loc: &'a [String],
    msg: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self { code, detail: detail.into(), loc: Vec::new() }
    }

    /// A 422 that names the field at fault.
    pub fn invalid_field(field: &str, detail: impl Into<String>) -> Self {
        let loc = vec!["body".to_owned(), field.to_owned()];
        Self { code: ErrorCode::Validation, detail: detail.into(), loc }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Validation, detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code.as_str();
        match self.code {
            ErrorCode::Validation => {
                let loc = if self.loc.is_empty() { vec!["body".to_owned()] } else { self.loc };
                let field = FieldError { loc: &loc, msg: &self.detail, kind: "value_error" };
                (self.code.status(), Json(ErrorBody { code, detail: [field] })).into_response()
            }
            ErrorCode::Internal => {
                tracing::error!(detail = %self.detail, "internal error");
                let detail = "internal error; see the server log";
                (self.code.status(), Json(ErrorBody { code, detail })).into_response()
            }
            ErrorCode::Unavailable => {
                // A passing condition (a full disk, the database restarting): say when to
                // try again, as RFC 9110 has it for 503.
                let retry = [(axum::http::header::RETRY_AFTER, RETRY_AFTER_SECONDS)];
                let body = Json(ErrorBody { code, detail: &self.detail });
                (self.code.status(), retry, body).into_response()
            }
            _ => {
                (self.code.status(), Json(ErrorBody { code, detail: &self.detail })).into_response()
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => Self::not_found(what),
            StoreError::Conflict(detail) => Self::new(ErrorCode::Conflict, detail),
            StoreError::DuplicateEventId(id) => Self::new(
                ErrorCode::DuplicateEventId,
                format!("a message with eventId {id:?} was already accepted for this application"),
            ),
            StoreError::Internal(detail) => Self::new(ErrorCode::Internal, detail),
            StoreError::Unavailable(detail) => Self::new(ErrorCode::Unavailable, detail),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A request that breaks one of hookd's rules, or a store failure met while applying them.
#[derive(Debug, Clone, PartialEq)]
pub enum DomainError {
    /// A field of the request is missing, of the wrong kind or out of range; `field` is its
    /// name in the API's JSON.
    Invalid { field: String, detail: String },
    /// The request is malformed outside its fields (a header, a query parameter).
    BadRequest(String),
    /// The named thing does not exist.
    NotFound(String),
    /// A unique name is taken, or the thing changed meanwhile.
    Conflict(String),
    /// This application already accepted a message with this `eventId`.
    DuplicateEventId(String),
    /// A fault inside hookd; the text is for the log.
    Internal(String),
    /// The store cannot take writes for now (a full disk, the database down): try again.
    Unavailable(String),
}

pub type DomainResult<T> = Result<T, DomainError>;

impl DomainError {
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Self::Invalid { field: field.to_owned(), detail: detail.into() }
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("{what} not found"))
    }
}

impl std::fmt::Display for DomainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid { detail, .. } => f.write_str(detail),
            Self::BadRequest(d)
            | Self::NotFound(d)
            | Self::Conflict(d)
            | Self::Internal(d)
            | Self::Unavailable(d) => f.write_str(d),
            Self::DuplicateEventId(id) => write!(f, "duplicate eventId {id}"),
        }
    }
}

impl From<StoreError> for DomainError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => Self::not_found(what),
            StoreError::Conflict(detail) => Self::Conflict(detail),
            StoreError::DuplicateEventId(id) => Self::DuplicateEventId(id),
            StoreError::Internal(detail) => Self::Internal(detail),
            StoreError::Unavailable(detail) => Self::Unavailable(detail),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::Invalid { field, detail } => Self::invalid_field(&field, detail),
            DomainError::BadRequest(detail) => Self::bad_request(detail),
            DomainError::NotFound(detail) => Self::new(ErrorCode::NotFound, detail),
            DomainError::Conflict(detail) => Self::new(ErrorCode::Conflict, detail),
            DomainError::DuplicateEventId(id) => Self::from(StoreError::DuplicateEventId(id)),
            DomainError::Internal(detail) => Self::new(ErrorCode::Internal, detail),
            DomainError::Unavailable(detail) => Self::new(ErrorCode::Unavailable, detail),
        }
    }
}
