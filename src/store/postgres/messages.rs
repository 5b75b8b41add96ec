//! Messages: acceptance with fan-out and idempotency, reads, attempts, resend and recover.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use deadpool_postgres::{GenericClient, Transaction};

use super::rows;
use super::util::{Cached, Param, all, first, internal, notify, paged, unique_or_internal};
use super::{catalog, endpoints, lanes};
use crate::model::delivery::select_targets;
use crate::model::ids::{MESSAGE, lowest_id_at};
use crate::model::{Attempt, DeliveryState, DeliveryStatus, Endpoint, Message};
use crate::security::sealing::Keyring;
use crate::store::Order;
use crate::store::rows::{ATTEMPT, DELIVERY_STATE, opt_json};
use crate::store::{
    Accepted, Inserted, ListQuery, MessageFilter, NewMessage, Page, StoreError, StoreResult,
    created, ids_of,
};

/// The channel other nodes LISTEN on for "deliveries became due".
pub(super) const WORK_CHANNEL: &str = "hookd_work";

/// One transaction: the message, its deliveries and its idempotency key commit together.
/// `Ok(None)` means another node committed the same idempotency key first: look it up.
pub(super) async fn accept(
    tx: &Transaction<'_>,
    keys: &Keyring,
    new: &NewMessage,
) -> StoreResult<Option<Accepted>> {
    let due = new.due();
    let mut msg = new.message.clone();
    msg.app_id = catalog::find_app(tx, &msg.app_id).await?.id;
    if let Some(key) = &new.idempotency_key {
        if let Some(earlier) = find_by_idempotency_key(tx, &msg.app_id, key).await? {
            return Ok(Some(Accepted::Replayed(earlier)));
        }
    }
    insert_message(tx, &msg).await?;
    let enabled = endpoints::enabled_of_app(tx, keys, &msg.app_id).await?;
    let targets = select_targets(&enabled, &msg, new.only_endpoint.as_deref());
    let targets = fan_out(tx, &msg, targets, due, new).await?;
    if let Some(key) = &new.idempotency_key {
        let inserted = tx
            .exec(
                "INSERT INTO idempotency_keys (app_id, key, msg_id, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&msg.app_id, key, &msg.id, &msg.created_at],
            )
            .await
            .map_err(internal)?;
        if inserted == 0 {
            return Ok(None);
        }
    }
    if new.leaves_pending(targets.iter().map(|d| d.endpoint.id.as_str())) {
        notify(tx, WORK_CHANNEL).await?;
    }
    Ok(Some(created(msg, targets)))
}

/// The answer for a message whose idempotency key another transaction committed first.
pub(super) async fn replayed(
    c: &impl GenericClient,
    app_key: &str,
    key: &str,
) -> StoreResult<Accepted> {
    let app = catalog::find_app(c, app_key).await?;
    find_by_idempotency_key(c, &app.id, key)
        .await?
        .map(Accepted::Replayed)
        .ok_or_else(|| StoreError::Internal("idempotency key vanished".into()))
}

pub(super) async fn find_by_idempotency_key(
    c: &impl GenericClient,
    app_id: &str,
    key: &str,
) -> StoreResult<Option<Message>> {
    let sql = format!(
        "SELECT {} FROM messages WHERE id =
         (SELECT msg_id FROM idempotency_keys WHERE app_id = $1 AND key = $2)",
        crate::store::rows::MESSAGE
    );
    first(c, &sql, &[&app_id, &key], rows::message).await
}

async fn insert_message(tx: &Transaction<'_>, msg: &Message) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO messages (id, app_id, event_type, event_id, channels, tags, payload,
         ordering_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &msg.id,
            &msg.app_id,
            &msg.event_type,
            &msg.event_id,
            &opt_json(&msg.channels),
            &opt_json(&msg.tags),
            &msg.payload,
            &msg.ordering_key,
            &msg.created_at,
        ],
    )
    .await
    .map_err(unique_or_internal(|| {
        StoreError::DuplicateEventId(msg.event_id.clone().unwrap_or_default())
    }))?;
    Ok(())
}

/// Inserts one delivery per subscribed endpoint, pending or leased as `new` says; one that
/// finds its ordering lane occupied waits, with no due time.
async fn fan_out(
    tx: &Transaction<'_>,
    msg: &Message,
    targets: Vec<Arc<Endpoint>>,
    due: i64,
    new: &NewMessage,
) -> StoreResult<Vec<Inserted>> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let ids = ids_of(&targets);
    let key = msg.ordering_key.as_deref();
    let occupied: HashSet<String> = match key {
        Some(key) => {
            let lanes: Vec<(&str, &str)> = ids.iter().map(|id| (*id, key)).collect();
            lanes::lock(tx, &lanes).await?;
            lanes::occupied(tx, &lanes).await?.into_iter().map(|(e, _)| e).collect()
        }
        None => HashSet::new(),
    };
    let waits = |id: &str| occupied.contains(id);
    let leases: Vec<Option<i64>> =
        ids.iter().map(|id| if waits(id) { None } else { new.lease_for(id) }).collect();
    let dues: Vec<Option<i64>> = ids.iter().map(|id| (!waits(id)).then_some(due)).collect();
    let states: Vec<i16> = leases.iter().map(|l| state_of(*l) as i16).collect();
    // One statement for any number of endpoints: one round trip inside the transaction.
    let inserted = tx
        .rows(
            "INSERT INTO deliveries (msg_id, endpoint_id, state, attempts, next_attempt_at,
                 lease_until, updated_at, ordering_key)
             SELECT $1, endpoint_id, state, 0, due, lease, $6, $7
             FROM UNNEST($2::text[], $3::smallint[], $4::bigint[], $5::bigint[])
                 AS t(endpoint_id, state, due, lease)
             RETURNING id, endpoint_id",
            &[&msg.id, &ids, &states, &dues, &leases, &msg.created_at, &key],
        )
        .await
        .map_err(internal)?;
    let mut by_id: HashMap<String, (Arc<Endpoint>, Option<i64>)> =
        targets.into_iter().zip(leases).map(|(ep, lease)| (ep.id.clone(), (ep, lease))).collect();
    Ok(inserted
        .iter()
        .filter_map(|row| {
            let (endpoint, lease) = by_id.remove(&row.get::<_, String>(1))?;
            Some(Inserted { delivery_id: row.get(0), endpoint, lease })
        })
        .collect())
}

pub(super) async fn find(c: &impl GenericClient, app_id: &str, key: &str) -> StoreResult<Message> {
    let sql = format!(
        "SELECT {} FROM messages WHERE app_id = $1 AND (id = $2 OR event_id = $2)
         ORDER BY id = $2 DESC LIMIT 1",
        crate::store::rows::MESSAGE
    );
    first(c, &sql, &[&app_id, &key], rows::message).await?.ok_or(StoreError::NotFound("message"))
}

pub(super) async fn list(
    c: &impl GenericClient,
    app_id: &str,
    filter: &MessageFilter,
    query: &ListQuery,
) -> StoreResult<Page<Message>> {
    let mut select =
        format!("SELECT {} FROM messages WHERE app_id = $1", crate::store::rows::MESSAGE);
    let mut params: Vec<Param> = vec![Box::new(app_id.to_owned())];
    if !filter.event_types.is_empty() {
        params.push(Box::new(filter.event_types.clone()));
        select.push_str(&format!(" AND event_type = ANY(${})", params.len()));
    }
    if let Some(channel) = &filter.channel {
        params.push(Box::new(channel.clone()));
        select.push_str(&format!(" AND channels::jsonb ? ${}", params.len()));
    }
    // Ids sort by creation time, so time bounds are key bounds the index serves.
    if let Some(before) = filter.before {
        params.push(Box::new(lowest_id_at(MESSAGE, before)));
        select.push_str(&format!(" AND id < ${}", params.len()));
    }
    if let Some(after) = filter.after {
        params.push(Box::new(lowest_id_at(MESSAGE, after.saturating_add(1))));
        select.push_str(&format!(" AND id >= ${}", params.len()));
    }
    paged(c, &select, params, Order { key: "id", descending: true }, query, rows::message).await
}

pub(super) async fn attempts_where(
    c: &impl GenericClient,
    column: &'static str,
    value: &str,
    query: &ListQuery,
) -> StoreResult<Page<Attempt>> {
    let select = format!("SELECT {ATTEMPT} FROM attempts WHERE {column} = $1");
    let params: Vec<Param> = vec![Box::new(value.to_owned())];
    paged(c, &select, params, Order { key: "id", descending: true }, query, rows::attempt).await
}

pub(super) async fn deliveries_of(
    c: &impl GenericClient,
    msg_id: &str,
) -> StoreResult<Vec<DeliveryState>> {
    let sql =
        format!("SELECT {DELIVERY_STATE} FROM deliveries WHERE msg_id = $1 ORDER BY endpoint_id");
    all(c, &sql, &[&msg_id], rows::delivery_state).await
}

/// Queues (again) the message for the endpoint, due now, marked as a manual attempt; a
/// message with an ordering key joins its lane, and goes when nothing is in front of it.
pub(super) async fn resend(
    tx: &Transaction<'_>,
    msg_id: &str,
    endpoint_id: &str,
    now: i64,
) -> StoreResult<()> {
    let key = lanes::key_of(tx, msg_id).await?;
    if let Some(key) = &key {
        lanes::lock(tx, &[(endpoint_id, key)]).await?;
    }
    let due = if key.is_some() { None } else { Some(now) };
    tx.exec(
        "INSERT INTO deliveries (msg_id, endpoint_id, state, attempts, next_attempt_at, manual,
             updated_at, ordering_key)
         VALUES ($1, $2, 1, 0, $3, TRUE, $4, $5)
         ON CONFLICT (msg_id, endpoint_id) DO UPDATE SET state = 1, next_attempt_at = $3,
             lease_until = NULL, manual = TRUE, updated_at = $4",
        &[&msg_id, &endpoint_id, &due, &now, &key],
    )
    .await
    .map_err(internal)?;
    if let Some(key) = &key {
        lanes::advance(tx, &[(endpoint_id, key)], now).await?;
    }
    notify(tx, WORK_CHANNEL).await
}

/// Up to `limit` of the application's messages, oldest first (their deliveries and attempts
/// go by cascade).
pub(super) async fn delete_of_app(
    tx: &Transaction<'_>,
    app_id: &str,
    limit: usize,
) -> StoreResult<usize> {
    let deleted = tx
        .exec(
            "DELETE FROM messages WHERE id IN (
                 SELECT id FROM messages WHERE app_id = $1 ORDER BY app_id, id LIMIT $2)",
            &[&app_id, &(limit as i64)],
        )
        .await
        .map_err(internal)?;
    Ok(deleted as usize)
}

/// A new delivery's state: sending when it is leased to its accepting node, else pending.
pub(super) fn state_of(lease: Option<i64>) -> DeliveryStatus {
    if lease.is_some() { DeliveryStatus::Sending } else { DeliveryStatus::Pending }
}
