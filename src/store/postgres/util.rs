//! Helpers shared by the PostgreSQL queries: errors, dynamic parameters, pagination.

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

/// Maps a unique violation to a 409 with `detail`, anything else to a 500.
pub(super) fn conflict_or_internal(
    detail: &str,
) -> impl Fn(tokio_postgres::Error) -> StoreError + '_ {
    move |err| {
        if is_unique_violation(&err) { StoreError::Conflict(detail.into()) } else { internal(err) }
    }
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

/// Runs `select` (its `WHERE` clause using `$1..$n` for `params`) as one page.
pub(super) async fn paged<T>(
    client: &impl GenericClient,
    select: &str,
    mut params: Vec<Param>,
    order: Order,
    query: &ListQuery,
    map: fn(&Row) -> Result<T, tokio_postgres::Error>,
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
    let items = rows.iter().map(map).collect::<Result<Vec<_>, _>>().map_err(internal)?;
    Ok(plan.page(items))
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
