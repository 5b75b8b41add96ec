//! Background tasks (see [`BackgroundTask`]) and the step a replay is made of.

use rusqlite::types::Value;
use rusqlite::{Connection, params};

use super::util::{all, first, internal, paged};
use super::{lanes, rows};
use crate::model::task::{BackgroundTask, Selection, TaskFilter};
use crate::store::rows::{TASK, opt_json, to_json};
use crate::store::{ListQuery, Order, Page, Queued, StoreError, StoreResult};

pub(super) fn insert(conn: &Connection, task: &BackgroundTask) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO background_tasks (id, app_id, kind, status, selection, queued, cursor,
         cancel_requested, error, lease_until, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .and_then(|mut s| {
        s.execute(params![
            task.id,
            task.app_id,
            task.kind.as_str(),
            task.status.as_str(),
            to_json(&task.selection),
            task.queued as i64,
            task.cursor,
            task.cancel_requested,
            task.error,
            task.lease_until,
            task.created_at,
            task.updated_at
        ])
    })
    .map_err(internal)?;
    Ok(())
}

pub(super) fn find(conn: &Connection, id: &str) -> StoreResult<BackgroundTask> {
    let sql = format!("SELECT {TASK} FROM background_tasks WHERE id = ?");
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    first(&mut stmt, [id], rows::task)?.ok_or(StoreError::NotFound("background task"))
}

pub(super) fn list(
    conn: &Connection,
    filter: &TaskFilter,
    query: &ListQuery,
) -> StoreResult<Page<BackgroundTask>> {
    let mut select = format!("SELECT {TASK} FROM background_tasks WHERE 1 = 1");
    let mut values = Vec::new();
    if let Some(status) = filter.status {
        select.push_str(" AND status = ?");
        values.push(Value::Text(status.as_str().into()));
    }
    if let Some(kind) = filter.kind {
        select.push_str(" AND kind = ?");
        values.push(Value::Text(kind.as_str().into()));
    }
    let order = Order { key: "id", descending: false };
    paged(conn, &select, values, order, query, rows::task)
}

pub(super) fn claim(
    conn: &Connection,
    now: i64,
    lease_until: i64,
) -> StoreResult<Option<BackgroundTask>> {
    let sql = format!(
        "UPDATE background_tasks SET lease_until = ?2 WHERE id = (
             SELECT id FROM background_tasks
             WHERE status = 'running' AND (lease_until IS NULL OR lease_until <= ?1)
             ORDER BY id LIMIT 1)
         RETURNING {TASK}"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    first(&mut stmt, params![now, lease_until], rows::task)
}

/// Writes what the runner changes; `cancel_requested` stays as a request may have set it.
pub(super) fn save(conn: &Connection, task: &BackgroundTask) -> StoreResult<BackgroundTask> {
    let sql = format!(
        "UPDATE background_tasks SET status = ?, queued = ?, cursor = ?, error = ?,
             lease_until = ?, updated_at = ?
         WHERE id = ? RETURNING {TASK}"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let values = params![
        task.status.as_str(),
        task.queued as i64,
        task.cursor,
        task.error,
        task.lease_until,
        task.updated_at,
        task.id
    ];
    first(&mut stmt, values, rows::task)?.ok_or(StoreError::NotFound("background task"))
}

pub(super) fn cancel(conn: &Connection, id: &str, now: i64) -> StoreResult<BackgroundTask> {
    conn.prepare_cached(
        "UPDATE background_tasks SET cancel_requested = 1, updated_at = ?2
         WHERE id = ?1 AND status = 'running'",
    )
    .and_then(|mut s| s.execute(params![id, now]))
    .map_err(internal)?;
    find(conn, id)
}

/// The deliveries `selection` picks, as a `WHERE` clause over `deliveries d JOIN messages m`
/// with its parameters `?1` (app) and `?3`–`?8`; `?2` is left for the caller's cursor.
const SELECTED: &str = "m.app_id = ?1
      AND (d.state IN (2, 5) OR (?3 = 0 AND d.state = 0))
      AND (?4 IS NULL OR d.endpoint_id = ?4)
      AND (?5 IS NULL OR m.created_at >= ?5)
      AND (?6 IS NULL OR m.created_at < ?6)
      AND (?7 IS NULL OR m.event_type IN (SELECT value FROM json_each(?7)))";

fn selection_params(app_id: &str, cursor: i64, s: &Selection) -> [Value; 7] {
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
    let int = |v: Option<i64>| v.map_or(Value::Null, Value::Integer);
    [
        Value::Text(app_id.into()),
        Value::Integer(cursor),
        Value::Integer(i64::from(s.failed_only)),
        text(&s.endpoint_id),
        int(s.since),
        int(s.until),
        text(&opt_json(&s.event_types)),
    ]
}

fn lane_of(row: &rusqlite::Row) -> StoreResult<Option<(String, String)>> {
    let key: Option<String> = row.get(2).map_err(internal)?;
    key.map(|key| Ok((row.get(1).map_err(internal)?, key))).transpose()
}

/// Queues again up to `limit` of the selected deliveries after `cursor` (in key order).
/// Those with an ordering key join their lanes, which then move on if nothing is in front.
pub(super) fn replay_step(
    conn: &Connection,
    app_id: &str,
    selection: &Selection,
    cursor: i64,
    limit: usize,
    now: i64,
) -> StoreResult<(usize, Option<i64>)> {
    let sql = format!(
        "UPDATE deliveries SET state = 1, attempts = 0, manual = 1, lease_until = NULL,
             next_attempt_at = CASE WHEN ordering_key IS NULL THEN ?9 END, updated_at = ?9
         WHERE id IN (SELECT d.id FROM deliveries d JOIN messages m ON m.id = d.msg_id
                      WHERE d.id > ?2 AND {SELECTED} ORDER BY d.id LIMIT ?8)
         RETURNING id, endpoint_id, ordering_key"
    );
    let mut values = selection_params(app_id, cursor, selection).to_vec();
    values.extend([Value::Integer(limit as i64), Value::Integer(now)]);
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let queued = all(&mut stmt, rusqlite::params_from_iter(values), |row| {
        Ok(Queued { id: row.get(0).map_err(internal)?, lane: lane_of(row)? })
    })?;
    lanes::advance(conn, &Queued::lanes(&queued), now)?;
    Ok((queued.len(), queued.iter().map(|q| q.id).max()))
}

pub(super) fn count_replay(
    conn: &Connection,
    app_id: &str,
    selection: &Selection,
) -> StoreResult<u64> {
    let sql = format!(
        "SELECT COUNT(*) FROM deliveries d JOIN messages m ON m.id = d.msg_id
         WHERE d.id > ?2 AND {SELECTED}"
    );
    let values = selection_params(app_id, 0, selection);
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let count = first(&mut stmt, rusqlite::params_from_iter(values), |row| {
        row.get::<_, i64>(0).map_err(internal)
    })?;
    Ok(count.unwrap_or(0).max(0) as u64)
}
