//! Row ⇄ domain conversions for PostgreSQL. Same columns as SQLite (see `store::columns`);
//! JSON-valued fields are JSON text in both.

use serde::de::DeserializeOwned;
use tokio_postgres::Row;

use crate::model::{
    Application, Attempt, DeliveryStatus, Endpoint, EventType, Message, TriggerType,
};

type Result<T> = std::result::Result<T, tokio_postgres::Error>;

/// Invalid JSON in a JSON column means the database was edited by hand; the row's type's
/// default is safer than failing every read of it.
fn json<T: DeserializeOwned + Default>(row: &Row, col: &str) -> Result<T> {
    let text: String = row.try_get(col)?;
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

fn opt_json<T: DeserializeOwned>(row: &Row, col: &str) -> Result<Option<T>> {
    let text: Option<String> = row.try_get(col)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

fn opt_u32(row: &Row, col: &str) -> Result<Option<u32>> {
    let value: Option<i64> = row.try_get(col)?;
    Ok(value.and_then(|v| u32::try_from(v).ok()))
}

pub(super) fn app(row: &Row) -> Result<Application> {
    Ok(Application {
        id: row.try_get("id")?,
        uid: row.try_get("uid")?,
        name: row.try_get("name")?,
        rate_limit: opt_u32(row, "rate_limit")?,
        metadata: json(row, "metadata")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) fn event_type(row: &Row) -> Result<EventType> {
    Ok(EventType {
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        archived: row.try_get("archived")?,
        deprecated: row.try_get("deprecated")?,
        schemas: opt_json(row, "schemas")?,
        feature_flag: row.try_get("feature_flag")?,
        group_name: row.try_get("group_name")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) fn endpoint(row: &Row) -> Result<Endpoint> {
    Ok(Endpoint {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        uid: row.try_get("uid")?,
        url: row.try_get("url")?,
        description: row.try_get("description")?,
        version: row.try_get("version")?,
        disabled: row.try_get("disabled")?,
        filter_types: opt_json(row, "filter_types")?,
        channels: opt_json(row, "channels")?,
        throttle_rate: opt_u32(row, "throttle_rate")?,
        metadata: json(row, "metadata")?,
        headers: json(row, "headers")?,
        secret: row.try_get("secret")?,
        previous_secrets: json(row, "previous_secrets")?,
        failing_since: row.try_get("failing_since")?,
        profile: row.try_get("profile")?,
        profile_config: json(row, "profile_config")?,
        template: row.try_get("template")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) fn message(row: &Row) -> Result<Message> {
    Ok(Message {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        event_type: row.try_get("event_type")?,
        event_id: row.try_get("event_id")?,
        channels: opt_json(row, "channels")?,
        tags: opt_json(row, "tags")?,
        payload: row.try_get("payload")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn attempt(row: &Row) -> Result<Attempt> {
    let status: i16 = row.try_get("status")?;
    let trigger: i16 = row.try_get("trigger_type")?;
    Ok(Attempt {
        id: row.try_get("id")?,
        msg_id: row.try_get("msg_id")?,
        endpoint_id: row.try_get("endpoint_id")?,
        url: row.try_get("url")?,
        response: row.try_get("response")?,
        response_status_code: row.try_get("response_status_code")?,
        response_duration_ms: row.try_get("response_duration_ms")?,
        status: DeliveryStatus::from_code(i64::from(status)),
        trigger_type: if trigger == 1 { TriggerType::Manual } else { TriggerType::Scheduled },
        created_at: row.try_get("created_at")?,
    })
}
