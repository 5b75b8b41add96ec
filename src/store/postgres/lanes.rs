//! Ordering lanes: the deliveries of one endpoint and one ordering key, sent one at a time in
//! the order they were accepted (see `model::delivery`). A lane's members wait pending with
//! no due time; the one in front is due, sending, retrying, or held after failing for good.
//!
//! Nodes write at once, so every transaction that looks at a lane to change it first takes
//! the lane's lock (a transaction-scoped advisory lock on a hash of endpoint and key, in hash
//! order, so two transactions never wait on each other). Under read committed each statement
//! after the lock sees what the lane's previous holder committed: a message accepted while
//! the one in front finishes is either seen by that finish, or sees it finished.

use std::collections::HashSet;
use std::sync::Arc;

use deadpool_postgres::GenericClient;

use super::util::{Cached, internal};
use crate::model::delivery::distinct_lanes;
use crate::model::{Endpoint, Message};
use crate::store::{NewMessage, StoreResult};

/// The first key of the lanes' advisory locks (the second is the lane's hash), apart from
/// the single-key locks of migrations and maintenance.
const LANE_LOCKS: i32 = 0x6c61_6e65; // "lane"

/// A lane member in front, over `deliveries a` and the lane `l(e, k)`.
const IN_FRONT: &str = "a.endpoint_id = l.e AND a.ordering_key = l.k AND a.state IN (1, 3, 5)
     AND (a.state <> 1 OR a.next_attempt_at IS NOT NULL)";

/// Takes the lanes' locks until the transaction ends.
pub(super) async fn lock(c: &impl GenericClient, lanes: &[(&str, &str)]) -> StoreResult<()> {
    if lanes.is_empty() {
        return Ok(());
    }
    let (endpoints, keys): (Vec<&str>, Vec<&str>) = lanes.iter().copied().unzip();
    c.exec(
        "SELECT pg_advisory_xact_lock($1, h) FROM (
             SELECT DISTINCT hashtext(e || '/' || k) AS h
             FROM UNNEST($2::text[], $3::text[]) AS l(e, k)) s
         ORDER BY h",
        &[&LANE_LOCKS, &endpoints, &keys],
    )
    .await
    .map_err(internal)?;
    Ok(())
}

/// Which of these lanes have a delivery in front, so a new one waits. The caller holds the
/// lanes' locks.
pub(super) async fn occupied(
    c: &impl GenericClient,
    lanes: &[(&str, &str)],
) -> StoreResult<HashSet<(String, String)>> {
    let (endpoints, keys): (Vec<&str>, Vec<&str>) = lanes.iter().copied().unzip();
    let sql = format!(
        "SELECT l.e, l.k FROM UNNEST($1::text[], $2::text[]) AS l(e, k)
         WHERE EXISTS (SELECT 1 FROM deliveries a WHERE {IN_FRONT})"
    );
    let rows = c.rows(&sql, &[&endpoints, &keys]).await.map_err(internal)?;
    rows.iter()
        .map(|r| Ok((r.try_get(0).map_err(internal)?, r.try_get(1).map_err(internal)?)))
        .collect()
}

/// Locks the lanes and makes each one's oldest waiting delivery due at `now`, where nothing
/// is in front of it; answers how many became due. Harmless on a lane with something in
/// front, or none waiting.
pub(super) async fn advance(
    c: &impl GenericClient,
    lanes: &[(&str, &str)],
    now: i64,
) -> StoreResult<u64> {
    if lanes.is_empty() {
        return Ok(0);
    }
    lock(c, lanes).await?;
    let (endpoints, keys): (Vec<&str>, Vec<&str>) = lanes.iter().copied().unzip();
    // `state IN (1, 3, 5)` beside `state = 1` repeats the lanes index's condition, as the
    // SQLite twin must for its planner.
    let sql = format!(
        "UPDATE deliveries d SET next_attempt_at = $3, updated_at = $3
         FROM UNNEST($1::text[], $2::text[]) AS l(e, k)
         WHERE d.id = (SELECT w.id FROM deliveries w
                       WHERE w.endpoint_id = l.e AND w.ordering_key = l.k
                         AND w.state IN (1, 3, 5) AND w.state = 1 AND w.next_attempt_at IS NULL
                       ORDER BY w.id LIMIT 1)
           AND NOT EXISTS (SELECT 1 FROM deliveries a WHERE {IN_FRONT})"
    );
    c.exec(&sql, &[&endpoints, &keys, &now]).await.map_err(internal)
}

/// The deliveries (message, endpoint) of the batch that wait in their ordering lanes: those
/// whose lane has a delivery in front already, and those behind an earlier message of the
/// batch in the same lane. Locks the lanes first, so the caller must be in a transaction.
pub(super) async fn waiting_in_batch(
    c: &impl GenericClient,
    fanned: &[(usize, Message, Vec<Arc<Endpoint>>)],
) -> StoreResult<Waiting> {
    let keyed = fanned
        .iter()
        .filter_map(|(_, msg, targets)| Some((msg, msg.ordering_key.as_deref()?, targets)));
    let lanes = distinct_lanes(
        keyed
            .clone()
            .flat_map(|(_, key, targets)| targets.iter().map(move |ep| (ep.id.as_str(), key))),
    );
    if lanes.is_empty() {
        return Ok(Waiting::default());
    }
    lock(c, &lanes).await?;
    let mut taken = occupied(c, &lanes).await?;
    let mut waiting = HashSet::new();
    for (msg, key, targets) in keyed {
        for ep in targets {
            // The first of the batch in a free lane goes; the lane is taken for the rest.
            if !taken.insert((ep.id.clone(), key.to_owned())) {
                waiting.insert((msg.id.clone(), ep.id.clone()));
            }
        }
    }
    Ok(Waiting(waiting))
}

/// The deliveries (message, endpoint) of a batch that wait in their ordering lanes.
#[derive(Default)]
pub(super) struct Waiting(HashSet<(String, String)>);

impl Waiting {
    /// Whether the message's delivery to the endpoint waits (asked for every delivery of a
    /// batch: an unkeyed one answers without a lookup).
    pub(super) fn has(&self, msg: &Message, ep: &Endpoint) -> bool {
        msg.ordering_key.is_some() && self.0.contains(&(msg.id.clone(), ep.id.clone()))
    }

    /// The lease the delivery takes: the one `new` asks for, unless it waits.
    pub(super) fn lease(&self, new: &NewMessage, msg: &Message, ep: &Endpoint) -> Option<i64> {
        new.lease_for(&ep.id).filter(|_| !self.has(msg, ep))
    }
}

/// The ordering key of a message, if it has one.
pub(super) async fn key_of(c: &impl GenericClient, msg_id: &str) -> StoreResult<Option<String>> {
    let row = c
        .opt_row("SELECT ordering_key FROM messages WHERE id = $1", &[&msg_id])
        .await
        .map_err(internal)?;
    row.map(|r| r.try_get::<_, Option<String>>(0))
        .transpose()
        .map_err(internal)
        .map(Option::flatten)
}
