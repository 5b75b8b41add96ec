//! Field rules shared by the API's resources and ingestion. Each returns a 422 naming the
//! field.

use crate::error::ApiError;
use crate::model::Metadata;

/// Keys users choose (uids, event-type names): 1–256 of `[A-Za-z0-9_.-]`.
pub fn key(field: &str, value: &str) -> Result<(), ApiError> {
    let ok = !value.is_empty()
        && value.len() <= 256
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            field,
            format!("{field} must be 1 to 256 characters of letters, digits, '_', '-' or '.'"),
        ))
    }
}

pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let len = value.chars().count();
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            field,
            format!("{field} must be {min} to {max} characters long"),
        ))
    }
}

pub fn metadata(value: &Metadata) -> Result<(), ApiError> {
    if value.len() > 64 || value.iter().any(|(k, v)| k.len() > 256 || v.len() > 1024) {
        return Err(ApiError::invalid_field(
            "metadata",
            "metadata takes at most 64 keys of 256 characters, values of 1024",
        ));
    }
    Ok(())
}

pub fn rate(field: &str, value: Option<u32>) -> Result<(), ApiError> {
    match value {
        Some(0) => Err(ApiError::invalid_field(field, format!("{field} must be at least 1"))),
        _ => Ok(()),
    }
}

/// A list of keys (event types, channels): at most `max` entries, each a valid key.
pub fn keys(field: &str, values: Option<&[String]>, max: usize) -> Result<(), ApiError> {
    let Some(values) = values else { return Ok(()) };
    if values.is_empty() || values.len() > max {
        return Err(ApiError::invalid_field(
            field,
            format!("{field} must list 1 to {max} entries, or be left out"),
        ));
    }
    values.iter().try_for_each(|v| key(field, v))
}
