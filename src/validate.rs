//! Field rules shared by the API's resources and ingestion. Each returns a 422 naming the
//! field.

use crate::error::{DomainError, DomainResult};
use crate::model::Metadata;

/// Keys users choose (uids, event-type names): 1–256 of `[A-Za-z0-9_.-]`.
pub fn key(field: &str, value: &str) -> DomainResult<()> {
    let ok = !value.is_empty()
        && value.len() <= 256
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            field,
            format!("{field} must be 1 to 256 characters of letters, digits, '_', '-' or '.'"),
        ))
    }
}

pub fn text(field: &str, value: &str, min: usize, max: usize) -> DomainResult<()> {
    let len = value.chars().count();
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(DomainError::invalid(field, format!("{field} must be {min} to {max} characters long")))
    }
}

pub fn metadata(value: &Metadata) -> DomainResult<()> {
    if value.len() > 64 || value.iter().any(|(k, v)| k.len() > 256 || v.len() > 1024) {
        return Err(DomainError::invalid(
            "metadata",
            "metadata takes at most 64 keys of 256 characters, values of 1024",
        ));
    }
    Ok(())
}

pub fn rate(field: &str, value: Option<u32>) -> DomainResult<()> {
    match value {
        Some(0) => Err(DomainError::invalid(field, format!("{field} must be at least 1"))),
        _ => Ok(()),
    }
}

/// A list of keys (event types, channels): at most `max` entries, each a valid key.
pub fn keys(field: &str, values: Option<&[String]>, max: usize) -> DomainResult<()> {
    let Some(values) = values else { return Ok(()) };
    if values.is_empty() || values.len() > max {
        return Err(DomainError::invalid(
            field,
            format!("{field} must list 1 to {max} entries, or be left out"),
        ));
    }
    values.iter().try_for_each(|v| key(field, v))
}

/// How deeply a payload may nest objects and arrays (the payload object itself is 1).
/// Payloads are kept as raw text, which skips serde's own recursion limit (128), so without
/// this a payload nested 10,000 deep was accepted and then broke every reader: the profiles
/// and templates that parse it (with the envelope's level added), and client libraries.
/// 100 leaves room for the envelopes, which add one level each.
pub const MAX_JSON_DEPTH: usize = 100;

/// Refuses JSON text nested deeper than [`MAX_JSON_DEPTH`]. `raw` is valid JSON (a
/// `RawValue`), so counting brackets outside strings is exact; one pass, no allocation.
pub fn json_depth(field: &str, raw: &str) -> DomainResult<()> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for b in raw.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' if depth == MAX_JSON_DEPTH => {
                return Err(DomainError::invalid(
                    field,
                    format!("{field} nests objects and arrays deeper than {MAX_JSON_DEPTH} levels"),
                ));
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!("{}{}", "{\"a\":".repeat(levels - 1) + "{", "}".repeat(levels))
    }

    #[test]
    fn depth_is_counted_outside_strings() {
        assert!(json_depth("payload", &nested(MAX_JSON_DEPTH)).is_ok());
        let err = json_depth("payload", &nested(MAX_JSON_DEPTH + 1)).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { field, .. } if field == "payload"));
        let brackets_in_strings = format!(r#"{{"s":"{}\"{}"}}"#, "[{".repeat(500), "[".repeat(500));
        assert!(json_depth("payload", &brackets_in_strings).is_ok());
        let arrays = format!("{{\"a\":{}{}}}", "[".repeat(99), "]".repeat(99));
        assert!(json_depth("payload", &arrays).is_ok());
        let arrays = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(json_depth("payload", &arrays).is_err());
    }
}
