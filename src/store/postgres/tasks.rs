//! Background tasks (see [`BackgroundTask`]) and the step a replay is made of.

use deadpool_postgres::GenericClient;

use super::messages::WORK_CHANNEL;
use super::util::{Cached, Param, first, internal, notify, paged};
use super::{lanes, rows};
use crate::model::task::{BackgroundTask, Selection, TaskFilter};
use crate::store::rows::{TASK, to_json};
use crate::store::{ListQuery, Order, Page, Queued, StoreError, StoreResult};

pub(super) async fn insert(c: &impl GenericClient, task: &BackgroundTask) -> StoreResult<()> {
    c.exec(
        "INSERT INTO background_tasks (id, app_id, kind, status, selection, queued, cursor,
         cancel_requested, error, lease_until, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            &task.id,
            &task.app_id,
            &task.kind.as_str(),
            &task.status.as_str(),
            &to_json(&task.selection),
            &(task.queued as i64),
            &task.cursor,
            &task.cancel_requested,
            &task.error,
            &task.lease_until,
            &task.created_at,
            &task.updated_at,
        ],
    )
    .await
    .map_err(internal)?;
    Ok(())
}

pub(super) async fn find(c: &impl GenericClient, id: &str) -> StoreResult<BackgroundTask> {
    let sql = format!("SELECT {TASK} FROM background_tasks WHERE id = $1");
    first(c, &sql, &[&id], rows::task).await?.ok_or(StoreError::NotFound("background task"))
}

pub(super) async fn list(
    c: &impl GenericClient,
    filter: &TaskFilter,
    query: &ListQuery,
) -> StoreResult<Page<BackgroundTask>> {
    let mut select = format!("SELECT {TASK} FROM background_tasks WHERE 1 = 1");
    let mut values: Vec<Param> = Vec::new();
    if let Some(status) = filter.status {
        values.push(Box::new(status.as_str()));
        select.push_str(&format!(" AND status = ${}", values.len()));
    }
    if let Some(kind) = filter.kind {
        values.push(Box::new(kind.as_str()));
        select.push_str(&format!(" AND kind = ${}", values.len()));
    }
    let order = Order { key: "id", descending: false };
    paged(c, &select, values, order, query, rows::task).await
}

pub(super) async fn claim(
    c: &impl GenericClient,
    now: i64,
    lease_until: i64,
) -> StoreResult<Option<BackgroundTask>> {
    let sql = format!(
        "UPDATE background_tasks SET lease_until = $2 WHERE id = (
             SELECT id FROM background_tasks
             WHERE status = 'running' AND (lease_until IS NULL OR lease_until <= $1)
             ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING {TASK}"
    );
    first(c, &sql, &[&now, &lease_until], rows::task).await
}

/// Writes what the runner changes; `cancel_requested` stays as a request may have set it.
pub(super) async fn save(
    c: &impl GenericClient,
    task: &BackgroundTask,
) -> StoreResult<BackgroundTask> {
    let sql = format!(
        "UPDATE background_tasks SET status = $1, queued = $2, cursor = $3, error = $4,
             lease_until = $5, updated_at = $6
         WHERE id = $7 RETURNING {TASK}"
    );
    let values: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
        &task.status.as_str(),
        &(task.queued as i64),
        &task.cursor,
        &task.error,
        &task.lease_until,
        &task.updated_at,
        &task.id,
    ];
    first(c, &sql, &values, rows::task).await?.ok_or(StoreError::NotFound("background task"))
}

pub(super) async fn cancel(
    c: &impl GenericClient,
    id: &str,
    now: i64,
) -> StoreResult<BackgroundTask> {
    c.exec(
        "UPDATE background_tasks SET cancel_requested = TRUE, updated_at = $2
         WHERE id = $1 AND status = 'running'",
        &[&id, &now],
    )
    .await
    .map_err(internal)?;
    find(c, id).await
}

/// The deliveries `selection` picks, as a `WHERE` clause over `deliveries d JOIN messages m`
/// with its parameters `$1` (app) and `$3`–`$7`; `$2` is left for the caller's cursor.
const SELECTED: &str = "m.app_id = $1
      AND (d.state IN (2, 5) OR (NOT $3 AND d.state = 0))
      AND ($4::text IS NULL OR d.endpoint_id = $4)
      AND ($5::bigint IS NULL OR m.created_at >= $5)
      AND ($6::bigint IS NULL OR m.created_at < $6)
      AND ($7::text[] IS NULL OR m.event_type = ANY($7))";

/// Queues again up to `limit` of the selected deliveries after `cursor` (in key order). The
/// state is checked again on the row itself, so one claimed meanwhile is left to its claim.
pub(super) async fn replay_step(
    c: &impl GenericClient,
    app_id: &str,
    s: &Selection,
    cursor: i64,
    limit: usize,
    now: i64,
) -> StoreResult<(usize, Option<i64>)> {
    let sql = format!(
        "UPDATE deliveries SET state = 1, attempts = 0, manual = TRUE, lease_until = NULL,
             next_attempt_at = CASE WHEN ordering_key IS NULL THEN $9::bigint END, updated_at = $9
         WHERE id IN (SELECT d.id FROM deliveries d JOIN messages m ON m.id = d.msg_id
                      WHERE d.id > $2 AND {SELECTED} ORDER BY d.id LIMIT $8)
           AND (state IN (2, 5) OR (NOT $3 AND state = 0))
         RETURNING id, endpoint_id, ordering_key"
    );
    let rows = c
        .rows(
            &sql,
            &[
                &app_id,
                &cursor,
                &s.failed_only,
                &s.endpoint_id,
                &s.since,
                &s.until,
                &s.event_types,
                &(limit as i64),
                &now,
            ],
        )
        .await
        .map_err(internal)?;
    let queued: Vec<Queued> = rows.iter().map(queued).collect::<Result<_, _>>()?;
    lanes::advance(c, &Queued::lanes(&queued), now).await?;
    if !queued.is_empty() {
        notify(c, WORK_CHANNEL).await?;
    }
    Ok((queued.len(), queued.iter().map(|q| q.id).max()))
}

fn queued(row: &tokio_postgres::Row) -> StoreResult<Queued> {
    let key: Option<String> = row.try_get(2).map_err(internal)?;
    let lane = key.map(|key| Ok((row.try_get(1).map_err(internal)?, key))).transpose()?;
    Ok(Queued { id: row.try_get(0).map_err(internal)?, lane })
}

pub(super) async fn count_replay(
    c: &impl GenericClient,
    app_id: &str,
    s: &Selection,
) -> StoreResult<u64> {
    let sql = format!(
        "SELECT COUNT(*) FROM deliveries d JOIN messages m ON m.id = d.msg_id
         WHERE d.id > $2 AND {SELECTED}"
    );
    let row = c
        .opt_row(
            &sql,
            &[&app_id, &0i64, &s.failed_only, &s.endpoint_id, &s.since, &s.until, &s.event_types],
        )
        .await
        .map_err(internal)?;
    let count: i64 = row.map(|r| r.try_get(0)).transpose().map_err(internal)?.unwrap_or(0);
    Ok(count.max(0) as u64)
}
