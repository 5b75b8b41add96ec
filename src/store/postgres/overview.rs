//! The dashboard's figures and the endpoints that need attention.

use deadpool_postgres::GenericClient;

use super::rows;
use super::util::{Cached, all, internal};
use crate::model::ids::{ATTEMPT, MESSAGE, lowest_id_at};
use crate::model::{Endpoint, EndpointStats, HourCount, Overview};
use crate::security::sealing::Keyring;
use crate::store::rows::ENDPOINT;
use crate::store::{Backlog, StoreResult};

/// Each count walks an index over just what it counts: ids carry their creation time, so
/// "since" is a range of the primary key; failed and pending rows have partial indexes.
pub(super) async fn overview(c: &impl GenericClient, since: i64) -> StoreResult<Overview> {
    let (first_message, first_attempt) =
        (lowest_id_at(MESSAGE, since), lowest_id_at(ATTEMPT, since));
    let row = c
        .row(
            "SELECT (SELECT count(*) FROM messages WHERE id >= $1),
                    (SELECT count(*) FROM attempts WHERE id >= $2 AND status = 0),
                    (SELECT count(*) FROM deliveries WHERE state IN (2, 5) AND updated_at >= $3),
                    (SELECT count(*) FROM deliveries WHERE state = 1)
                  + (SELECT count(*) FROM deliveries WHERE state = 3)",
            &[&first_message, &first_attempt, &since],
        )
        .await
        .map_err(internal)?;
    let get = |i: usize| row.try_get::<_, i64>(i).map(|n| n as u64).map_err(internal);
    Ok(Overview { messages: get(0)?, succeeded: get(1)?, failed: get(2)?, pending: get(3)? })
}

/// Pending deliveries due by `now`, and due later: two ranges of the partial index on due time.
pub(super) async fn backlog(c: &impl GenericClient, now: i64) -> StoreResult<Backlog> {
    let row = c
        .row(
            "SELECT (SELECT count(*) FROM deliveries WHERE state = 1 AND next_attempt_at <= $1),
                    (SELECT count(*) FROM deliveries WHERE state = 1 AND next_attempt_at > $1)",
            &[&now],
        )
        .await
        .map_err(internal)?;
    let get = |i: usize| row.try_get::<_, i64>(i).map(|n| n as u64).map_err(internal);
    Ok(Backlog { due: get(0)?, scheduled: get(1)? })
}

/// Marks the node alive, forgets nodes gone for an hour, and counts those seen since
/// `live_after`.
pub(super) async fn count_nodes(
    c: &impl GenericClient,
    node_id: &str,
    now: i64,
    live_after: i64,
) -> StoreResult<usize> {
    c.exec(
        "INSERT INTO nodes (id, seen_at) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
        &[&node_id, &now],
    )
    .await
    .map_err(internal)?;
    c.exec("DELETE FROM nodes WHERE seen_at < $1", &[&(now - 3_600_000)])
        .await
        .map_err(internal)?;
    let row = c
        .opt_row(
            "SELECT COUNT(*) FROM nodes WHERE seen_at >= $1 OR id = $2",
            &[&live_after, &node_id],
        )
        .await
        .map_err(internal)?;
    let count: i64 = row.map(|r| r.try_get(0)).transpose().map_err(internal)?.unwrap_or(1);
    Ok(count.max(1) as usize)
}

/// Writes the heartbeat row, committed with `synchronous_commit` on: success means the WAL
/// reached the disk.
pub(super) async fn heartbeat(c: &impl GenericClient, now: i64) -> StoreResult<()> {
    c.exec(
        "INSERT INTO heartbeat (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
        &[&now],
    )
    .await
    .map(drop)
    .map_err(internal)
}

pub(super) async fn unhealthy_endpoints(
    c: &impl GenericClient,
    keys: &Keyring,
    limit: usize,
) -> StoreResult<Vec<Endpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT} FROM endpoints WHERE disabled OR failing_since IS NOT NULL
         ORDER BY failing_since IS NULL, failing_since, id LIMIT $1"
    );
    all(c, &sql, &[&(limit as i64)], rows::endpoint(keys)).await
}

pub(super) async fn endpoint_stats(
    c: &impl GenericClient,
    endpoint_id: &str,
    since: i64,
    until: i64,
) -> StoreResult<EndpointStats> {
    let (first, end) = (lowest_id_at(ATTEMPT, since), lowest_id_at(ATTEMPT, until));
    let hours = c
        .rows(
            "SELECT created_at / 3600000, count(*) FILTER (WHERE status = 0),
                    count(*) FILTER (WHERE status <> 0) FROM attempts
             WHERE endpoint_id = $1 AND id >= $2 AND id < $3 GROUP BY 1 ORDER BY 1",
            &[&endpoint_id, &first, &end],
        )
        .await
        .map_err(internal)?;
    let hour = |row: &tokio_postgres::Row| -> Result<HourCount, tokio_postgres::Error> {
        Ok(HourCount {
            start: row.try_get::<_, i64>(0)? * 3_600_000,
            success: row.try_get::<_, i64>(1)? as u64,
            fail: row.try_get::<_, i64>(2)? as u64,
        })
    };
    let hourly = hours.iter().map(hour).collect::<Result<_, _>>().map_err(internal)?;
    let row = c
        .row(
            "SELECT count(*) FILTER (WHERE state = 1), count(*) FILTER (WHERE state = 3)
             FROM deliveries WHERE endpoint_id = $1 AND state IN (1, 3)",
            &[&endpoint_id],
        )
        .await
        .map_err(internal)?;
    let get = |i: usize| row.try_get::<_, i64>(i).map(|n| n as u64).map_err(internal);
    Ok(EndpointStats { hourly, pending: get(0)?, sending: get(1)? })
}
