//! What both backends share about rows: the columns they select, so a row reads the same
//! everywhere, and the JSON text that JSON-valued fields are stored as.

use serde::Serialize;

pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

pub fn opt_json<T: Serialize>(value: &Option<T>) -> Option<String> {
    value.as_ref().map(to_json)
}

pub const APP: &str = "id, uid, name, rate_limit, metadata, created_at, updated_at";

pub const EVENT_TYPE: &str = "name, description, archived, deprecated, schemas, feature_flag, \
     group_name, created_at, updated_at";

pub const ENDPOINT: &str = "id, app_id, uid, url, description, version, disabled, filter_types, \
     channels, throttle_rate, metadata, headers, secret, previous_secrets, failing_since, profile, \
     profile_config, template, created_at, updated_at";

pub const MESSAGE: &str = "id, app_id, event_type, event_id, channels, tags, payload, created_at";

pub const ATTEMPT: &str = "id, msg_id, endpoint_id, url, response, response_status_code, \
     response_duration_ms, status, trigger_type, created_at";

/// A `LIKE` pattern matching any text that contains `text`: its own `%`, `_` and `\\` are
/// escaped (with `ESCAPE '\\'`), so they match themselves.
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
