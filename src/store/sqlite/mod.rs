//! The embedded backend: one SQLite file in WAL mode, one group-committing writer thread and
//! a few readers (see [`pool`]).

mod catalog;
mod checkpoint;
mod dispatch;
mod durable;
mod endpoints;
mod lanes;
mod messages;
mod overview;
mod pool;
mod readers;
mod rows;
mod schema;
mod sessions;
mod tasks;
mod util;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use rusqlite::Connection;

use self::checkpoint::Checkpointer;
use self::pool::{Writer, open_connection};
use self::readers::Readers;
use crate::model::delivery::{Claim, Outcome};
use crate::model::task::{BackgroundTask, Selection, TaskFilter};
use crate::model::{
    Application, Attempt, DeliveryState, Endpoint, EndpointStats, EventType, Message, Overview,
    Session,
};
use crate::security::files::{private_dir, private_file};
use crate::security::sealing::Keyring;
use crate::store::catalog_cache::CatalogCache;
use crate::store::{
    Accepted, Backlog, Claiming, CommitObserver, ListQuery, MessageFilter, NewMessage, Page, Store,
    StoreResult, Unobserved, after_read,
};

const READERS: usize = 4;

pub struct SqliteStore {
    writer: Writer,
    readers: Readers,
    /// Applications and their enabled endpoints as acceptance reads them (one process, one
    /// writer: always live, cleared by the writes themselves).
    cache: Arc<CatalogCache>,
    /// Open and seal endpoints' secrets and headers.
    keys: Arc<Keyring>,
    _checkpointer: Checkpointer,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date;
    /// `keys` seal and open endpoints' secrets.
    pub fn open(path: &Path, keys: Arc<Keyring>) -> Result<Self, String> {
        Self::open_observed(path, keys, Arc::new(Unobserved))
    }

    /// Like [`SqliteStore::open`], telling `observer` of every group commit.
    pub fn open_observed(
        path: &Path,
        keys: Arc<Keyring>,
        observer: Arc<dyn CommitObserver>,
    ) -> Result<Self, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        private_file(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let describe = |e: rusqlite::Error| format!("cannot open {}: {e}", path.display());
        let mut conn = open_connection(path, false).map_err(describe)?;
        schema::migrate(&mut conn).map_err(describe)?;
        conn.pragma_update(None, "wal_autocheckpoint", checkpoint::WRITER_BOUND)
            .map_err(describe)?;
        let checkpointer = Checkpointer::start(path)?;
        let readers = Readers::open(path, READERS).map_err(describe)?;
        let cache = Arc::new(CatalogCache::default());
        cache.set_live(true);
        let on_rollback = cache.clone();
        let writer = Writer::start(path, conn, observer, Box::new(move || on_rollback.clear()))?;
        Ok(Self { writer, readers, cache, keys, _checkpointer: checkpointer })
    }

    /// A write to applications or endpoints. The catalog copy is cleared inside the job, on
    /// the writer thread, each time the job runs: an acceptance later in the same
    /// transaction reads the tables (and so this write), one in a later transaction finds the
    /// copy as the committed rows left it. A transaction that is rolled back clears it again
    /// (the writer's `rolled_back`), so nothing read from writes that never committed stays.
    async fn catalog_write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let cache = self.cache.clone();
        self.writer
            .run(move |c| {
                cache.clear();
                f(c)
            })
            .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_app(&self, app: Application) -> StoreResult<Application> {
        self.catalog_write(move |c| catalog::insert_app(c, &app).map(|()| app.clone())).await
    }

    async fn get_app(&self, id_or_uid: &str) -> StoreResult<Application> {
        let key = id_or_uid.to_owned();
        self.readers.run(move |c| catalog::find_app(c, &key)).await
    }

    async fn list_apps(&self, query: ListQuery) -> StoreResult<Page<Application>> {
        self.readers.run(move |c| catalog::list_apps(c, &query)).await
    }

    async fn search_apps(&self, text: &str, limit: usize) -> StoreResult<Vec<Application>> {
        let text = text.to_owned();
        self.readers.run(move |c| catalog::search_apps(c, &text, limit)).await
    }

    async fn update_app(&self, app: Application) -> StoreResult<Application> {
        self.catalog_write(move |c| catalog::update_app(c, &app).map(|()| app.clone())).await
    }

    async fn upsert_app(&self, key: &str, app: Application) -> StoreResult<(Application, bool)> {
        let key = key.to_owned();
        self.catalog_write(move |c| catalog::upsert_app(c, &key, &app)).await
    }

    async fn delete_app(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.catalog_write(move |c| catalog::delete_app(c, &id)).await
    }

    async fn delete_app_messages(&self, app_id: &str, limit: usize) -> StoreResult<usize> {
        let app_id = app_id.to_owned();
        self.writer.run(move |c| messages::delete_of_app(c, &app_id, limit)).await
    }

    async fn insert_event_type(&self, et: EventType) -> StoreResult<EventType> {
        self.writer.run(move |c| catalog::insert_event_type(c, &et).map(|()| et.clone())).await
    }

    async fn get_event_type(&self, name: &str) -> StoreResult<EventType> {
        let name = name.to_owned();
        self.readers.run(move |c| catalog::find_event_type(c, &name)).await
    }

    async fn list_event_types(
        &self,
        query: ListQuery,
        include_archived: bool,
    ) -> StoreResult<Page<EventType>> {
        self.readers.run(move |c| catalog::list_event_types(c, &query, include_archived)).await
    }

    async fn update_event_type(&self, et: EventType) -> StoreResult<EventType> {
        self.writer.run(move |c| catalog::update_event_type(c, &et).map(|()| et.clone())).await
    }

    async fn upsert_event_type(&self, et: EventType) -> StoreResult<(EventType, bool)> {
        self.writer.run(move |c| catalog::upsert_event_type(c, &et)).await
    }

    async fn expunge_event_type(&self, name: &str) -> StoreResult<()> {
        let name = name.to_owned();
        self.writer.run(move |c| catalog::expunge_event_type(c, &name)).await
    }

    async fn insert_endpoint(&self, ep: Endpoint) -> StoreResult<Endpoint> {
        let keys = self.keys.clone();
        self.catalog_write(move |c| endpoints::insert(c, &keys, &ep).map(|()| ep.clone())).await
    }

    async fn get_endpoint(&self, app_id: &str, id_or_uid: &str) -> StoreResult<Endpoint> {
        let (app_id, key) = (app_id.to_owned(), id_or_uid.to_owned());
        let keys = self.keys.clone();
        self.readers.run(move |c| endpoints::find(c, &keys, &app_id, &key)).await
    }

    async fn list_endpoints(&self, app_id: &str, query: ListQuery) -> StoreResult<Page<Endpoint>> {
        let app_id = app_id.to_owned();
        let keys = self.keys.clone();
        self.readers.run(move |c| endpoints::list(c, &keys, &app_id, &query)).await
    }

    async fn update_endpoint(&self, ep: Endpoint, read_at: i64) -> StoreResult<Endpoint> {
        let ep = after_read(ep, read_at);
        let keys = self.keys.clone();
        self.catalog_write(move |c| endpoints::update(c, &keys, &ep, read_at).map(|()| ep.clone()))
            .await
    }

    async fn delete_endpoint(&self, app_id: &str, id: &str) -> StoreResult<()> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.catalog_write(move |c| endpoints::delete(c, &app_id, &id)).await
    }

    async fn accept_message(&self, new: NewMessage) -> StoreResult<Accepted> {
        let (cache, keys) = (self.cache.clone(), self.keys.clone());
        self.writer.run(move |c| messages::accept(c, &cache, &keys, &new)).await
    }

    async fn get_message(&self, app_id: &str, id_or_event_id: &str) -> StoreResult<Message> {
        let (app_id, key) = (app_id.to_owned(), id_or_event_id.to_owned());
        self.readers.run(move |c| messages::find(c, &app_id, &key)).await
    }

    async fn list_messages(
        &self,
        app_id: &str,
        filter: MessageFilter,
        query: ListQuery,
    ) -> StoreResult<Page<Message>> {
        let app_id = app_id.to_owned();
        self.readers.run(move |c| messages::list(c, &app_id, &filter, &query)).await
    }

    async fn list_attempts_by_message(
        &self,
        msg_id: &str,
        query: ListQuery,
    ) -> StoreResult<Page<Attempt>> {
        let msg_id = msg_id.to_owned();
        self.readers.run(move |c| messages::attempts_where(c, "msg_id", &msg_id, &query)).await
    }

    async fn list_attempts_by_endpoint(
        &self,
        endpoint_id: &str,
        query: ListQuery,
    ) -> StoreResult<Page<Attempt>> {
        let ep = endpoint_id.to_owned();
        self.readers.run(move |c| messages::attempts_where(c, "endpoint_id", &ep, &query)).await
    }

    async fn list_deliveries_of_message(&self, msg_id: &str) -> StoreResult<Vec<DeliveryState>> {
        let msg_id = msg_id.to_owned();
        self.readers.run(move |c| messages::deliveries_of(c, &msg_id)).await
    }

    async fn resend(&self, msg_id: &str, endpoint_id: &str, now: i64) -> StoreResult<()> {
        let (msg_id, ep) = (msg_id.to_owned(), endpoint_id.to_owned());
        self.writer.run(move |c| messages::resend(c, &msg_id, &ep, now)).await
    }

    async fn replay_step(
        &self,
        app_id: &str,
        selection: &Selection,
        cursor: i64,
        limit: usize,
        now: i64,
    ) -> StoreResult<(usize, Option<i64>)> {
        let (app_id, selection) = (app_id.to_owned(), selection.clone());
        self.writer
            .run_relaxed(move |c| tasks::replay_step(c, &app_id, &selection, cursor, limit, now))
            .await
    }

    async fn count_replay(&self, app_id: &str, selection: &Selection) -> StoreResult<u64> {
        let (app_id, selection) = (app_id.to_owned(), selection.clone());
        self.readers.run(move |c| tasks::count_replay(c, &app_id, &selection)).await
    }

    async fn insert_task(&self, task: BackgroundTask) -> StoreResult<()> {
        self.writer.run(move |c| tasks::insert(c, &task)).await
    }

    async fn get_task(&self, id: &str) -> StoreResult<BackgroundTask> {
        let id = id.to_owned();
        self.readers.run(move |c| tasks::find(c, &id)).await
    }

    async fn list_tasks(
        &self,
        filter: TaskFilter,
        query: ListQuery,
    ) -> StoreResult<Page<BackgroundTask>> {
        self.readers.run(move |c| tasks::list(c, &filter, &query)).await
    }

    async fn claim_task(&self, now: i64, lease_until: i64) -> StoreResult<Option<BackgroundTask>> {
        self.writer.run_relaxed(move |c| tasks::claim(c, now, lease_until)).await
    }

    async fn save_task(&self, task: BackgroundTask) -> StoreResult<BackgroundTask> {
        self.writer.run_relaxed(move |c| tasks::save(c, &task)).await
    }

    async fn cancel_task(&self, id: &str, now: i64) -> StoreResult<BackgroundTask> {
        let id = id.to_owned();
        self.writer.run(move |c| tasks::cancel(c, &id, now)).await
    }

    async fn claim_due_deliveries(&self, claiming: Claiming) -> StoreResult<Vec<Claim>> {
        let keys = self.keys.clone();
        self.writer.run_relaxed(move |c| dispatch::claim(c, &keys, &claiming)).await
    }

    async fn record_outcomes(
        &self,
        outcomes: Arc<[Outcome]>,
        now: i64,
    ) -> StoreResult<Vec<String>> {
        let cache = self.cache.clone();
        self.writer
            .run_relaxed(move |c| {
                let disabled = dispatch::record(c, &outcomes, now)?;
                if !disabled.is_empty() {
                    cache.clear(); // a disabled endpoint leaves the copy
                }
                Ok(disabled)
            })
            .await
    }

    async fn next_due_at(&self, skip: Arc<[String]>) -> StoreResult<Option<i64>> {
        self.readers.run(move |c| dispatch::next_due_at(c, &skip)).await
    }

    async fn expire_leases(&self, now: i64) -> StoreResult<usize> {
        self.writer.run_relaxed(move |c| dispatch::expire_leases(c, now)).await
    }

    async fn purge_messages(&self, cutoff: i64, limit: usize) -> StoreResult<usize> {
        self.writer.run_relaxed(move |c| dispatch::purge_messages(c, cutoff, limit)).await
    }

    async fn backlog(&self, now: i64) -> StoreResult<Backlog> {
        self.readers.run(move |c| overview::backlog(c, now)).await
    }

    async fn check_writable(&self, now: i64) -> StoreResult<()> {
        self.writer.run(move |c| overview::heartbeat(c, now)).await
    }

    /// One process owns the file (its writer thread), so a node is always alone.
    async fn count_nodes(&self, _node_id: &str, _now: i64, _live_after: i64) -> StoreResult<usize> {
        Ok(1)
    }

    async fn overview(&self, since: i64) -> StoreResult<Overview> {
        self.readers.run(move |c| overview::overview(c, since)).await
    }

    async fn endpoint_stats(
        &self,
        endpoint_id: &str,
        since: i64,
        until: i64,
    ) -> StoreResult<EndpointStats> {
        let ep = endpoint_id.to_owned();
        self.readers.run(move |c| overview::endpoint_stats(c, &ep, since, until)).await
    }

    async fn list_unhealthy_endpoints(&self, limit: usize) -> StoreResult<Vec<Endpoint>> {
        let keys = self.keys.clone();
        self.readers.run(move |c| overview::unhealthy_endpoints(c, &keys, limit)).await
    }

    async fn reseal_secrets(&self) -> StoreResult<usize> {
        let keys = self.keys.clone();
        self.writer.run(move |c| endpoints::reseal_all(c, &keys)).await
    }

    async fn insert_session(&self, session: Session) -> StoreResult<()> {
        self.writer.run(move |c| sessions::insert(c, &session)).await
    }

    async fn get_session(&self, id: &str, now: i64) -> StoreResult<Session> {
        let id = id.to_owned();
        self.readers.run(move |c| sessions::find(c, &id, now)).await
    }

    async fn delete_session(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.writer.run(move |c| sessions::delete(c, &id)).await
    }

    async fn expire_app_sessions(&self, app_id: &str, at: i64) -> StoreResult<usize> {
        let app_id = app_id.to_owned();
        self.writer.run(move |c| sessions::expire_app(c, &app_id, at)).await
    }
}
