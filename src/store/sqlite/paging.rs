//! Cursor pagination shared by every list: keyset on the id (or name) column, one row more
//! than asked to learn whether the list goes on.

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};

use super::pool::internal;
use crate::store::{Cursor, ListQuery, Page, StoreResult};

/// How a list is ordered.
pub(super) struct Order {
    pub key: &'static str,
    pub descending: bool,
}

/// Runs `select` (which must end in a `WHERE` clause, `1` if nothing else) as one page.
pub(super) fn paged<T>(
    conn: &Connection,
    select: &str,
    mut params: Vec<Value>,
    order: Order,
    query: &ListQuery,
    map: impl Fn(&Row) -> rusqlite::Result<T>,
) -> StoreResult<Page<T>> {
    let backwards = matches!(query.cursor, Cursor::Before(_));
    // Reading a previous page walks the list in reverse, then flips the page.
    let descending = order.descending != backwards;
    let mut sql = String::from(select);
    if let Cursor::After(key) | Cursor::Before(key) = &query.cursor {
        let op = if descending { "<" } else { ">" };
        sql.push_str(&format!(" AND {} {op} ?", order.key));
        params.push(Value::Text(key.clone()));
    }
    let dir = if descending { "DESC" } else { "ASC" };
    sql.push_str(&format!(" ORDER BY {} {dir} LIMIT {}", order.key, query.limit + 1));
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let mut items: Vec<T> = stmt
        .query_map(params_from_iter(params), map)
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    let has_more = items.len() > query.limit as usize;
    items.truncate(query.limit as usize);
    if backwards {
        items.reverse();
    }
    Ok(Page { items, has_more })
}
