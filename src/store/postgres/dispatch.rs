//! The dispatcher's side: claims with `FOR UPDATE SKIP LOCKED` under leases, outcomes, and
//! lease expiry. Bookkeeping transactions commit with `synchronous_commit = off`: losing one
//! to a crash only means a delivery is made again.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;

use super::util::{Cached, internal, notify};
use super::{lanes, rows};
use crate::model::Attempt;
use crate::model::delivery::{Claim, EndpointEffect, Outcome, collapse_effects, freed_lanes};
use crate::security::sealing::Keyring;
use crate::store::rows::{ENDPOINT, MESSAGE};
use crate::store::{Claiming, StoreResult};

pub(super) async fn relax(tx: &Transaction<'_>) -> StoreResult<()> {
    tx.batch_execute("SET LOCAL synchronous_commit = off").await.map_err(internal)
}

pub(super) async fn claim(
    tx: &Transaction<'_>,
    keys: &Keyring,
    claiming: &Claiming,
) -> StoreResult<Vec<Claim>> {
    let Claiming { now, lease, .. } = *claiming;
    let (limit, per_endpoint) = (claiming.limit as i64, claiming.per_endpoint as i64);
    let skip: &[String] = &claiming.skip;
    let claimed = tx
        .rows(
            "UPDATE deliveries SET state = 3, lease_until = $1
             WHERE id IN (
                SELECT id FROM (
                    SELECT id, row_number() OVER (PARTITION BY endpoint_id
                                                  ORDER BY next_attempt_at) AS nth
                    FROM (SELECT id, endpoint_id, next_attempt_at FROM deliveries
                          WHERE state = 1 AND next_attempt_at <= $2
                          AND endpoint_id <> ALL($4::text[])
                          ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) AS due
                    ) AS ranked
                WHERE nth <= $5)
             RETURNING id, msg_id, endpoint_id, attempts, manual",
            &[&lease, &now, &limit, &skip, &per_endpoint],
        )
        .await
        .map_err(internal)?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let ids = |col: &str| claimed.iter().map(|r| r.get::<_, String>(col)).collect::<Vec<_>>();
    let messages = load_by_id(tx, MESSAGE, "messages", ids("msg_id"), rows::message).await?;
    let endpoints =
        load_by_id(tx, ENDPOINT, "endpoints", ids("endpoint_id"), rows::endpoint(keys)).await?;
    Ok(claimed
        .iter()
        .filter_map(|r| {
            Some(Claim {
                delivery_id: r.get("id"),
                lease,
                attempts: r.get("attempts"),
                manual: r.get("manual"),
                message: messages.get(&r.get::<_, String>("msg_id"))?.clone(),
                endpoint: endpoints.get(&r.get::<_, String>("endpoint_id"))?.clone(),
            })
        })
        .collect())
}

/// Loads each distinct id once: a fan-out claims one message for many endpoints.
async fn load_by_id<T>(
    c: &impl GenericClient,
    columns: &str,
    table: &str,
    mut ids: Vec<String>,
    map: impl Fn(&Row) -> StoreResult<T> + Send + Sync,
) -> StoreResult<HashMap<String, Arc<T>>> {
    ids.sort();
    ids.dedup();
    let sql = format!("SELECT {columns} FROM {table} WHERE id = ANY($1)");
    let rows = c.rows(&sql, &[&ids]).await.map_err(internal)?;
    rows.iter().map(|row| Ok((row.get::<_, String>("id"), Arc::new(map(row)?)))).collect()
}

/// Arbitrary, fixed: taken shared by every batch of outcomes and exclusively by every delete
/// that can remove a delivery (an endpoint, an application, a purge). See [`record`].
const DELETION_LOCK: i64 = 0x686f_6f6b_6400_0004;

/// Shared (an outcome batch): waits until no delete that could remove deliveries runs, and
/// keeps new ones from starting until this transaction ends. Exclusive (a delete): keeps
/// outcome batches out meanwhile; taken before the delete touches any row, so it never waits
/// for a lock while holding one.
pub(super) async fn deletion_lock(tx: &Transaction<'_>, exclusive: bool) -> StoreResult<()> {
    let sql = if exclusive {
        "SELECT pg_advisory_xact_lock($1)"
    } else {
        "SELECT pg_advisory_xact_lock_shared($1)"
    };
    tx.exec(sql, &[&DELETION_LOCK]).await.map_err(internal)?;
    Ok(())
}

/// Records a batch: attempts and delivery moves as two array statements (`UNNEST`) whatever
/// its size, then one update per change of an endpoint's health, in endpoint order.
///
/// An outcome whose delivery is gone (its endpoint, message or application was deleted while
/// the request was in flight) has nothing left to update, and its attempt is dropped. The
/// check is exact because deletes are held off meanwhile: without that, a delete committing
/// between the check and the insert would fail the whole batch on a foreign key, and every
/// other outcome in it would be lost and its delivery made twice.
pub(super) async fn record(
    tx: &Transaction<'_>,
    outcomes: &[Outcome],
    now: i64,
) -> StoreResult<Vec<String>> {
    deletion_lock(tx, false).await?;
    insert_attempts(tx, outcomes).await?;
    move_deliveries(tx, outcomes, now).await?;
    lanes::advance(tx, &freed_lanes(outcomes), now).await?;
    let mut disabled = Vec::new();
    for (endpoint_id, effect) in collapse_effects(outcomes) {
        if endpoint_effect(tx, endpoint_id, &effect, now).await? {
            disabled.push(endpoint_id.to_owned());
        }
    }
    Ok(disabled)
}

async fn insert_attempts(tx: &Transaction<'_>, outcomes: &[Outcome]) -> StoreResult<()> {
    let (deliveries, attempts): (Vec<i64>, Vec<&Attempt>) =
        outcomes.iter().filter_map(|o| Some((o.delivery_id, o.attempt.as_ref()?))).unzip();
    if attempts.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&Attempt) -> String| attempts.iter().map(|a| f(a)).collect::<Vec<String>>();
    let (ids, msgs, eps, urls, bodies) = (
        col(|a| a.id.clone()),
        col(|a| a.msg_id.clone()),
        col(|a| a.endpoint_id.clone()),
        col(|a| a.url.clone()),
        col(|a| a.response.clone()),
    );
    let codes: Vec<i32> = attempts.iter().map(|a| a.response_status_code).collect();
    let took: Vec<i64> = attempts.iter().map(|a| a.response_duration_ms).collect();
    let status: Vec<i16> = attempts.iter().map(|a| a.status as i16).collect();
    let trigger: Vec<i16> = attempts.iter().map(|a| a.trigger_type as i16).collect();
    let at: Vec<i64> = attempts.iter().map(|a| a.created_at).collect();
    tx.exec(
        "INSERT INTO attempts (id, msg_id, endpoint_id, url, response, response_status_code,
             response_duration_ms, status, trigger_type, created_at)
         SELECT u.id, u.msg_id, u.endpoint_id, u.url, u.response, u.code, u.took, u.status,
             u.trigger_type, u.created_at
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[],
             $7::bigint[], $8::smallint[], $9::smallint[], $10::bigint[], $11::bigint[])
             AS u(id, msg_id, endpoint_id, url, response, code, took, status, trigger_type,
                  created_at, delivery_id)
         WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.id = u.delivery_id)
         ON CONFLICT (id) DO NOTHING",
        &[&ids, &msgs, &eps, &urls, &bodies, &codes, &took, &status, &trigger, &at, &deliveries],
    )
    .await
    .map_err(internal)?;
    Ok(())
}

/// Moves each delivery on, but only while its claim's lease still holds.
async fn move_deliveries(tx: &Transaction<'_>, outcomes: &[Outcome], now: i64) -> StoreResult<()> {
    let mut ids = Vec::new();
    let (mut states, mut next_at, mut tried, mut keep_manual, mut leases) =
        (vec![], vec![], vec![], vec![], vec![]);
    for o in outcomes {
        let (state, next) = o.state();
        ids.push(o.delivery_id);
        states.push(state as i16);
        next_at.push(next);
        tried.push(i64::from(o.attempt.is_some()));
        keep_manual.push(o.next.keeps_manual());
        leases.push(o.lease);
    }
    tx.exec(
        "UPDATE deliveries d SET state = u.state, next_attempt_at = u.next_at,
             attempts = d.attempts + u.tried, lease_until = NULL, manual = d.manual AND u.keep_manual,
             updated_at = $7
         FROM UNNEST($1::bigint[], $2::smallint[], $3::bigint[], $4::bigint[], $5::bool[], $6::bigint[])
             AS u(id, state, next_at, tried, keep_manual, lease)
         WHERE d.id = u.id AND d.state = 3 AND d.lease_until = u.lease",
        &[&ids, &states, &next_at, &tried, &keep_manual, &leases, &now],
    )
    .await
    .map_err(internal)?;
    Ok(())
}

async fn endpoint_effect(
    tx: &Transaction<'_>,
    endpoint_id: &str,
    effect: &EndpointEffect,
    now: i64,
) -> StoreResult<bool> {
    let disabled = match effect {
        EndpointEffect::None => false,
        EndpointEffect::Healthy => {
            tx.exec("UPDATE endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL", &[&endpoint_id])
                .await
                .map_err(internal)?;
            false
        }
        EndpointEffect::Failing { now, disable_before } => tx
            .opt_row(
                "UPDATE endpoints SET failing_since = COALESCE(failing_since, $2),
                     disabled = disabled OR COALESCE(failing_since, $2) <= $3,
                     updated_at = CASE WHEN NOT disabled AND COALESCE(failing_since, $2) <= $3
                                  THEN GREATEST(updated_at + 1, $2) ELSE updated_at END
                 WHERE id = $1 RETURNING disabled",
                &[&endpoint_id, now, disable_before],
            )
            .await
            .map_err(internal)?
            .is_some_and(|r| r.get::<_, bool>(0)),
        EndpointEffect::Disable => {
            tx.exec(
                "UPDATE endpoints SET disabled = TRUE, updated_at = GREATEST(updated_at + 1, $2)
                 WHERE id = $1 AND NOT disabled",
                &[&endpoint_id, &now],
            )
            .await
            .map_err(internal)?
                > 0
        }
    };
    Ok(disabled)
}

pub(super) async fn next_due_at(
    c: &impl GenericClient,
    skip: &[String],
) -> StoreResult<Option<i64>> {
    let row = c
        .row(
            "SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 1
             AND endpoint_id <> ALL($1::text[])",
            &[&skip],
        )
        .await
        .map_err(internal)?;
    Ok(row.get(0))
}

/// Arbitrary, fixed: held while one node expires leases, so nodes take turns.
const MAINTENANCE_LOCK: i64 = 0x686f_6f6b_6400_0002;

pub(super) async fn expire_leases(tx: &Transaction<'_>, now: i64) -> StoreResult<usize> {
    let locked: bool = tx
        .row("SELECT pg_try_advisory_xact_lock($1)", &[&MAINTENANCE_LOCK])
        .await
        .map_err(internal)?
        .get(0);
    if !locked {
        return Ok(0);
    }
    let changed = tx
        .exec(
            "UPDATE deliveries SET state = 1, lease_until = NULL, next_attempt_at = $1
             WHERE state = 3 AND lease_until < $1",
            &[&now],
        )
        .await
        .map_err(internal)?;
    if changed > 0 {
        notify(tx, super::messages::WORK_CHANNEL).await?;
    }
    Ok(changed as usize)
}

/// Purges on one node at a time: the others skip while the lock is held.
pub(super) async fn purge_messages(
    tx: &Transaction<'_>,
    cutoff: i64,
    limit: i64,
) -> StoreResult<usize> {
    let locked: bool = tx
        .row("SELECT pg_try_advisory_xact_lock($1)", &[&PURGE_LOCK])
        .await
        .map_err(internal)?
        .get(0);
    if !locked {
        return Ok(0);
    }
    deletion_lock(tx, true).await?;
    tx.exec("DELETE FROM idempotency_keys WHERE created_at < $1", &[&cutoff])
        .await
        .map_err(internal)?;
    // Ids sort by creation time, so the primary key finds the old messages.
    let before = crate::model::ids::lowest_id_at(crate::model::ids::MESSAGE, cutoff);
    let deleted = tx
        .exec(
            "DELETE FROM messages WHERE id IN (
                 SELECT id FROM messages m WHERE id < $1 AND NOT EXISTS (
                     SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.state IN (1, 3, 5))
                 ORDER BY id LIMIT $2)",
            &[&before, &limit],
        )
        .await
        .map_err(internal)?;
    Ok(deleted as usize)
}

/// Arbitrary, fixed: held by the node that purges old messages.
const PURGE_LOCK: i64 = 0x686f_6f6b_6400_0003;
