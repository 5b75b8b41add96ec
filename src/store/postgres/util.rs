//! Helpers shared by the PostgreSQL queries: errors, rows, dynamic parameters, pagination,
//! cached statements.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::store::{ListQuery, Order, Page, StoreError, StoreResult};

pub(super) type Param = Box<dyn ToSql + Sync + Send>;

pub(super) fn internal(err: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(err.to_string())
}

pub(super) fn is_unique_violation(err: &tokio_postgres::Error) -> bool {
    err.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
}

/// Maps a unique violation to `on_unique`'s error, anything else to a 500.
pub(super) fn unique_or_internal(
    on_unique: impl Fn() -> StoreError,
) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |err| if is_unique_violation(&err) { on_unique() } else { internal(err) }
}

/// Maps a unique violation to a 409 with `detail`, anything else to a 500.
pub(super) fn conflict_or_internal(
    detail: &str,
) -> impl Fn(tokio_postgres::Error) -> StoreError + '_ {
    unique_or_internal(move || StoreError::Conflict(detail.into()))
}

pub(super) fn found(changed: u64, what: &'static str) -> StoreResult<()> {
    if changed == 0 { Err(StoreError::NotFound(what)) } else { Ok(()) }
}

pub(super) fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
}

pub(super) fn opt_i64(v: Option<u32>) -> Option<i64> {
    v.map(i64::from)
}

/// `NOTIFY channel`, delivered to the listening nodes when the caller's transaction commits
/// (at once outside one).
pub(super) async fn notify(c: &impl GenericClient, channel: &str) -> StoreResult<()> {
    c.exec("SELECT pg_notify($1, '')", &[&channel]).await.map_err(internal)?;
    Ok(())
}

/// Runs the statement and maps every row it returns.
pub(super) async fn all<T>(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    map: impl Fn(&Row) -> StoreResult<T> + Send + Sync,
) -> StoreResult<Vec<T>> {
    c.rows(sql, params).await.map_err(internal)?.iter().map(&map).collect()
}

/// Runs the statement and maps its first row, if it returns one.
pub(super) async fn first<T>(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    map: impl Fn(&Row) -> StoreResult<T> + Send + Sync,
) -> StoreResult<Option<T>> {
    c.opt_row(sql, params).await.map_err(internal)?.as_ref().map(&map).transpose()
}

/// Runs `select` (its `WHERE` clause using `$1..$n` for `params`) as one page:
/// keyset on the order column, one row more than asked to learn whether the list goes on.
pub(super) async fn paged<T>(
    client: &impl GenericClient,
    select: &str,
    mut params: Vec<Param>,
    order: Order,
    query: &ListQuery,
    map: impl Fn(&Row) -> StoreResult<T> + Send + Sync,
) -> StoreResult<Page<T>> {
    let plan = query.plan(&order);
    let mut sql = String::from(select);
    if let Some((op, key)) = plan.after {
        sql.push_str(&format!(" AND {} {op} ${}", order.key, params.len() + 1));
        params.push(Box::new(key.to_owned()));
    }
    params.push(Box::new(i64::from(plan.fetch())));
    sql.push_str(&format!(" ORDER BY {} {} LIMIT ${}", order.key, plan.direction, params.len()));
    // Built per filter combination: not worth a cached statement on every connection.
    let rows = client.query(&sql, &refs(&params)).await.map_err(internal)?;
    Ok(plan.page(rows.iter().map(&map).collect::<StoreResult<Vec<_>>>()?))
}

/// Every statement through these is prepared once per connection and then reused, so an
/// execution costs one round trip instead of two (prepare, then execute).
#[async_trait::async_trait]
pub(super) trait Cached: GenericClient {
    async fn exec(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, tokio_postgres::Error> {
        let statement = self.prepare_cached(sql).await?;
        self.execute(&statement, params).await
    }

    async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let statement = self.prepare_cached(sql).await?;
        self.query(&statement, params).await
    }

    async fn row(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, tokio_postgres::Error> {
        let statement = self.prepare_cached(sql).await?;
        self.query_one(&statement, params).await
    }

    async fn opt_row(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        let statement = self.prepare_cached(sql).await?;
        self.query_opt(&statement, params).await
    }
}

impl<C: GenericClient> Cached for C {}
