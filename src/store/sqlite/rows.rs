//! Row ⇄ domain conversions. JSON-valued fields are stored as JSON text.

use rusqlite::Row;

pub(super) use crate::store::columns::{
    APP as APP_COLUMNS, ATTEMPT as ATTEMPT_COLUMNS, ENDPOINT as ENDPOINT_COLUMNS,
    EVENT_TYPE as EVENT_TYPE_COLUMNS, MESSAGE as MESSAGE_COLUMNS, opt_json, to_json,
};
use serde::de::DeserializeOwned;

use crate::model::{
    Application, Attempt, DeliveryStatus, Endpoint, EventType, Message, TriggerType,
};

fn from_json<T: DeserializeOwned>(row: &Row, idx: &str) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn from_opt_json<T: DeserializeOwned>(row: &Row, idx: &str) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
    })
    .transpose()
}

pub(super) fn app(row: &Row) -> rusqlite::Result<Application> {
    Ok(Application {
        id: row.get("id")?,
        uid: row.get("uid")?,
        name: row.get("name")?,
        rate_limit: row.get("rate_limit")?,
        metadata: from_json(row, "metadata")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

pub(super) fn event_type(row: &Row) -> rusqlite::Result<EventType> {
    Ok(EventType {
        name: row.get("name")?,
        description: row.get("description")?,
        archived: row.get("archived")?,
        deprecated: row.get("deprecated")?,
        schemas: from_opt_json(row, "schemas")?,
        feature_flag: row.get("feature_flag")?,
        group_name: row.get("group_name")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

pub(super) fn endpoint(row: &Row) -> rusqlite::Result<Endpoint> {
    Ok(Endpoint {
        id: row.get("id")?,
        app_id: row.get("app_id")?,
        uid: row.get("uid")?,
        url: row.get("url")?,
        description: row.get("description")?,
        version: row.get("version")?,
        disabled: row.get("disabled")?,
        filter_types: from_opt_json(row, "filter_types")?,
        channels: from_opt_json(row, "channels")?,
        throttle_rate: row.get("throttle_rate")?,
        metadata: from_json(row, "metadata")?,
        headers: from_json(row, "headers")?,
        secret: row.get("secret")?,
        previous_secrets: from_json(row, "previous_secrets")?,
        failing_since: row.get("failing_since")?,
        profile: row.get("profile")?,
        profile_config: from_json(row, "profile_config")?,
        template: row.get("template")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

pub(super) fn message(row: &Row) -> rusqlite::Result<Message> {
    Ok(Message {
        id: row.get("id")?,
        app_id: row.get("app_id")?,
        event_type: row.get("event_type")?,
        event_id: row.get("event_id")?,
        channels: from_opt_json(row, "channels")?,
        tags: from_opt_json(row, "tags")?,
        payload: row.get("payload")?,
        created_at: row.get("created_at")?,
    })
}

pub(super) fn attempt(row: &Row) -> rusqlite::Result<Attempt> {
    let trigger: i64 = row.get("trigger_type")?;
    Ok(Attempt {
        id: row.get("id")?,
        msg_id: row.get("msg_id")?,
        endpoint_id: row.get("endpoint_id")?,
        url: row.get("url")?,
        response: row.get("response")?,
        response_status_code: row.get("response_status_code")?,
        response_duration_ms: row.get("response_duration_ms")?,
        status: DeliveryStatus::from_code(row.get("status")?),
        trigger_type: if trigger == 1 { TriggerType::Manual } else { TriggerType::Scheduled },
        created_at: row.get("created_at")?,
    })
}
