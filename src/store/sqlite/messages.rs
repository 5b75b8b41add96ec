//! Messages: acceptance with fan-out and idempotency, reads, and the per-endpoint delivery
//! state that attempts are made from.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

use super::endpoints;
use super::paging::paged;
use super::pool::internal;
use super::rows::{self, ATTEMPT_COLUMNS, MESSAGE_COLUMNS, opt_json};
use crate::model::ids::{MESSAGE, lowest_id_at};
use crate::model::{Attempt, DeliveryState, DeliveryStatus, Endpoint, Message};
use crate::store::Order;
use crate::store::{
    Accepted, ListQuery, MessageFilter, NewMessage, Page, StoreError, StoreResult, created,
    select_targets,
};

/// Runs inside the writer's group commit: everything here becomes durable together.
pub(super) fn accept(conn: &Connection, new: &NewMessage) -> StoreResult<Accepted> {
    let (due, lease) = (new.due(), new.lease_now());
    let mut msg = new.message.clone();
    msg.app_id = super::catalog::find_app(conn, &msg.app_id)?.id;
    if let Some(key) = &new.idempotency_key {
        if let Some(earlier) = find_by_idempotency_key(conn, &msg.app_id, key)? {
            return Ok(Accepted::Replayed(earlier));
        }
    }
    insert_message(conn, &msg)?;
    let enabled = endpoints::enabled_of_app(conn, &msg.app_id)?;
    let targets = select_targets(enabled, &msg, new.only_endpoint.as_deref());
    let targets = fan_out(conn, &msg, targets, due, lease)?;
    if let Some(key) = &new.idempotency_key {
        conn.prepare_cached(
            "INSERT INTO idempotency_keys (app_id, key, msg_id, created_at) VALUES (?, ?, ?, ?)",
        )
        .and_then(|mut s| s.execute(params![msg.app_id, key, msg.id, msg.created_at]))
        .map_err(internal)?;
    }
    Ok(created(msg, targets, lease))
}

fn find_by_idempotency_key(
    conn: &Connection,
    app_id: &str,
    key: &str,
) -> StoreResult<Option<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id =
         (SELECT msg_id FROM idempotency_keys WHERE app_id = ? AND key = ?)"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([app_id, key], rows::message).optional())
        .map_err(internal)
}

fn insert_message(conn: &Connection, msg: &Message) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO messages (id, app_id, event_type, event_id, channels, tags, payload, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .and_then(|mut s| {
        s.execute(params![
            msg.id,
            msg.app_id,
            msg.event_type,
            msg.event_id,
            opt_json(&msg.channels),
            opt_json(&msg.tags),
            msg.payload,
            msg.created_at
        ])
    })
    .map_err(|err| match err.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => {
            StoreError::DuplicateEventId(msg.event_id.clone().unwrap_or_default())
        }
        _ => internal(err),
    })?;
    Ok(())
}

/// Inserts one delivery per subscribed endpoint, pending or leased until `lease`.
fn fan_out(
    conn: &Connection,
    msg: &Message,
    targets: Vec<Endpoint>,
    due: i64,
    lease: Option<i64>,
) -> StoreResult<Vec<(i64, Endpoint)>> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO deliveries (msg_id, endpoint_id, state, attempts, next_attempt_at,
             lease_until, updated_at) VALUES (?, ?, ?, 0, ?, ?, ?)",
        )
        .map_err(internal)?;
    let state = if lease.is_some() { DeliveryStatus::Sending } else { DeliveryStatus::Pending };
    let mut created = Vec::new();
    for ep in targets {
        insert
            .execute(params![msg.id, ep.id, state as i64, due, lease, msg.created_at])
            .map_err(internal)?;
        created.push((conn.last_insert_rowid(), ep));
    }
    Ok(created)
}

pub(super) fn find(conn: &Connection, app_id: &str, id_or_event_id: &str) -> StoreResult<Message> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE app_id = ?1 AND (id = ?2 OR event_id = ?2)
         ORDER BY id = ?2 DESC LIMIT 1"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([app_id, id_or_event_id], rows::message).optional())
        .map_err(internal)?
        .ok_or(StoreError::NotFound("message"))
}

pub(super) fn list(
    conn: &Connection,
    app_id: &str,
    filter: &MessageFilter,
    query: &ListQuery,
) -> StoreResult<Page<Message>> {
    let mut select = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE app_id = ?");
    let mut params = vec![Value::Text(app_id.into())];
    if !filter.event_types.is_empty() {
        let marks = vec!["?"; filter.event_types.len()].join(", ");
        select.push_str(&format!(" AND event_type IN ({marks})"));
        params.extend(filter.event_types.iter().map(|t| Value::Text(t.clone())));
    }
    if let Some(channel) = &filter.channel {
        select.push_str(" AND EXISTS (SELECT 1 FROM json_each(messages.channels) WHERE value = ?)");
        params.push(Value::Text(channel.clone()));
    }
    // Ids sort by creation time, so time bounds are key bounds the index serves.
    if let Some(before) = filter.before {
        select.push_str(" AND id < ?");
        params.push(Value::Text(lowest_id_at(MESSAGE, before)));
    }
    if let Some(after) = filter.after {
        select.push_str(" AND id >= ?");
        params.push(Value::Text(lowest_id_at(MESSAGE, after.saturating_add(1))));
    }
    let order = Order { key: "id", descending: true };
    paged(conn, &select, params, order, query, rows::message)
}

pub(super) fn attempts_where(
    conn: &Connection,
    column: &'static str,
    value: &str,
    query: &ListQuery,
) -> StoreResult<Page<Attempt>> {
    let select = format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE {column} = ?");
    let order = Order { key: "id", descending: true };
    paged(conn, &select, vec![Value::Text(value.into())], order, query, rows::attempt)
}

pub(super) fn deliveries_of(conn: &Connection, msg_id: &str) -> StoreResult<Vec<DeliveryState>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT msg_id, endpoint_id, state, attempts, next_attempt_at FROM deliveries
             WHERE msg_id = ? ORDER BY endpoint_id",
        )
        .map_err(internal)?;
    let rows = stmt
        .query_map([msg_id], |row| {
            Ok(DeliveryState {
                msg_id: row.get(0)?,
                endpoint_id: row.get(1)?,
                status: DeliveryStatus::from_code(row.get(2)?),
                attempts: row.get(3)?,
                next_attempt_at: row.get(4)?,
            })
        })
        .map_err(internal)?;
    rows.collect::<Result<_, _>>().map_err(internal)
}

/// Queues (again) the message for the endpoint, due now, marked as a manual attempt.
pub(super) fn resend(
    conn: &Connection,
    msg_id: &str,
    endpoint_id: &str,
    now: i64,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO deliveries (msg_id, endpoint_id, state, attempts, next_attempt_at, manual, updated_at)
         VALUES (?1, ?2, 1, 0, ?3, 1, ?3)
         ON CONFLICT (msg_id, endpoint_id) DO UPDATE SET state = 1, next_attempt_at = ?3,
             lease_until = NULL, manual = 1, updated_at = ?3",
    )
    .and_then(|mut s| s.execute(params![msg_id, endpoint_id, now]))
    .map_err(internal)?;
    Ok(())
}
