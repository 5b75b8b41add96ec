//! A few read-only connections beside the writer ([`super::pool`]): WAL lets them read while
//! it commits.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::pool::open_connection;
use super::util::internal;
use crate::store::StoreResult;

/// A few read-only connections, used from blocking threads so queries never stall the
/// async runtime.
pub(super) struct Readers {
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Readers {
    pub(super) fn open(path: &Path, count: usize) -> rusqlite::Result<Self> {
        let conns = (0..count).map(|_| open_connection(path, true)).collect::<Result<_, _>>()?;
        Ok(Self { idle: Mutex::new(conns), permits: Semaphore::new(count) })
    }

    pub(super) async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _permit = self.permits.acquire().await.map_err(internal)?;
        let conn = self.idle.lock().map_err(internal)?.pop();
        let conn = conn.ok_or_else(|| internal("reader pool is empty"))?;
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let result = f(&conn);
            (conn, result)
        })
        .await
        .map_err(internal)?;
        self.idle.lock().map_err(internal)?.push(conn);
        result
    }
}
