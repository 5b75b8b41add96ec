//! Helpers shared by the SQLite queries: errors, rows, pagination.

use rusqlite::types::Value;
use rusqlite::{CachedStatement, Connection, Params, Row, params_from_iter};

use crate::store::{ListQuery, Order, Page, StoreError, StoreResult};

pub(super) fn internal(err: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(err.to_string())
}

pub(super) fn is_unique_violation(err: &rusqlite::Error) -> bool {
    err.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}

/// Maps a unique violation to `on_unique`'s error, anything else to a 500.
pub(super) fn unique_or_internal(
    on_unique: impl Fn() -> StoreError,
) -> impl Fn(rusqlite::Error) -> StoreError {
    move |err| if is_unique_violation(&err) { on_unique() } else { internal(err) }
}

/// Maps a unique violation to a 409 with `detail`, anything else to a 500.
pub(super) fn conflict_or_internal(detail: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    unique_or_internal(move || StoreError::Conflict(detail.into()))
}

pub(super) fn found(changed: usize, what: &'static str) -> StoreResult<()> {
    if changed == 0 { Err(StoreError::NotFound(what)) } else { Ok(()) }
}

/// Runs the statement and maps every row it returns.
pub(super) fn all<T>(
    stmt: &mut CachedStatement<'_>,
    params: impl Params,
    map: impl Fn(&Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut rows = stmt.query(params).map_err(internal)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(internal)? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// Runs the statement and maps its first row, if it returns one.
pub(super) fn first<T>(
    stmt: &mut CachedStatement<'_>,
    params: impl Params,
    map: impl Fn(&Row) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut rows = stmt.query(params).map_err(internal)?;
    rows.next().map_err(internal)?.map(map).transpose()
}

/// Finds a row by its id or, when no id matches, by the other key the caller may use (a
/// uid, an `eventId`): `select` ends in a `WHERE` clause and `key` names the column, compared
/// with the last parameter.
///
/// Two statements rather than one `(id = ? OR key = ?) ORDER BY id = ? DESC`: SQLite compiles
/// a statement whose `ORDER BY` holds a parameter again each time it is bound, which took a
/// quarter of the writer's time when every ingest resolved its application that way.
pub(super) fn by_id_or_key<T>(
    conn: &Connection,
    select: &str,
    key: &str,
    params: &[&str],
    map: impl Fn(&Row) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let last = params.len();
    for column in ["id", key] {
        let sql = format!("{select} AND {column} = ?{last}");
        let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
        if let Some(found) = first(&mut stmt, params_from_iter(params), &map)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Runs `select` (which must end in a `WHERE` clause, `1` if nothing else) as one page:
/// keyset on the order column, one row more than asked to learn whether the list goes on.
pub(super) fn paged<T>(
    conn: &Connection,
    select: &str,
    mut params: Vec<Value>,
    order: Order,
    query: &ListQuery,
    map: impl Fn(&Row) -> StoreResult<T>,
) -> StoreResult<Page<T>> {
    let plan = query.plan(&order);
    let mut sql = String::from(select);
    if let Some((op, key)) = plan.after {
        sql.push_str(&format!(" AND {} {op} ?", order.key));
        params.push(Value::Text(key.to_owned()));
    }
    sql.push_str(&format!(" ORDER BY {} {} LIMIT {}", order.key, plan.direction, plan.fetch()));
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    Ok(plan.page(all(&mut stmt, params_from_iter(params), map)?))
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, StatementStatus};

    use super::*;

    #[test]
    fn an_id_wins_over_a_key_and_lookups_are_not_compiled_again() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id TEXT PRIMARY KEY, uid TEXT UNIQUE, n TEXT);
             INSERT INTO t VALUES ('a', 'b', 'first'), ('b', 'c', 'second');",
        )
        .unwrap();
        let select = "SELECT n FROM t WHERE 1";
        let find = |key: &str| {
            by_id_or_key(&conn, select, "uid", &[key], |r| r.get::<_, String>(0).map_err(internal))
                .unwrap()
        };
        assert_eq!(find("b").as_deref(), Some("second"), "the id matches before the uid");
        assert_eq!(find("c").as_deref(), Some("second"));
        assert_eq!(find("a").as_deref(), Some("first"));
        assert_eq!(find("z"), None);
        for column in ["id", "uid"] {
            let sql = format!("{select} AND {column} = ?1");
            let stmt = conn.prepare_cached(&sql).unwrap();
            assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0, "{sql}");
        }
    }
}
