//! The dashboard's figures and the endpoints that need attention.

use rusqlite::{Connection, params};

use super::rows;
use super::util::{all, internal};
use crate::model::ids::{ATTEMPT, MESSAGE, lowest_id_at};
use crate::model::{Endpoint, EndpointStats, HourCount, Overview};
use crate::security::sealing::Keyring;
use crate::store::rows::ENDPOINT;
use crate::store::{Backlog, StoreResult};

/// Each count walks an index over just what it counts: ids carry their creation time, so
/// "since" is a range of the primary key; failed and pending rows have partial indexes.
pub(super) fn overview(conn: &Connection, since: i64) -> StoreResult<Overview> {
    let count = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> StoreResult<u64> {
        conn.prepare_cached(sql)
            .and_then(|mut stmt| stmt.query_row(params, |row| row.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(internal)
    };
    let (first_message, first_attempt) =
        (lowest_id_at(MESSAGE, since), lowest_id_at(ATTEMPT, since));
    Ok(Overview {
        messages: count("SELECT count(*) FROM messages WHERE id >= ?", &[&first_message])?,
        succeeded: count(
            "SELECT count(*) FROM attempts WHERE id >= ? AND status = 0",
            &[&first_attempt],
        )?,
        failed: count(
            "SELECT count(*) FROM deliveries WHERE state IN (2, 5) AND updated_at >= ?",
            &[&since],
        )?,
        pending: count(
            "SELECT (SELECT count(*) FROM deliveries WHERE state = 1)
                  + (SELECT count(*) FROM deliveries WHERE state = 3)",
            &[],
        )?,
    })
}

/// Pending deliveries due by `now`, and due later: two ranges of the partial index on due time.
pub(super) fn backlog(conn: &Connection, now: i64) -> StoreResult<Backlog> {
    let count = |sql: &str| -> StoreResult<u64> {
        conn.prepare_cached(sql)
            .and_then(|mut stmt| stmt.query_row([now], |row| row.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(internal)
    };
    Ok(Backlog {
        due: count("SELECT count(*) FROM deliveries WHERE state = 1 AND next_attempt_at <= ?")?,
        scheduled: count(
            "SELECT count(*) FROM deliveries WHERE state = 1 AND next_attempt_at > ?",
        )?,
    })
}

/// Writes the heartbeat row; called in a durable commit, so success means the disk took it.
/// Proves the store takes writes: one row, with 16 KiB of filler (see the schema), committed
/// like a message.
pub(super) fn heartbeat(conn: &Connection, now: i64) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO heartbeat (id, at, room) VALUES (1, ?, zeroblob(16384))
         ON CONFLICT (id) DO UPDATE SET at = excluded.at, room = excluded.room",
    )
    .and_then(|mut stmt| stmt.execute([now]))
    .map(drop)
    .map_err(internal)
}

pub(super) fn unhealthy_endpoints(
    conn: &Connection,
    keys: &Keyring,
    limit: usize,
) -> StoreResult<Vec<Endpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT} FROM endpoints WHERE disabled = 1 OR failing_since IS NOT NULL
         ORDER BY failing_since IS NULL, failing_since, id LIMIT ?"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    all(&mut stmt, params![limit as i64], rows::endpoint(keys))
}

pub(super) fn endpoint_stats(
    conn: &Connection,
    endpoint_id: &str,
    since: i64,
    until: i64,
) -> StoreResult<EndpointStats> {
    let (first, end) = (lowest_id_at(ATTEMPT, since), lowest_id_at(ATTEMPT, until));
    let hourly = conn
        .prepare_cached(
            "SELECT created_at / 3600000, sum(status = 0), sum(status != 0) FROM attempts
             WHERE endpoint_id = ?1 AND id >= ?2 AND id < ?3 GROUP BY 1 ORDER BY 1",
        )
        .and_then(|mut stmt| {
            stmt.query_map(params![endpoint_id, first, end], |row| {
                Ok(HourCount {
                    start: row.get::<_, i64>(0)? * 3_600_000,
                    success: row.get::<_, i64>(1)? as u64,
                    fail: row.get::<_, i64>(2)? as u64,
                })
            })?
            .collect()
        })
        .map_err(internal)?;
    let (pending, sending) = conn
        .prepare_cached(
            "SELECT sum(state = 1), sum(state = 3) FROM deliveries
             WHERE endpoint_id = ?1 AND state IN (1, 3)",
        )
        .and_then(|mut stmt| {
            stmt.query_row([endpoint_id], |row| {
                Ok((row.get::<_, Option<i64>>(0)?, row.get::<_, Option<i64>>(1)?))
            })
        })
        .map_err(internal)?;
    let count = |n: Option<i64>| n.unwrap_or(0) as u64;
    Ok(EndpointStats { hourly, pending: count(pending), sending: count(sending) })
}
