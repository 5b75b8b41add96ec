//! Ordering lanes: the deliveries of one endpoint and one ordering key, sent one at a time in
//! the order they were accepted (see `model::delivery`). A lane's members wait pending with
//! no due time; the one in front is due, sending, retrying, or held after failing for good.
//!
//! Every write goes through the one writer connection, so a lane's check and its change
//! cannot interleave with another's (PostgreSQL needs a lock for that: its `lanes.rs`).

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, params};

use super::util::internal;
use crate::store::StoreResult;

/// A lane member in front: due or retrying, sending, or held (state 5).
const IN_FRONT: &str = "endpoint_id = ?1 AND ordering_key = ?2 AND state IN (1, 3, 5)
     AND (state <> 1 OR next_attempt_at IS NOT NULL)";

/// Which of these endpoints' lanes for `key` have a delivery in front, so a new one waits.
pub(super) fn occupied(
    conn: &Connection,
    endpoint_ids: &[&str],
    key: &str,
) -> StoreResult<HashSet<String>> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM deliveries WHERE {IN_FRONT})");
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let mut occupied = HashSet::new();
    for id in endpoint_ids {
        if stmt.query_row(params![id, key], |r| r.get(0)).map_err(internal)? {
            occupied.insert((*id).to_owned());
        }
    }
    Ok(occupied)
}

/// Makes each lane's oldest waiting delivery due at `now`, where nothing is in front of it;
/// answers how many became due. Harmless on a lane with something in front, or none waiting.
pub(super) fn advance(conn: &Connection, lanes: &[(&str, &str)], now: i64) -> StoreResult<usize> {
    if lanes.is_empty() {
        return Ok(0); // the common case: a batch without keyed deliveries
    }
    // `state IN (1, 3, 5)` beside `state = 1` repeats the lanes index's condition: SQLite
    // uses a partial index only for a query that states its condition word for word.
    let sql = format!(
        "UPDATE deliveries SET next_attempt_at = ?3, updated_at = ?3
         WHERE id = (SELECT id FROM deliveries
                     WHERE endpoint_id = ?1 AND ordering_key = ?2 AND state IN (1, 3, 5)
                       AND state = 1 AND next_attempt_at IS NULL
                     ORDER BY id LIMIT 1)
           AND NOT EXISTS (SELECT 1 FROM deliveries WHERE {IN_FRONT})"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let mut advanced = 0;
    for (endpoint_id, key) in lanes {
        advanced += stmt.execute(params![endpoint_id, key, now]).map_err(internal)?;
    }
    Ok(advanced)
}

/// The ordering key of a message, if it has one.
pub(super) fn key_of(conn: &Connection, msg_id: &str) -> StoreResult<Option<String>> {
    conn.prepare_cached("SELECT ordering_key FROM messages WHERE id = ?")
        .and_then(|mut s| s.query_row([msg_id], |r| r.get(0)).optional())
        .map(Option::flatten)
        .map_err(internal)
}
