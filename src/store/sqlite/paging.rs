//! Cursor pagination shared by every list: keyset on the id (or name) column, one row more
//! than asked to learn whether the list goes on.

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};

use super::pool::internal;
use crate::store::{ListQuery, Order, Page, StoreResult};

/// Runs `select` (which must end in a `WHERE` clause, `1` if nothing else) as one page.
pub(super) fn paged<T>(
    conn: &Connection,
    select: &str,
    mut params: Vec<Value>,
    order: Order,
    query: &ListQuery,
    map: impl Fn(&Row) -> rusqlite::Result<T>,
) -> StoreResult<Page<T>> {
    let plan = query.plan(&order);
    let mut sql = String::from(select);
    if let Some((op, key)) = plan.after {
        sql.push_str(&format!(" AND {} {op} ?", order.key));
        params.push(Value::Text(key.to_owned()));
    }
    sql.push_str(&format!(" ORDER BY {} {} LIMIT {}", order.key, plan.direction, plan.fetch()));
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let items: Vec<T> = stmt
        .query_map(params_from_iter(params), map)
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    Ok(plan.page(items))
}
