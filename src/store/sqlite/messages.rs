//! Messages: acceptance with fan-out and idempotency, reads, and the per-endpoint delivery
//! state that attempts are made from.

use std::collections::HashSet;
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::{Connection, params};

use super::rows;
use super::util::{all, by_id_or_key, first, internal, paged, unique_or_internal};
use super::{catalog, endpoints, lanes};
use crate::model::delivery::select_targets;
use crate::model::ids::{MESSAGE, lowest_id_at};
use crate::model::{Attempt, DeliveryState, DeliveryStatus, Endpoint, Message};
use crate::security::sealing::Keyring;
use crate::store::Order;
use crate::store::catalog_cache::{AppEntry, CatalogCache};
use crate::store::rows::{ATTEMPT, DELIVERY_STATE, opt_json};
use crate::store::{
    Accepted, Inserted, ListQuery, MessageFilter, NewMessage, Page, StoreError, StoreResult,
    created, ids_of,
};

/// Runs inside the writer's group commit: everything here becomes durable together.
pub(super) fn accept(
    conn: &Connection,
    cache: &CatalogCache,
    keys: &Keyring,
    new: &NewMessage,
) -> StoreResult<Accepted> {
    let due = new.due();
    let mut msg = new.message.clone();
    let app = app_entry(conn, cache, keys, &msg.app_id)?;
    msg.app_id.clone_from(&app.app_id);
    if let Some(key) = &new.idempotency_key {
        if let Some(earlier) = find_by_idempotency_key(conn, &msg.app_id, key)? {
            return Ok(Accepted::Replayed(earlier));
        }
    }
    insert_message(conn, &msg)?;
    let targets = select_targets(&app.enabled, &msg, new.only_endpoint.as_deref());
    let targets = fan_out(conn, &msg, targets, due, new)?;
    if let Some(key) = &new.idempotency_key {
        conn.prepare_cached(
            "INSERT INTO idempotency_keys (app_id, key, msg_id, created_at) VALUES (?, ?, ?, ?)",
        )
        .and_then(|mut s| s.execute(params![msg.app_id, key, msg.id, msg.created_at]))
        .map_err(internal)?;
    }
    Ok(created(msg, targets))
}

/// The application `key` names with its enabled endpoints: from the copy, else read (and
/// kept, unless a write cleared the copy meanwhile).
fn app_entry(
    conn: &Connection,
    cache: &CatalogCache,
    keys: &Keyring,
    key: &str,
) -> StoreResult<Arc<AppEntry>> {
    if let Some(app) = cache.get(key) {
        return Ok(app);
    }
    let generation = cache.generation();
    let app_id = catalog::find_app(conn, key)?.id;
    let enabled = endpoints::enabled_of_app(conn, keys, &app_id)?;
    let app = Arc::new(AppEntry { app_id, enabled });
    cache.fill(generation, [(key.to_owned(), app.clone())]);
    Ok(app)
}

fn find_by_idempotency_key(
    conn: &Connection,
    app_id: &str,
    key: &str,
) -> StoreResult<Option<Message>> {
    let sql = format!(
        "SELECT {} FROM messages WHERE id =
         (SELECT msg_id FROM idempotency_keys WHERE app_id = ? AND key = ?)",
        crate::store::rows::MESSAGE
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    first(&mut stmt, [app_id, key], rows::message)
}

fn insert_message(conn: &Connection, msg: &Message) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO messages (id, app_id, event_type, event_id, channels, tags, payload,
         ordering_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            msg.ordering_key,
            msg.created_at
        ])
    })
    .map_err(unique_or_internal(|| {
        StoreError::DuplicateEventId(msg.event_id.clone().unwrap_or_default())
    }))?;
    Ok(())
}

/// Inserts one delivery per subscribed endpoint, pending or leased as `new` says; one that
/// finds its ordering lane occupied waits, with no due time.
fn fan_out(
    conn: &Connection,
    msg: &Message,
    targets: Vec<Arc<Endpoint>>,
    due: i64,
    new: &NewMessage,
) -> StoreResult<Vec<Inserted>> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO deliveries (msg_id, endpoint_id, state, attempts, next_attempt_at,
             lease_until, updated_at, ordering_key) VALUES (?, ?, ?, 0, ?, ?, ?, ?)",
        )
        .map_err(internal)?;
    let key = msg.ordering_key.as_deref();
    let occupied = match key {
        Some(key) => lanes::occupied(conn, &ids_of(&targets), key)?,
        None => HashSet::new(),
    };
    let mut created = Vec::new();
    for endpoint in targets {
        let (lease, due) = match occupied.contains(&endpoint.id) {
            true => (None, None),
            false => (new.lease_for(&endpoint.id), Some(due)),
        };
        let state = if lease.is_some() { DeliveryStatus::Sending } else { DeliveryStatus::Pending };
        let values = params![msg.id, endpoint.id, state as i64, due, lease, msg.created_at, key];
        insert.execute(values).map_err(internal)?;
        created.push(Inserted { delivery_id: conn.last_insert_rowid(), endpoint, lease });
    }
    Ok(created)
}

pub(super) fn find(conn: &Connection, app_id: &str, id_or_event_id: &str) -> StoreResult<Message> {
    let select = format!("SELECT {} FROM messages WHERE app_id = ?1", crate::store::rows::MESSAGE);
    by_id_or_key(conn, &select, "event_id", &[app_id, id_or_event_id], rows::message)?
        .ok_or(StoreError::NotFound("message"))
}

pub(super) fn list(
    conn: &Connection,
    app_id: &str,
    filter: &MessageFilter,
    query: &ListQuery,
) -> StoreResult<Page<Message>> {
    let mut select =
        format!("SELECT {} FROM messages WHERE app_id = ?", crate::store::rows::MESSAGE);
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
    let select = format!("SELECT {ATTEMPT} FROM attempts WHERE {column} = ?");
    let order = Order { key: "id", descending: true };
    paged(conn, &select, vec![Value::Text(value.into())], order, query, rows::attempt)
}

pub(super) fn deliveries_of(conn: &Connection, msg_id: &str) -> StoreResult<Vec<DeliveryState>> {
    let sql =
        format!("SELECT {DELIVERY_STATE} FROM deliveries WHERE msg_id = ? ORDER BY endpoint_id");
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    all(&mut stmt, [msg_id], rows::delivery_state)
}

/// Queues (again) the message for the endpoint, due now, marked as a manual attempt; a
/// message with an ordering key joins its lane, and goes when nothing is in front of it.
pub(super) fn resend(
    conn: &Connection,
    msg_id: &str,
    endpoint_id: &str,
    now: i64,
) -> StoreResult<()> {
    let key = lanes::key_of(conn, msg_id)?;
    let due = if key.is_some() { None } else { Some(now) };
    conn.prepare_cached(
        "INSERT INTO deliveries (msg_id, endpoint_id, state, attempts, next_attempt_at, manual,
             updated_at, ordering_key)
         VALUES (?1, ?2, 1, 0, ?3, 1, ?4, ?5)
         ON CONFLICT (msg_id, endpoint_id) DO UPDATE SET state = 1, next_attempt_at = ?3,
             lease_until = NULL, manual = 1, updated_at = ?4",
    )
    .and_then(|mut s| s.execute(params![msg_id, endpoint_id, due, now, key]))
    .map_err(internal)?;
    if let Some(key) = &key {
        lanes::advance(conn, &[(endpoint_id, key)], now)?;
    }
    Ok(())
}

/// Up to `limit` of the application's messages, oldest first (their deliveries and attempts
/// go by cascade).
pub(super) fn delete_of_app(conn: &Connection, app_id: &str, limit: usize) -> StoreResult<usize> {
    conn.prepare_cached(
        "DELETE FROM messages WHERE id IN (
             SELECT id FROM messages WHERE app_id = ?1 ORDER BY app_id, id LIMIT ?2)",
    )
    .and_then(|mut s| s.execute(params![app_id, limit as i64]))
    .map_err(internal)
}
