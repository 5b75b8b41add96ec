//! What both backends share about rows: the columns they select, the JSON text that
//! JSON-valued fields are stored as, and the mapping from a row to the domain, written once.
//!
//! A backend only says how to read one column of its row type ([`Columns`]). A JSON column
//! that does not parse means the database was edited by hand; that is an error on both
//! backends, never a silent default that a later write would then make permanent.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::task::{BackgroundTask, TaskKind, TaskStatus};
use crate::model::{
    Application, Attempt, DeliveryState, DeliveryStatus, Endpoint, EventType, Message, Session,
    TriggerType,
};
use crate::security::sealing::Keyring;
use crate::store::{StoreError, StoreResult};

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
     profile_config, template, payload_filter, hold_key_on_failure, created_at, updated_at";

pub const MESSAGE: &str =
    "id, app_id, event_type, event_id, channels, tags, payload, ordering_key, created_at";

pub const ATTEMPT: &str = "id, msg_id, endpoint_id, url, response, response_status_code, \
     response_duration_ms, status, trigger_type, created_at";

pub const DELIVERY_STATE: &str = "msg_id, endpoint_id, state, attempts, next_attempt_at";

pub const SESSION: &str = "id, app_id, read_only, created_at, expires_at";

pub const TASK: &str = "id, app_id, kind, status, selection, queued, cursor, cancel_requested, \
     error, lease_until, created_at, updated_at";

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

/// One row of a backend, read column by column. Integers come as `i64` whatever their width
/// in the schema, and booleans as `bool` (SQLite stores them as 0 or 1).
pub trait Columns {
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>>;
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>>;
    fn flag(&self, col: &str) -> StoreResult<bool>;

    fn text(&self, col: &str) -> StoreResult<String> {
        self.opt_text(col)?.ok_or_else(|| null(col))
    }

    fn int(&self, col: &str) -> StoreResult<i64> {
        self.opt_int(col)?.ok_or_else(|| null(col))
    }

    fn json<T: DeserializeOwned>(&self, col: &str) -> StoreResult<T> {
        self.opt_json(col)?.ok_or_else(|| null(col))
    }

    fn opt_json<T: DeserializeOwned>(&self, col: &str) -> StoreResult<Option<T>> {
        let Some(text) = self.opt_text(col)? else { return Ok(None) };
        parse_json(col, &text).map(Some)
    }

    /// A sealed column's plain text (see [`crate::security::sealing`]).
    fn sealed(&self, col: &str, id: &str, keys: &Keyring) -> StoreResult<String> {
        open(keys, id, col, &self.text(col)?)
    }

    fn opt_u32(&self, col: &str) -> StoreResult<Option<u32>> {
        self.opt_int(col)?.map(|v| narrow(col, v)).transpose()
    }
}

fn parse_json<T: DeserializeOwned>(col: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Internal(format!("column {col} holds invalid JSON: {e}")))
}

fn null(col: &str) -> StoreError {
    StoreError::Internal(format!("column {col} is NULL"))
}

fn narrow<T: TryFrom<i64>>(col: &str, value: i64) -> StoreResult<T> {
    T::try_from(value).map_err(|_| StoreError::Internal(format!("column {col} is out of range")))
}

pub fn app(row: &impl Columns) -> StoreResult<Application> {
    Ok(Application {
        id: row.text("id")?,
        uid: row.opt_text("uid")?,
        name: row.text("name")?,
        rate_limit: row.opt_u32("rate_limit")?,
        metadata: row.json("metadata")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

pub fn event_type(row: &impl Columns) -> StoreResult<EventType> {
    Ok(EventType {
        name: row.text("name")?,
        description: row.text("description")?,
        archived: row.flag("archived")?,
        deprecated: row.flag("deprecated")?,
        schemas: row.opt_json("schemas")?,
        feature_flag: row.opt_text("feature_flag")?,
        group_name: row.opt_text("group_name")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

/// An endpoint row, its sealed columns opened with `keys`.
pub fn endpoint(row: &impl Columns, keys: &Keyring) -> StoreResult<Endpoint> {
    let id = row.text("id")?;
    let previous_secrets = row.sealed("previous_secrets", &id, keys)?;
    let headers = row.sealed("headers", &id, keys)?;
    Ok(Endpoint {
        secret: row.sealed("secret", &id, keys)?,
        previous_secrets: parse_json("previous_secrets", &previous_secrets)?,
        headers: parse_json("headers", &headers)?,
        id,
        app_id: row.text("app_id")?,
        uid: row.opt_text("uid")?,
        url: row.text("url")?,
        description: row.text("description")?,
        version: narrow("version", row.int("version")?)?,
        disabled: row.flag("disabled")?,
        filter_types: row.opt_json("filter_types")?,
        channels: row.opt_json("channels")?,
        throttle_rate: row.opt_u32("throttle_rate")?,
        metadata: row.json("metadata")?,
        failing_since: row.opt_int("failing_since")?,
        profile: row.text("profile")?,
        profile_config: row.json("profile_config")?,
        template: row.opt_text("template")?,
        filter: row.opt_json("payload_filter")?,
        hold_key_on_failure: row.flag("hold_key_on_failure")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

/// An endpoint's sealed columns as they are stored: its secret, its previous secrets and its
/// custom headers (whose values are often credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub secret: String,
    pub previous_secrets: String,
    pub headers: String,
}

impl Sealed {
    pub fn of(ep: &Endpoint, keys: &Keyring) -> Self {
        let seal = |col, plain: &str| keys.seal(plain, &context(&ep.id, col));
        Self {
            secret: seal("secret", &ep.secret),
            previous_secrets: seal("previous_secrets", &to_json(&ep.previous_secrets)),
            headers: seal("headers", &to_json(&ep.headers)),
        }
    }

    /// The same values sealed with the current key, or `None` when they already are.
    pub fn resealed(&self, id: &str, keys: &Keyring) -> StoreResult<Option<Self>> {
        let columns = [&self.secret, &self.previous_secrets, &self.headers];
        if columns.iter().all(|c| keys.is_current(c)) {
            return Ok(None);
        }
        let reseal = |col, stored: &str| {
            open(keys, id, col, stored).map(|plain| keys.seal(&plain, &context(id, col)))
        };
        Ok(Some(Self {
            secret: reseal("secret", &self.secret)?,
            previous_secrets: reseal("previous_secrets", &self.previous_secrets)?,
            headers: reseal("headers", &self.headers)?,
        }))
    }
}

/// What a sealed value is bound to: its endpoint and column.
fn context(id: &str, col: &str) -> String {
    format!("endpoints/{id}/{col}")
}

fn open(keys: &Keyring, id: &str, col: &str, stored: &str) -> StoreResult<String> {
    keys.open(stored, &context(id, col))
        .map_err(|e| StoreError::Internal(format!("endpoint {id}, column {col}: {e}")))
}

pub fn message(row: &impl Columns) -> StoreResult<Message> {
    Ok(Message {
        id: row.text("id")?,
        app_id: row.text("app_id")?,
        event_type: row.text("event_type")?,
        event_id: row.opt_text("event_id")?,
        channels: row.opt_json("channels")?,
        tags: row.opt_json("tags")?,
        payload: row.text("payload")?,
        ordering_key: row.opt_text("ordering_key")?,
        created_at: row.int("created_at")?,
    })
}

pub fn attempt(row: &impl Columns) -> StoreResult<Attempt> {
    Ok(Attempt {
        id: row.text("id")?,
        msg_id: row.text("msg_id")?,
        endpoint_id: row.text("endpoint_id")?,
        url: row.text("url")?,
        response: row.text("response")?,
        response_status_code: narrow("response_status_code", row.int("response_status_code")?)?,
        response_duration_ms: row.int("response_duration_ms")?,
        status: DeliveryStatus::from_code(row.int("status")?),
        trigger_type: match row.int("trigger_type")? {
            1 => TriggerType::Manual,
            _ => TriggerType::Scheduled,
        },
        created_at: row.int("created_at")?,
    })
}

pub fn delivery_state(row: &impl Columns) -> StoreResult<DeliveryState> {
    Ok(DeliveryState {
        msg_id: row.text("msg_id")?,
        endpoint_id: row.text("endpoint_id")?,
        status: DeliveryStatus::from_code(row.int("state")?),
        attempts: row.int("attempts")?,
        next_attempt_at: row.opt_int("next_attempt_at")?,
    })
}

pub fn session(row: &impl Columns) -> StoreResult<Session> {
    Ok(Session {
        id: row.text("id")?,
        app_id: row.opt_text("app_id")?,
        read_only: row.flag("read_only")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
    })
}

pub fn task(row: &impl Columns) -> StoreResult<BackgroundTask> {
    let kind = row.text("kind")?;
    let status = row.text("status")?;
    Ok(BackgroundTask {
        id: row.text("id")?,
        app_id: row.text("app_id")?,
        kind: TaskKind::parse(&kind)
            .ok_or_else(|| StoreError::Internal(format!("unknown task kind {kind:?}")))?,
        status: TaskStatus::parse(&status)
            .ok_or_else(|| StoreError::Internal(format!("unknown task status {status:?}")))?,
        selection: row.json("selection")?,
        queued: narrow("queued", row.int("queued")?)?,
        cursor: row.int("cursor")?,
        cancel_requested: row.flag("cancel_requested")?,
        error: row.opt_text("error")?,
        lease_until: row.opt_int("lease_until")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}
