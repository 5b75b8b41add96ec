//! The dispatcher's side: claims with `FOR UPDATE SKIP LOCKED` under leases, outcomes, and
//! lease expiry. Bookkeeping transactions commit with `synchronous_commit = off`: losing one
//! to a crash only means a delivery is made again.

use std::collections::HashMap;
use std::sync::Arc;

use tokio_postgres::{GenericClient, Row, Transaction};

use super::rows;
use super::util::internal;
use crate::model::{Attempt, DeliveryStatus};
use crate::store::columns;
use crate::store::{Claim, EndpointEffect, NextStep, Outcome, StoreResult};

pub(super) async fn relax(tx: &Transaction<'_>) -> StoreResult<()> {
    tx.batch_execute("SET LOCAL synchronous_commit = off").await.map_err(internal)
}

pub(super) async fn claim(
    tx: &Transaction<'_>,
    now: i64,
    limit: i64,
    lease: i64,
) -> StoreResult<Vec<Claim>> {
    let claimed = tx
        .query(
            "UPDATE deliveries SET state = 3, lease_until = $1
             WHERE id IN (SELECT id FROM deliveries WHERE state = 1 AND next_attempt_at <= $2
                          ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING id, msg_id, endpoint_id, attempts, manual",
            &[&lease, &now, &limit],
        )
        .await
        .map_err(internal)?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let ids = |col: &str| claimed.iter().map(|r| r.get::<_, String>(col)).collect::<Vec<_>>();
    let messages = load(tx, columns::MESSAGE, "messages", ids("msg_id"), rows::message).await?;
    let endpoints =
        load(tx, columns::ENDPOINT, "endpoints", ids("endpoint_id"), rows::endpoint).await?;
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

async fn load<T>(
    c: &impl GenericClient,
    columns: &str,
    table: &str,
    mut ids: Vec<String>,
    map: fn(&Row) -> Result<T, tokio_postgres::Error>,
) -> StoreResult<HashMap<String, Arc<T>>> {
    ids.sort();
    ids.dedup();
    let sql = format!("SELECT {columns} FROM {table} WHERE id = ANY($1)");
    let rows = c.query(&sql, &[&ids]).await.map_err(internal)?;
    rows.iter()
        .map(|row| Ok((row.get::<_, String>("id"), Arc::new(map(row).map_err(internal)?))))
        .collect()
}

pub(super) async fn record(tx: &Transaction<'_>, outcomes: &[Outcome]) -> StoreResult<Vec<String>> {
    let mut disabled = Vec::new();
    for outcome in outcomes {
        if let Some(attempt) = &outcome.attempt {
            insert_attempt(tx, attempt).await?;
        }
        move_delivery(tx, outcome).await?;
        if endpoint_effect(tx, &outcome.endpoint_id, &outcome.effect).await? {
            disabled.push(outcome.endpoint_id.clone());
        }
    }
    Ok(disabled)
}

async fn insert_attempt(tx: &Transaction<'_>, a: &Attempt) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO attempts (id, msg_id, endpoint_id, url, response, response_status_code,
         response_duration_ms, status, trigger_type, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &a.id,
            &a.msg_id,
            &a.endpoint_id,
            &a.url,
            &a.response,
            &a.response_status_code,
            &a.response_duration_ms,
            &(a.status as i16),
            &(a.trigger_type as i16),
            &a.created_at,
        ],
    )
    .await
    .map_err(internal)?;
    Ok(())
}

async fn move_delivery(tx: &Transaction<'_>, o: &Outcome) -> StoreResult<()> {
    let tried = i64::from(o.attempt.is_some());
    let (state, next_at) = match o.next {
        NextStep::Succeeded => (DeliveryStatus::Success, None),
        NextStep::Failed => (DeliveryStatus::Failed, None),
        NextStep::RetryAt(at) | NextStep::Release(at) => (DeliveryStatus::Pending, Some(at)),
    };
    let keep_manual = matches!(o.next, NextStep::Release(_));
    tx.execute(
        "UPDATE deliveries SET state = $1, next_attempt_at = $2, attempts = attempts + $3,
             lease_until = NULL, manual = manual AND $4, updated_at = $5
         WHERE id = $6 AND state = 3 AND lease_until = $7",
        &[
            &(state as i16),
            &next_at,
            &tried,
            &keep_manual,
            &crate::model::time::now_ms(),
            &o.delivery_id,
            &o.lease,
        ],
    )
    .await
    .map_err(internal)?;
    Ok(())
}

async fn endpoint_effect(
    tx: &Transaction<'_>,
    endpoint_id: &str,
    effect: &EndpointEffect,
) -> StoreResult<bool> {
    let disabled = match effect {
        EndpointEffect::None => false,
        EndpointEffect::Healthy => {
            tx.execute(
                "UPDATE endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
                &[&endpoint_id],
            )
            .await
            .map_err(internal)?;
            false
        }
        EndpointEffect::Failing { now, disable_before } => tx
            .query_opt(
                "UPDATE endpoints SET failing_since = COALESCE(failing_since, $2),
                     disabled = disabled OR COALESCE(failing_since, $2) <= $3
                 WHERE id = $1 RETURNING disabled",
                &[&endpoint_id, now, disable_before],
            )
            .await
            .map_err(internal)?
            .is_some_and(|r| r.get::<_, bool>(0)),
        EndpointEffect::Disable => {
            tx.execute(
                "UPDATE endpoints SET disabled = TRUE WHERE id = $1 AND NOT disabled",
                &[&endpoint_id],
            )
            .await
            .map_err(internal)?
                > 0
        }
    };
    Ok(disabled)
}

pub(super) async fn next_due_at(c: &impl GenericClient) -> StoreResult<Option<i64>> {
    let row = c
        .query_one("SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 1", &[])
        .await
        .map_err(internal)?;
    Ok(row.get(0))
}

/// Arbitrary, fixed: held while one node expires leases, so nodes take turns.
const MAINTENANCE_LOCK: i64 = 0x686f_6f6b_6400_0002;

pub(super) async fn expire_leases(tx: &Transaction<'_>, now: i64) -> StoreResult<usize> {
    let locked: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&MAINTENANCE_LOCK])
        .await
        .map_err(internal)?
        .get(0);
    if !locked {
        return Ok(0);
    }
    let changed = tx
        .execute(
            "UPDATE deliveries SET state = 1, lease_until = NULL, next_attempt_at = $1
             WHERE state = 3 AND lease_until < $1",
            &[&now],
        )
        .await
        .map_err(internal)?;
    if changed > 0 {
        super::messages::notify_work(tx).await?;
    }
    Ok(changed as usize)
}
