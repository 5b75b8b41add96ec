//! Helpers shared by the PostgreSQL queries: errors, rows, dynamic parameters, pagination,
//! cached statements.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::store::{ListQuery, Order, Page, StoreError, StoreResult};

pub(super) type Param = Box<dyn ToSql + Sync + Send>;

/// A failure of the database, or [`StoreError::Unavailable`] when PostgreSQL cannot be
/// reached (down, restarting, the connection lost): then nothing was written, or what was
/// is committed and will be found again, and the request may succeed in a moment; the API
/// answers 503 with `Retry-After` rather than 500.
pub(super) fn internal(err: impl Failure) -> StoreError {
    if err.unreachable() {
        StoreError::Unavailable(format!("PostgreSQL cannot be reached: {err}"))
    } else {
        StoreError::Internal(err.to_string())
    }
}

/// What [`internal`] maps: whether it says the server cannot be reached.
pub(super) trait Failure: std::fmt::Display {
    fn unreachable(&self) -> bool {
        false
    }
}

impl Failure for String {}
impl Failure for &str {}

impl Failure for tokio_postgres::Error {
    fn unreachable(&self) -> bool {
        // Class 08 is "connection exception"; 57P01-57P03 are the server shutting down,
        // crashing, or not yet taking connections. An I/O error underneath means no answer
        // came at all (refused, reset).
        let code = self.code().map(|c| c.code());
        self.is_closed()
            || code.is_some_and(|c| c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03"))
            || std::error::Error::source(self).is_some_and(|s| s.is::<std::io::Error>())
    }
}

impl Failure for deadpool_postgres::PoolError {
    fn unreachable(&self) -> bool {
        match self {
            deadpool_postgres::PoolError::Backend(e) => e.unreachable(),
            deadpool_postgres::PoolError::Timeout(_) => true,
            _ => false,
        }
    }
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
    notify_with(c, channel, "").await
}

/// `NOTIFY channel, payload`.
pub(super) async fn notify_with(
    c: &impl GenericClient,
    channel: &str,
    payload: &str,
) -> StoreResult<()> {
    c.exec("SELECT pg_notify($1, $2)", &[&channel, &payload]).await.map_err(internal)?;
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
