//! Request parsing with hookd's errors: JSON bodies, query strings and pagination.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{ApiError, ErrorCode};
use crate::store::{Cursor, ListQuery, Page};

/// A JSON body: 413 past the size limit, 400 if it is not JSON, 422 if a field is wrong.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
            } else {
                ApiError::bad_request(rejection.body_text())
            }
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(body_error)
    }
}

/// A JSON body that may be left out (Svix's clients send none to some routes): absent or
/// blank is `T::default()`, anything else must be JSON (400 otherwise).
pub fn optional_json<T: Default + DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(body_error)
}

/// A body that does not parse: 400 when it is not JSON, 422 when it is JSON of the wrong
/// shape, naming the field when serde does (an unknown one, which is refused rather than
/// ignored, so a misspelt `filter_types` cannot create an endpoint for every event type).
fn body_error(err: serde_json::Error) -> ApiError {
    if err.classify() != serde_json::error::Category::Data {
        return ApiError::new(ErrorCode::InvalidJson, format!("the body is not valid JSON: {err}"));
    }
    let text = err.to_string();
    let named = ["unknown field `", "missing field `"].iter().find_map(|prefix| {
        let rest = text.split_once(prefix)?.1;
        rest.split_once('`').map(|(field, _)| field.to_owned())
    });
    match named {
        Some(field) => ApiError::invalid_field(&field, text),
        None => ApiError::validation(text),
    }
}

/// The `Idempotency-Key` header, if one was sent; read alone, where a `HeaderMap` argument
/// would copy every header of every message.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get("idempotency-key") else { return Ok(Self(None)) };
        let key = value
            .to_str()
            .map_err(|_| ApiError::bad_request("Idempotency-Key must be visible ASCII"))?;
        Ok(Self(Some(key.to_owned())))
    }
}

/// The query string as decoded pairs. Repeated keys and comma-separated lists both work,
/// since client libraries differ in how they send lists.
pub struct QueryParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let raw = parts.uri.query().unwrap_or("");
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Ok(Self(pairs))
    }
}

impl QueryParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, with comma-separated values split.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name || k.strip_suffix("[]") == Some(name))
            .flat_map(|(_, v)| v.split(','))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => {
                Err(ApiError::bad_request(format!("{name} must be true or false, not {other:?}")))
            }
        }
    }

    /// A time filter. A time without an offset is taken as UTC.
    pub fn time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        crate::model::time::parse_client_time(text).map(Some).ok_or_else(|| {
            ApiError::bad_request(format!("{name} must be an RFC 3339 time, not {text:?}"))
        })
    }

    /// `limit` (1–250, default 50) and `iterator`; an iterator starting with `-` reads backwards.
    pub fn page(&self) -> Result<ListQuery, ApiError> {
        let limit = match self.get("limit") {
            None => 50,
            Some(v) => {
                v.parse::<u32>().ok().filter(|n| (1..=250).contains(n)).ok_or_else(|| {
                    ApiError::bad_request("limit must be a whole number from 1 to 250")
                })?
            }
        };
        let cursor = match self.get("iterator").filter(|i| !i.is_empty()) {
            None => Cursor::Start,
            Some(i) => match i.strip_prefix('-') {
                Some(before) => Cursor::Before(before.to_owned()),
                None => Cursor::After(i.to_owned()),
            },
        };
        Ok(ListQuery { limit, cursor })
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .flatten();
        match (bytes[i], escaped) {
            (_, Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Svix's list shape. `iterator` is always present (null at the end), as clients require.
/// A page of a list: Svix's `ListResponse…Out`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    pub data: Vec<T>,
    pub iterator: Option<String>,
    pub prev_iterator: Option<String>,
    pub done: bool,
}

impl<T> ListResponse<T> {
    /// Builds the page's cursors from each item's key.
    pub fn from_page<M>(page: Page<M>, key: impl Fn(&M) -> String, out: impl Fn(M) -> T) -> Self {
        let iterator = page.items.last().map(&key);
        let prev_iterator = page.items.first().map(|m| format!("-{}", key(m)));
        let data = page.items.into_iter().map(out).collect();
        Self { data, iterator, prev_iterator, done: !page.has_more }
    }
}

/// A time in a body field (RFC 3339; without an offset, UTC); a 422 naming the field if not.
pub fn body_time(field: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    crate::model::time::parse_client_time(text)
        .map(Some)
        .ok_or_else(|| ApiError::invalid_field(field, "must be an RFC 3339 time"))
}

/// For PATCH bodies: tells "absent" (`None`) from "null" (`Some(None)`).
pub fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_and_plus() {
        assert_eq!(percent_decode("a%2Cb+c%2"), "a,b c%2");
        assert_eq!(
            percent_decode("2024-01-01T00%3A00%3A00%2B00%3A00"),
            "2024-01-01T00:00:00+00:00"
        );
    }
}
