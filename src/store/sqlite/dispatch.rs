//! The dispatcher's side of the store: claims under leases, outcomes, lease expiry.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::util::internal;
use super::{lanes, rows};
use crate::model::Attempt;
use crate::model::delivery::{Claim, EndpointEffect, Outcome, collapse_effects, freed_lanes};
use crate::security::sealing::Keyring;
use crate::store::rows::{ENDPOINT, MESSAGE};
use crate::store::{Claiming, StoreResult};

struct ClaimedRow {
    id: i64,
    msg_id: String,
    endpoint_id: String,
    attempts: i64,
    manual: bool,
}

pub(super) fn claim(
    conn: &Connection,
    keys: &Keyring,
    claiming: &Claiming,
) -> StoreResult<Vec<Claim>> {
    let lease = claiming.lease;
    let mut stmt = conn
        .prepare_cached(
            "UPDATE deliveries SET state = 3, lease_until = ?1 WHERE id = ?2 AND state = 1
             RETURNING id, msg_id, endpoint_id, attempts, manual",
        )
        .map_err(internal)?;
    let mut claimed = Vec::new();
    for id in pick_due(conn, claiming)? {
        let row = stmt.query_row(params![lease, id], |r| {
            Ok(ClaimedRow {
                id: r.get(0)?,
                msg_id: r.get(1)?,
                endpoint_id: r.get(2)?,
                attempts: r.get(3)?,
                manual: r.get(4)?,
            })
        });
        claimed.extend(row.optional().map_err(internal)?);
    }
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let msg_ids = claimed.iter().map(|c| &c.msg_id);
    let messages = load_by_id(conn, MESSAGE, "messages", msg_ids, rows::message)?;
    let endpoint_ids = claimed.iter().map(|c| &c.endpoint_id);
    let endpoints = load_by_id(conn, ENDPOINT, "endpoints", endpoint_ids, rows::endpoint(keys))?;
    Ok(claimed
        .into_iter()
        .filter_map(|c| {
            Some(Claim {
                delivery_id: c.id,
                lease,
                attempts: c.attempts,
                manual: c.manual,
                message: messages.get(&c.msg_id)?.clone(),
                endpoint: endpoints.get(&c.endpoint_id)?.clone(),
            })
        })
        .collect())
}

/// The due deliveries a claim takes, read from the due index oldest first: of the first
/// `limit` whose endpoint is not skipped, at most `per_endpoint` of each endpoint. The same
/// rule as PostgreSQL's window query; written as a loop here because on SQLite that query
/// (its window sort and its skip list) cost 17 µs per claimed row, a plain claim 3 µs
/// (docs/benchmarks.md, "The speed issue, part three").
fn pick_due(conn: &Connection, claiming: &Claiming) -> StoreResult<Vec<i64>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, endpoint_id FROM deliveries WHERE state = 1 AND next_attempt_at <= ?1
             ORDER BY next_attempt_at",
        )
        .map_err(internal)?;
    let mut rows = stmt.query([claiming.now]).map_err(internal)?;
    let skip: HashSet<&str> = claiming.skip.iter().map(String::as_str).collect();
    let (mut looked, mut picked) = (0, Vec::new());
    // How many each endpoint has in the claim so far: a claim meets few endpoints, so a list
    // (one allocation per endpoint met, not per row) is enough.
    let mut per_endpoint: Vec<(String, usize)> = Vec::new();
    while looked < claiming.limit {
        let Some(row) = rows.next().map_err(internal)? else { break };
        let endpoint = row.get_ref(1).map_err(internal)?.as_str().map_err(internal)?;
        if skip.contains(endpoint) {
            continue;
        }
        looked += 1;
        let i = match per_endpoint.iter().position(|(e, _)| e == endpoint) {
            Some(i) => i,
            None => {
                per_endpoint.push((endpoint.to_owned(), 0));
                per_endpoint.len() - 1
            }
        };
        if per_endpoint[i].1 < claiming.per_endpoint {
            per_endpoint[i].1 += 1;
            picked.push(row.get(0).map_err(internal)?);
        }
    }
    Ok(picked)
}

/// Loads each distinct id once: a fan-out claims one message for many endpoints.
fn load_by_id<'a, T>(
    conn: &Connection,
    columns: &str,
    table: &str,
    ids: impl Iterator<Item = &'a String>,
    map: impl Fn(&rusqlite::Row) -> StoreResult<T>,
) -> StoreResult<HashMap<String, Arc<T>>> {
    let mut distinct: Vec<&String> = ids.collect();
    distinct.sort();
    distinct.dedup();
    let mut out = HashMap::with_capacity(distinct.len());
    for chunk in distinct.chunks(256) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let sql = format!("SELECT {columns} FROM {table} WHERE id IN ({marks})");
        let mut stmt = conn.prepare(&sql).map_err(internal)?;
        let mut rows = stmt
            .query(params_from_iter(chunk.iter().map(|s| Value::Text((*s).clone()))))
            .map_err(internal)?;
        while let Some(row) = rows.next().map_err(internal)? {
            let id: String = row.get("id").map_err(internal)?;
            out.insert(id, Arc::new(map(row)?));
        }
    }
    Ok(out)
}

/// Records a batch of outcomes. An outcome whose delivery is gone (its endpoint, message or
/// application was deleted while the request was in flight) has nothing left to update, and
/// its attempt is dropped: logging it would break the attempts' foreign keys.
pub(super) fn record(
    conn: &Connection,
    outcomes: &[Outcome],
    now: i64,
) -> StoreResult<Vec<String>> {
    let moved = move_deliveries(conn, outcomes, now)?;
    insert_attempts(conn, outcomes, &moved)?;
    lanes::advance(conn, &freed_lanes(outcomes), now)?;
    let mut disabled = Vec::new();
    for (endpoint_id, effect) in collapse_effects(outcomes) {
        if endpoint_effect(conn, endpoint_id, &effect, now)? {
            disabled.push(endpoint_id.to_owned());
        }
    }
    Ok(disabled)
}

/// Inserts the outcomes' attempts (once, if a batch is recorded again). A delivery that
/// moved exists; only one that did not (gone, or its lease lost) needs the check that it
/// still exists, which keeps the common path to one lookup.
fn insert_attempts(conn: &Connection, outcomes: &[Outcome], moved: &[bool]) -> StoreResult<()> {
    for (outcome, moved) in outcomes.iter().zip(moved) {
        if let Some(attempt) = &outcome.attempt {
            insert_attempt(conn, attempt, (!moved).then_some(outcome.delivery_id))?;
        }
    }
    Ok(())
}

/// A single-row `INSERT … VALUES`, not `INSERT … SELECT … WHERE EXISTS`: SQLite gives a
/// statement that may write several rows its own journal, copying each page it changes first
/// (4–5 % of the writer's time under load, for a check almost every attempt skips).
fn insert_attempt(conn: &Connection, a: &Attempt, check_delivery: Option<i64>) -> StoreResult<()> {
    if let Some(delivery_id) = check_delivery {
        let exists = conn
            .prepare_cached("SELECT 1 FROM deliveries WHERE id = ?1")
            .and_then(|mut s| s.exists([delivery_id]))
            .map_err(internal)?;
        if !exists {
            return Ok(());
        }
    }
    conn.prepare_cached(
        "INSERT INTO attempts (id, msg_id, endpoint_id, url, response, response_status_code,
             response_duration_ms, status, trigger_type, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (id) DO NOTHING",
    )
    .and_then(|mut s| {
        s.execute(params![
            a.id,
            a.msg_id,
            a.endpoint_id,
            a.url,
            a.response,
            a.response_status_code,
            a.response_duration_ms,
            a.status as i64,
            a.trigger_type as i64,
            a.created_at
        ])
    })
    .map_err(internal)?;
    Ok(())
}

/// Moves each delivery on, but only while its claim's lease still holds; says which moved.
fn move_deliveries(conn: &Connection, outcomes: &[Outcome], now: i64) -> StoreResult<Vec<bool>> {
    let mut stmt = conn
        .prepare_cached(
            "UPDATE deliveries SET state = ?1, next_attempt_at = ?2, attempts = attempts + ?3,
                 lease_until = NULL, manual = manual * ?4, updated_at = ?5
             WHERE id = ?6 AND state = 3 AND lease_until = ?7",
        )
        .map_err(internal)?;
    let mut moved = Vec::with_capacity(outcomes.len());
    for o in outcomes {
        let (state, next_at) = o.state();
        let (tried, keep_manual) = (o.attempt.is_some(), o.next.keeps_manual());
        let params = params![state, next_at, tried, keep_manual, now, o.delivery_id, o.lease];
        moved.push(stmt.execute(params).map_err(internal)? > 0);
    }
    Ok(moved)
}

/// Applies the effect; true if the endpoint was disabled by it.
fn endpoint_effect(
    conn: &Connection,
    endpoint_id: &str,
    effect: &EndpointEffect,
    now: i64,
) -> StoreResult<bool> {
    let changed = match effect {
        EndpointEffect::None => Ok(0),
        EndpointEffect::Healthy => conn
            .prepare_cached("UPDATE endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL")
            .and_then(|mut s| s.execute([endpoint_id]))
            .map(|_| 0),
        EndpointEffect::Failing { now, disable_before } => conn
            .prepare_cached(
                "UPDATE endpoints SET failing_since = COALESCE(failing_since, ?2),
                     disabled = CASE WHEN COALESCE(failing_since, ?2) <= ?3 THEN 1 ELSE disabled END,
                     updated_at = CASE WHEN disabled = 0 AND COALESCE(failing_since, ?2) <= ?3
                                  THEN MAX(updated_at + 1, ?2) ELSE updated_at END
                 WHERE id = ?1 RETURNING disabled",
            )
            .and_then(|mut s| s.query_row(params![endpoint_id, now, disable_before], |r| r.get::<_, bool>(0)).optional())
            .map(|d| usize::from(d == Some(true))),
        EndpointEffect::Disable => conn
            .prepare_cached(
                "UPDATE endpoints SET disabled = 1, updated_at = MAX(updated_at + 1, ?2)
                 WHERE id = ?1 AND disabled = 0",
            )
            .and_then(|mut s| s.execute(params![endpoint_id, now])),
    }
    .map_err(internal)?;
    Ok(changed > 0)
}

pub(super) fn next_due_at(conn: &Connection, skip: &[String]) -> StoreResult<Option<i64>> {
    let skip = serde_json::to_string(skip).map_err(internal)?;
    conn.prepare_cached(
        "SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 1
         AND endpoint_id NOT IN (SELECT value FROM json_each(?1))",
    )
    .and_then(|mut s| s.query_row([skip], |r| r.get(0)))
    .map_err(internal)
}

pub(super) fn expire_leases(conn: &Connection, now: i64) -> StoreResult<usize> {
    conn.prepare_cached(
        "UPDATE deliveries SET state = 1, lease_until = NULL, next_attempt_at = ?1
         WHERE state = 3 AND lease_until < ?1",
    )
    .and_then(|mut s| s.execute([now]))
    .map_err(internal)
}

pub(super) fn purge_messages(conn: &Connection, cutoff: i64, limit: usize) -> StoreResult<usize> {
    conn.execute("DELETE FROM idempotency_keys WHERE created_at < ?", [cutoff])
        .map_err(internal)?;
    // Ids sort by creation time, so the primary key finds the old messages.
    let before = crate::model::ids::lowest_id_at(crate::model::ids::MESSAGE, cutoff);
    conn.prepare_cached(
        "DELETE FROM messages WHERE id IN (
             SELECT id FROM messages m WHERE id < ?1 AND NOT EXISTS (
                 SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.state IN (1, 3, 5))
             ORDER BY id LIMIT ?2)",
    )
    .and_then(|mut s| s.execute(params![before, limit as i64]))
    .map_err(internal)
}
