//! The scale-out backend: PostgreSQL shared by any number of identical hookd nodes.
//! Deliveries are claimed with `FOR UPDATE SKIP LOCKED` under leases; wake-ups cross nodes
//! with LISTEN/NOTIFY; idempotency and `eventId` uniqueness are held by constraints.

mod catalog;
mod dispatch;
mod endpoints;
mod group;
mod lanes;
mod listen;
mod messages;
mod overview;
mod rows;
mod schema;
mod sessions;
mod tasks;
mod util;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::Notify;
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;

use self::group::Group;
use self::listen::Listeners;
use self::util::internal;
use crate::model::delivery::{Claim, Outcome};
use crate::model::task::{BackgroundTask, Selection, TaskFilter};
use crate::model::{
    Application, Attempt, DeliveryState, Endpoint, EndpointStats, EventType, Message, Overview,
    Session,
};
use crate::security::sealing::Keyring;
use crate::store::catalog_cache::CatalogCache;
use crate::store::{
    Accepted, Backlog, Claiming, CommitObserver, ListQuery, MessageFilter, NewMessage, Page,
    PauseListener, Store, StoreResult, Unobserved, after_read,
};

const POOL_SIZE: usize = 16;

pub struct PgStore {
    pool: Pool,
    group: Group,
    /// The LISTEN connection's subscribers, this node's copy of the catalog among them.
    listeners: Arc<Listeners>,
    /// Open and seal endpoints' secrets and headers.
    keys: Arc<Keyring>,
    /// Ends the LISTEN connection when the store is dropped.
    stop: CancellationToken,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl PgStore {
    /// Connects, and brings the schema up to date (safe when several nodes start at once);
    /// `keys` seal and open endpoints' secrets (every node needs the same).
    pub async fn open(url: &str, keys: Arc<Keyring>) -> Result<Self, String> {
        Self::open_observed(url, keys, Arc::new(Unobserved)).await
    }

    /// Like [`PgStore::open`], telling `observer` of every group commit.
    pub async fn open_observed(
        url: &str,
        keys: Arc<Keyring>,
        observer: Arc<dyn CommitObserver>,
    ) -> Result<Self, String> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| format!("invalid database URL: {e}"))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager).max_size(POOL_SIZE).build().map_err(|e| e.to_string())?;
        let mut client =
            pool.get().await.map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
        schema::migrate(&mut client)
            .await
            .map_err(|e| format!("migrating the database failed: {e}"))?;
        let cache = Arc::new(CatalogCache::default());
        let listeners = Arc::new(Listeners { cache: cache.clone(), ..Listeners::default() });
        let stop = CancellationToken::new();
        tokio::spawn(listen::run(config, listeners.clone(), stop.clone()));
        let group = Group::start(pool.clone(), cache.clone(), keys.clone(), observer);
        Ok(Self { pool, group, listeners, keys, stop })
    }

    /// Whether this node uses its copy of the catalog (its LISTEN connection is up), so tests
    /// can wait until the copy is in play.
    pub fn caches_catalog(&self) -> bool {
        self.listeners.cache.is_live()
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(internal)
    }
}

/// Runs `$body` in a transaction on a pooled connection; `relaxed` commits without waiting
/// for the WAL flush (bookkeeping only). A failure (a `?` in `$body`) rolls back at once,
/// rather than when the connection next runs, so no lock outlives the call.
macro_rules! in_tx {
    ($self:ident, relaxed = $relaxed:expr, |$tx:ident| $body:expr) => {{
        let mut client = $self.client().await?;
        let $tx = client.transaction().await.map_err(internal)?;
        let result: StoreResult<_> = async {
            if $relaxed {
                dispatch::relax(&$tx).await?;
            }
            Ok($body)
        }
        .await;
        match result {
            Ok(value) => {
                $tx.commit().await.map_err(internal)?;
                Ok(value)
            }
            Err(e) => {
                let _ = $tx.rollback().await;
                Err(e)
            }
        }
    }};
}

/// A write to applications or endpoints, in one transaction with `NOTIFY hookd_catalog`, so
/// every other node clears its copy of the catalog exactly when the write commits. This
/// node's copy is cleared after the commit, so no read in between can refill it with the
/// rows as they were.
macro_rules! catalog_write {
    ($self:ident, |$tx:ident| $body:expr) => {{
        let result = in_tx!($self, relaxed = false, |$tx| {
            let value = $body;
            util::notify(&$tx, listen::CATALOG_CHANNEL).await?;
            value
        });
        $self.listeners.cache.clear();
        result
    }};
}

#[async_trait]
impl Store for PgStore {
    async fn insert_app(&self, app: Application) -> StoreResult<Application> {
        catalog_write!(self, |tx| catalog::insert_app(&tx, &app).await?).map(|()| app)
    }

    async fn get_app(&self, id_or_uid: &str) -> StoreResult<Application> {
        catalog::find_app(&self.client().await?, id_or_uid).await
    }

    async fn list_apps(&self, query: ListQuery) -> StoreResult<Page<Application>> {
        catalog::list_apps(&self.client().await?, &query).await
    }

    async fn search_apps(&self, text: &str, limit: usize) -> StoreResult<Vec<Application>> {
        catalog::search_apps(&self.client().await?, text, limit).await
    }

    async fn update_app(&self, app: Application) -> StoreResult<Application> {
        catalog_write!(self, |tx| catalog::update_app(&tx, &app).await?).map(|()| app)
    }

    async fn upsert_app(&self, key: &str, app: Application) -> StoreResult<(Application, bool)> {
        catalog_write!(self, |tx| catalog::upsert_app(&tx, key, &app).await?)
    }

    async fn delete_app(&self, id: &str) -> StoreResult<()> {
        catalog_write!(self, |tx| {
            dispatch::deletion_lock(&tx, true).await?;
            catalog::delete_app(&tx, id).await?
        })
    }

    async fn delete_app_messages(&self, app_id: &str, limit: usize) -> StoreResult<usize> {
        in_tx!(self, relaxed = false, |tx| {
            dispatch::deletion_lock(&tx, true).await?;
            messages::delete_of_app(&tx, app_id, limit).await?
        })
    }

    async fn insert_event_type(&self, et: EventType) -> StoreResult<EventType> {
        catalog::insert_event_type(&self.client().await?, &et).await.map(|()| et)
    }

    async fn get_event_type(&self, name: &str) -> StoreResult<EventType> {
        catalog::find_event_type(&self.client().await?, name).await
    }

    async fn list_event_types(
        &self,
        query: ListQuery,
        include_archived: bool,
    ) -> StoreResult<Page<EventType>> {
        catalog::list_event_types(&self.client().await?, &query, include_archived).await
    }

    async fn update_event_type(&self, et: EventType) -> StoreResult<EventType> {
        catalog::update_event_type(&self.client().await?, &et).await.map(|()| et)
    }

    async fn upsert_event_type(&self, et: EventType) -> StoreResult<(EventType, bool)> {
        catalog::upsert_event_type(&self.client().await?, &et).await
    }

    async fn expunge_event_type(&self, name: &str) -> StoreResult<()> {
        catalog::expunge_event_type(&self.client().await?, name).await
    }

    async fn insert_endpoint(&self, ep: Endpoint) -> StoreResult<Endpoint> {
        catalog_write!(self, |tx| endpoints::insert(&tx, &self.keys, &ep).await?).map(|()| ep)
    }

    async fn get_endpoint(&self, app_id: &str, id_or_uid: &str) -> StoreResult<Endpoint> {
        endpoints::find(&self.client().await?, &self.keys, app_id, id_or_uid).await
    }

    async fn list_endpoints(&self, app_id: &str, query: ListQuery) -> StoreResult<Page<Endpoint>> {
        endpoints::list(&self.client().await?, &self.keys, app_id, &query).await
    }

    async fn update_endpoint(&self, ep: Endpoint, read_at: i64) -> StoreResult<Endpoint> {
        let ep = after_read(ep, read_at);
        catalog_write!(self, |tx| endpoints::update(&tx, &self.keys, &ep, read_at).await?)
            .map(|()| ep)
    }

    async fn delete_endpoint(&self, app_id: &str, id: &str) -> StoreResult<()> {
        catalog_write!(self, |tx| {
            dispatch::deletion_lock(&tx, true).await?;
            endpoints::delete(&tx, app_id, id).await?
        })
    }

    async fn accept_message(&self, new: NewMessage) -> StoreResult<Accepted> {
        self.group.accept(&self.pool, new).await
    }

    async fn get_message(&self, app_id: &str, id_or_event_id: &str) -> StoreResult<Message> {
        messages::find(&self.client().await?, app_id, id_or_event_id).await
    }

    async fn list_messages(
        &self,
        app_id: &str,
        filter: MessageFilter,
        query: ListQuery,
    ) -> StoreResult<Page<Message>> {
        messages::list(&self.client().await?, app_id, &filter, &query).await
    }

    async fn list_attempts_by_message(
        &self,
        msg_id: &str,
        query: ListQuery,
    ) -> StoreResult<Page<Attempt>> {
        messages::attempts_where(&self.client().await?, "msg_id", msg_id, &query).await
    }

    async fn list_attempts_by_endpoint(
        &self,
        endpoint_id: &str,
        query: ListQuery,
    ) -> StoreResult<Page<Attempt>> {
        messages::attempts_where(&self.client().await?, "endpoint_id", endpoint_id, &query).await
    }

    async fn list_deliveries_of_message(&self, msg_id: &str) -> StoreResult<Vec<DeliveryState>> {
        messages::deliveries_of(&self.client().await?, msg_id).await
    }

    async fn resend(&self, msg_id: &str, endpoint_id: &str, now: i64) -> StoreResult<()> {
        in_tx!(self, relaxed = false, |tx| messages::resend(&tx, msg_id, endpoint_id, now).await?)
    }

    async fn replay_step(
        &self,
        app_id: &str,
        selection: &Selection,
        cursor: i64,
        limit: usize,
        now: i64,
    ) -> StoreResult<(usize, Option<i64>)> {
        in_tx!(self, relaxed = true, |tx| {
            tasks::replay_step(&tx, app_id, selection, cursor, limit, now).await?
        })
    }

    async fn count_replay(&self, app_id: &str, selection: &Selection) -> StoreResult<u64> {
        tasks::count_replay(&self.client().await?, app_id, selection).await
    }

    async fn insert_task(&self, task: BackgroundTask) -> StoreResult<()> {
        tasks::insert(&self.client().await?, &task).await
    }

    async fn get_task(&self, id: &str) -> StoreResult<BackgroundTask> {
        tasks::find(&self.client().await?, id).await
    }

    async fn list_tasks(
        &self,
        filter: TaskFilter,
        query: ListQuery,
    ) -> StoreResult<Page<BackgroundTask>> {
        tasks::list(&self.client().await?, &filter, &query).await
    }

    async fn claim_task(&self, now: i64, lease_until: i64) -> StoreResult<Option<BackgroundTask>> {
        in_tx!(self, relaxed = true, |tx| tasks::claim(&tx, now, lease_until).await?)
    }

    async fn save_task(&self, task: BackgroundTask) -> StoreResult<BackgroundTask> {
        in_tx!(self, relaxed = true, |tx| tasks::save(&tx, &task).await?)
    }

    async fn cancel_task(&self, id: &str, now: i64) -> StoreResult<BackgroundTask> {
        tasks::cancel(&self.client().await?, id, now).await
    }

    async fn claim_due_deliveries(&self, claiming: Claiming) -> StoreResult<Vec<Claim>> {
        in_tx!(self, relaxed = true, |tx| dispatch::claim(&tx, &self.keys, &claiming).await?)
    }

    async fn record_outcomes(
        &self,
        outcomes: Arc<[Outcome]>,
        now: i64,
    ) -> StoreResult<Vec<String>> {
        let disabled = in_tx!(self, relaxed = true, |tx| {
            let disabled = dispatch::record(&tx, &outcomes, now).await?;
            if !disabled.is_empty() {
                // A disabled endpoint leaves every node's copy.
                util::notify(&tx, listen::CATALOG_CHANNEL).await?;
            }
            disabled
        })?;
        if !disabled.is_empty() {
            self.listeners.cache.clear();
        }
        Ok(disabled)
    }

    async fn next_due_at(&self, skip: Arc<[String]>) -> StoreResult<Option<i64>> {
        dispatch::next_due_at(&self.client().await?, &skip).await
    }

    async fn expire_leases(&self, now: i64) -> StoreResult<usize> {
        in_tx!(self, relaxed = true, |tx| dispatch::expire_leases(&tx, now).await?)
    }

    async fn purge_messages(&self, cutoff: i64, limit: usize) -> StoreResult<usize> {
        in_tx!(self, relaxed = true, |tx| dispatch::purge_messages(&tx, cutoff, limit as i64)
            .await?)
    }

    async fn backlog(&self, now: i64) -> StoreResult<Backlog> {
        overview::backlog(&self.client().await?, now).await
    }

    async fn check_writable(&self, now: i64) -> StoreResult<()> {
        overview::heartbeat(&self.client().await?, now).await
    }

    async fn count_nodes(&self, node_id: &str, now: i64, live_after: i64) -> StoreResult<usize> {
        in_tx!(self, relaxed = true, |tx| overview::count_nodes(&tx, node_id, now, live_after)
            .await?)
    }

    async fn overview(&self, since: i64) -> StoreResult<Overview> {
        overview::overview(&self.client().await?, since).await
    }

    async fn endpoint_stats(
        &self,
        endpoint_id: &str,
        since: i64,
        until: i64,
    ) -> StoreResult<EndpointStats> {
        overview::endpoint_stats(&self.client().await?, endpoint_id, since, until).await
    }

    async fn list_unhealthy_endpoints(&self, limit: usize) -> StoreResult<Vec<Endpoint>> {
        overview::unhealthy_endpoints(&self.client().await?, &self.keys, limit).await
    }

    async fn reseal_secrets(&self) -> StoreResult<usize> {
        endpoints::reseal_all(&self.client().await?, &self.keys).await
    }

    async fn insert_session(&self, session: Session) -> StoreResult<()> {
        sessions::insert(&self.client().await?, &session).await
    }

    async fn get_session(&self, id: &str, now: i64) -> StoreResult<Session> {
        sessions::find(&self.client().await?, id, now).await
    }

    async fn delete_session(&self, id: &str) -> StoreResult<()> {
        sessions::delete(&self.client().await?, id).await
    }

    async fn expire_app_sessions(&self, app_id: &str, at: i64) -> StoreResult<usize> {
        sessions::expire_app(&self.client().await?, app_id, at).await
    }

    fn watch_for_work(&self, wake: Arc<Notify>) {
        *self.listeners.work.lock().unwrap_or_else(|p| p.into_inner()) = Some(wake);
    }

    fn share_pause(&self, endpoint_id: &str, pause: Duration) {
        listen::share_pause(self.pool.clone(), endpoint_id, pause);
    }

    fn watch_for_pauses(&self, pause: PauseListener) {
        *self.listeners.pauses.lock().unwrap_or_else(|p| p.into_inner()) = Some(pause);
    }
}
