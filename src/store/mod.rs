//! The storage seam: one [`Store`] trait, one backend per database. All SQL lives below this
//! folder. The backend is chosen once, from the database URL, by [`open`].

pub(crate) mod catalog_cache;
pub mod page;
pub mod postgres;
pub mod rows;
pub mod sqlite;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

pub use page::{Cursor, ListQuery, Order, Page, PagePlan};

use crate::model::delivery::{Claim, Outcome, distinct_lanes};
use crate::model::task::{BackgroundTask, Selection, TaskFilter};
use crate::model::{
    Application, Attempt, DeliveryState, Endpoint, EndpointStats, EventType, Message, Overview,
    Session,
};
use crate::security::sealing::Keyring;

/// What can go wrong in the store, in terms the API can map to a status.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreError {
    /// The named kind of thing does not exist.
    NotFound(&'static str),
    /// A unique field is taken; the text says which.
    Conflict(String),
    /// This application already accepted a message with this `eventId`.
    DuplicateEventId(String),
    /// The database failed; the text is for the log, not the client.
    Internal(String),
    /// The database cannot take writes for now (its disk is full): nothing was stored, and
    /// the same request may succeed later.
    Unavailable(String),
}

/// SQLite's words for `SQLITE_FULL`, which every layer above passes on as text.
const DISK_FULL: &str = "database or disk is full";

impl StoreError {
    /// An internal failure whose cause is a full disk becomes [`StoreError::Unavailable`].
    pub fn or_unavailable(self) -> Self {
        match self {
            Self::Internal(why) if why.contains(DISK_FULL) || why.contains("No space left") => {
                Self::Unavailable(format!("the disk is full, nothing was stored: {why}"))
            }
            other => other,
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound(what) => write!(f, "{what} not found"),
            Self::Conflict(d) | Self::Internal(d) | Self::Unavailable(d) => f.write_str(d),
            Self::DuplicateEventId(id) => write!(f, "duplicate eventId {id}"),
        }
    }
}

impl std::error::Error for StoreError {}

pub type StoreResult<T> = Result<T, StoreError>;

/// Narrows a message list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageFilter {
    pub event_types: Vec<String>,
    pub channel: Option<String>,
    /// Only messages created strictly before this time (ms).
    pub before: Option<i64>,
    /// Only messages created strictly after this time (ms).
    pub after: Option<i64>,
}

/// A message to accept, with what makes its acceptance idempotent.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Its `app_id` may be the application's id or uid: the store resolves it in the same
    /// transaction (one round trip per message, and no race with a deleted application).
    pub message: Message,
    /// The `Idempotency-Key` header, scoped to the application.
    pub idempotency_key: Option<String>,
    /// When the deliveries become due; `None` is at once.
    pub deliver_at: Option<i64>,
    /// Lease the new deliveries until then to the caller, who sends them at once (the hot
    /// path: no claim round trip). `None`, or a `deliver_at` in the future: left pending.
    pub lease: Option<i64>,
    /// Endpoints whose deliveries stay pending even with a lease: the caller holds as many
    /// of theirs as it takes, and claims the rest when it has room (fair sharing).
    pub busy: Arc<[String]>,
    /// Deliver to this (enabled) endpoint only, whatever its filters: an example send.
    pub only_endpoint: Option<String>,
}

/// What a dispatcher asks for when it claims: deliveries due at `now`, leased until `lease`.
#[derive(Debug, Clone)]
pub struct Claiming {
    pub now: i64,
    pub lease: i64,
    /// The oldest due deliveries looked at; the claim takes at most this many.
    pub limit: usize,
    /// Of those, at most this many per endpoint, so one endpoint's backlog does not fill a
    /// claim (the rest wait in the store, not in memory, until the endpoint has room).
    pub per_endpoint: usize,
    /// Endpoints passed over: the caller holds as many of theirs as it takes.
    pub skip: Arc<[String]>,
}

impl Claiming {
    /// Up to `limit` deliveries, whatever their endpoint.
    pub fn new(now: i64, limit: usize, lease: i64) -> Self {
        Self { now, lease, limit, per_endpoint: limit, skip: Arc::from([]) }
    }
}

/// The text of the conflict an outdated endpoint update meets.
pub const ENDPOINT_CHANGED: &str = "the endpoint was changed meanwhile; read it again and retry";
pub const APP_UID_TAKEN: &str = "an application with this uid already exists";
pub const EVENT_TYPE_TAKEN: &str = "an event type with this name already exists";
pub const ENDPOINT_UID_TAKEN: &str = "an endpoint with this uid already exists in this application";

/// An endpoint about to replace the version read at `read_at`: its `updated_at` moves past
/// `read_at`, so the write is seen as a change even within the same millisecond, and a
/// second stale write with the same `read_at` conflicts.
pub fn after_read(mut endpoint: Endpoint, read_at: i64) -> Endpoint {
    endpoint.updated_at = endpoint.updated_at.max(read_at + 1);
    endpoint
}

impl NewMessage {
    /// When the deliveries become due: `deliver_at`, but never before the message.
    pub fn due(&self) -> i64 {
        self.deliver_at.unwrap_or(self.message.created_at).max(self.message.created_at)
    }

    /// The lease the new deliveries take, if any: none for deliveries due later.
    pub fn lease_now(&self) -> Option<i64> {
        self.lease.filter(|_| self.due() <= self.message.created_at)
    }

    /// The lease a new delivery to `endpoint_id` takes, if any.
    pub fn lease_for(&self, endpoint_id: &str) -> Option<i64> {
        self.lease_now().filter(|_| !self.busy.iter().any(|b| b == endpoint_id))
    }

    /// Whether any of these endpoints' new deliveries is left pending (so a dispatcher
    /// should be told).
    pub fn leaves_pending<'a>(&self, mut endpoint_ids: impl Iterator<Item = &'a str>) -> bool {
        endpoint_ids.any(|id| self.lease_for(id).is_none())
    }
}

/// A delivery fan-out inserted, and the lease it took: none when it was left pending (due
/// later, its endpoint busy, or waiting in its ordering lane).
#[derive(Debug, Clone)]
pub struct Inserted {
    pub delivery_id: i64,
    pub endpoint: Arc<Endpoint>,
    pub lease: Option<i64>,
}

/// The endpoints' ids, for a lookup by many.
pub fn ids_of(endpoints: &[Arc<Endpoint>]) -> Vec<&str> {
    endpoints.iter().map(|ep| ep.id.as_str()).collect()
}

/// The answer for a stored message with these deliveries: those leased go to the caller as
/// claims.
pub fn created(message: Message, deliveries: Vec<Inserted>) -> Accepted {
    let count = deliveries.len();
    let shared = Arc::new(message.clone());
    let claim = |d: Inserted| {
        Some(Claim {
            delivery_id: d.delivery_id,
            lease: d.lease?,
            attempts: 0,
            manual: false,
            message: shared.clone(),
            endpoint: d.endpoint,
        })
    };
    let leased = deliveries.into_iter().filter_map(claim).collect();
    Accepted::Created { message, deliveries: count, leased }
}

/// A delivery a replay queued again, with its lane (endpoint, ordering key) if it has one.
pub struct Queued {
    pub id: i64,
    pub lane: Option<(String, String)>,
}

impl Queued {
    /// The lanes these deliveries joined.
    pub fn lanes(queued: &[Queued]) -> Vec<(&str, &str)> {
        distinct_lanes(queued.iter().filter_map(|q| q.lane.as_ref()).map(|(e, k)| (&**e, &**k)))
    }
}

/// Pending deliveries, by whether their time has come. Leased ones (being sent) are neither.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    pub due: u64,
    pub scheduled: u64,
}

/// Takes a pause another node shared: the endpoint's id, and how long from now.
pub type PauseListener = Arc<dyn Fn(&str, std::time::Duration) + Send + Sync>;

/// Told of every group commit: how long it took and how many jobs it carried (the metrics).
pub trait CommitObserver: Send + Sync {
    fn committed(&self, took: std::time::Duration, jobs: usize);
}

/// For a store opened without an observer (tests, tools).
pub struct Unobserved;

impl CommitObserver for Unobserved {
    fn committed(&self, _took: std::time::Duration, _jobs: usize) {}
}

/// What accepting a message did.
#[derive(Debug, Clone)]
pub enum Accepted {
    /// Stored now, with one delivery per subscribed endpoint; `leased` holds them when they
    /// were leased to the caller.
    Created { message: Message, deliveries: usize, leased: Vec<Claim> },
    /// The idempotency key was seen before: this is the message it created.
    Replayed(Message),
}

/// The domain's view of durable state. Every method is one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn insert_app(&self, app: Application) -> StoreResult<Application>;
    /// Finds an application by id or by uid.
    async fn get_app(&self, id_or_uid: &str) -> StoreResult<Application>;
    async fn list_apps(&self, query: ListQuery) -> StoreResult<Page<Application>>;
    /// Up to `limit` applications whose name or uid contains `text` (any case), by name.
    async fn search_apps(&self, text: &str, limit: usize) -> StoreResult<Vec<Application>>;
    async fn update_app(&self, app: Application) -> StoreResult<Application>;
    /// Replaces the application found by `key` (its id or uid) with `app`'s fields, keeping
    /// its id and creation time, or inserts `app` if there is none; true if it inserted.
    /// Atomic, so two concurrent first writes of one uid both succeed (the second replaces).
    async fn upsert_app(&self, key: &str, app: Application) -> StoreResult<(Application, bool)>;
    /// Deletes the application with its endpoints, messages, deliveries and attempts.
    async fn delete_app(&self, id: &str) -> StoreResult<()>;
    /// Deletes up to `limit` of the application's messages, with their deliveries and
    /// attempts; answers how many. Deleting an application calls this until it answers 0,
    /// so no one transaction holds up every other write for long.
    async fn delete_app_messages(&self, app_id: &str, limit: usize) -> StoreResult<usize>;

    async fn insert_event_type(&self, event_type: EventType) -> StoreResult<EventType>;
    async fn get_event_type(&self, name: &str) -> StoreResult<EventType>;
    async fn list_event_types(
        &self,
        query: ListQuery,
        include_archived: bool,
    ) -> StoreResult<Page<EventType>>;
    async fn update_event_type(&self, event_type: EventType) -> StoreResult<EventType>;
    /// Replaces the event type of this name, keeping its creation time, or inserts it; true
    /// if it inserted. Atomic, as [`Store::upsert_app`] is.
    async fn upsert_event_type(&self, event_type: EventType) -> StoreResult<(EventType, bool)>;
    async fn expunge_event_type(&self, name: &str) -> StoreResult<()>;

    async fn insert_endpoint(&self, endpoint: Endpoint) -> StoreResult<Endpoint>;
    /// Finds an endpoint of this application by id or by uid.
    async fn get_endpoint(&self, app_id: &str, id_or_uid: &str) -> StoreResult<Endpoint>;
    async fn list_endpoints(&self, app_id: &str, query: ListQuery) -> StoreResult<Page<Endpoint>>;
    /// Writes the endpoint if it is still as it was read (`read_at` is the `updated_at` it
    /// had then); otherwise `Conflict`, so a stale edit cannot undo a concurrent one (say,
    /// the dispatcher disabling the endpoint).
    async fn update_endpoint(&self, endpoint: Endpoint, read_at: i64) -> StoreResult<Endpoint>;
    async fn delete_endpoint(&self, app_id: &str, id: &str) -> StoreResult<()>;

    /// Stores the message and one pending delivery per subscribed endpoint, in one commit;
    /// or, for a known idempotency key, returns the message that key created.
    async fn accept_message(&self, new: NewMessage) -> StoreResult<Accepted>;
    async fn get_message(&self, app_id: &str, id_or_event_id: &str) -> StoreResult<Message>;
    async fn list_messages(
        &self,
        app_id: &str,
        filter: MessageFilter,
        query: ListQuery,
    ) -> StoreResult<Page<Message>>;

    async fn list_attempts_by_message(
        &self,
        msg_id: &str,
        query: ListQuery,
    ) -> StoreResult<Page<Attempt>>;
    async fn list_attempts_by_endpoint(
        &self,
        endpoint_id: &str,
        query: ListQuery,
    ) -> StoreResult<Page<Attempt>>;
    /// The message's delivery state towards each endpoint it was sent to.
    async fn list_deliveries_of_message(&self, msg_id: &str) -> StoreResult<Vec<DeliveryState>>;
    /// Queues the message for this endpoint again, now, as a manual attempt.
    async fn resend(&self, msg_id: &str, endpoint_id: &str, now: i64) -> StoreResult<()>;
    /// Queues again up to `limit` of the deliveries `selection` picks in the application, after
    /// `cursor` in the store's order of deliveries; answers how many, and the key of the last
    /// (where the next step starts; `None` when none was left).
    async fn replay_step(
        &self,
        app_id: &str,
        selection: &Selection,
        cursor: i64,
        limit: usize,
        now: i64,
    ) -> StoreResult<(usize, Option<i64>)>;
    /// How many deliveries replaying `selection` would queue, now.
    async fn count_replay(&self, app_id: &str, selection: &Selection) -> StoreResult<u64>;

    // Background tasks (see `model::task`).
    async fn insert_task(&self, task: BackgroundTask) -> StoreResult<()>;
    async fn get_task(&self, id: &str) -> StoreResult<BackgroundTask>;
    async fn list_tasks(
        &self,
        filter: TaskFilter,
        query: ListQuery,
    ) -> StoreResult<Page<BackgroundTask>>;
    /// Takes one running task that no node holds (never taken, or its lease is past), holding
    /// it until `lease_until`.
    async fn claim_task(&self, now: i64, lease_until: i64) -> StoreResult<Option<BackgroundTask>>;
    /// Writes a task's status, progress and lease; answers it as stored, so the runner sees a
    /// cancellation another request asked for.
    async fn save_task(&self, task: BackgroundTask) -> StoreResult<BackgroundTask>;
    /// Asks a running task to stop (a finished one is left as it is); answers it.
    async fn cancel_task(&self, id: &str, now: i64) -> StoreResult<BackgroundTask>;

    /// Leases due deliveries, oldest first, within `claiming`'s limits.
    async fn claim_due_deliveries(&self, claiming: Claiming) -> StoreResult<Vec<Claim>>;
    /// Records attempts and moves deliveries on at `now`; returns the ids of endpoints it
    /// disabled. Shared, so a caller can record the same batch again after a failure
    /// without a copy.
    async fn record_outcomes(&self, outcomes: Arc<[Outcome]>, now: i64)
    -> StoreResult<Vec<String>>;
    /// When the next pending delivery is due, if any is, leaving out the endpoints in `skip`.
    async fn next_due_at(&self, skip: Arc<[String]>) -> StoreResult<Option<i64>>;
    /// Returns expired leases (a dead dispatcher's claims) to pending; returns how many.
    async fn expire_leases(&self, now: i64) -> StoreResult<usize>;

    /// Deletes up to `limit` messages created before `cutoff` none of whose deliveries is
    /// pending or leased, with their deliveries and attempts; returns how many.
    async fn purge_messages(&self, cutoff: i64, limit: usize) -> StoreResult<usize>;

    /// Pending deliveries due now and due later (the metrics' backlog gauges).
    async fn backlog(&self, now: i64) -> StoreResult<Backlog>;
    /// Commits a small durable write, so the health check can say whether the store takes
    /// writes (a full or read-only disk, a database that is down).
    async fn check_writable(&self, now: i64) -> StoreResult<()>;

    /// Says node `node_id` is alive at `now` and answers how many nodes (itself included)
    /// were seen since `live_after`: each endpoint's window and rate are shared among them.
    async fn count_nodes(&self, node_id: &str, now: i64, live_after: i64) -> StoreResult<usize>;

    /// The dashboard's figures: messages accepted and deliveries finished since `since`
    /// (ms), deliveries pending now.
    async fn overview(&self, since: i64) -> StoreResult<Overview>;
    /// The endpoint's attempts per hour from `since` until `until` (ms), and its deliveries
    /// waiting or being sent now.
    async fn endpoint_stats(
        &self,
        endpoint_id: &str,
        since: i64,
        until: i64,
    ) -> StoreResult<EndpointStats>;
    /// Up to `limit` endpoints of any application that are failing or disabled, those
    /// failing longest first.
    async fn list_unhealthy_endpoints(&self, limit: usize) -> StoreResult<Vec<Endpoint>>;

    /// Seals again, with the current key, every endpoint secret and header value sealed with
    /// an older key (or stored before sealing existed); returns how many endpoints changed.
    /// Fails, naming the key, when a value is sealed with a key this node does not hold.
    async fn reseal_secrets(&self) -> StoreResult<usize>;

    /// Stores a new session (and forgets the ones that have expired).
    async fn insert_session(&self, session: Session) -> StoreResult<()>;
    /// The session with this id, unless it has expired at `now`.
    async fn get_session(&self, id: &str, now: i64) -> StoreResult<Session>;
    async fn delete_session(&self, id: &str) -> StoreResult<()>;
    /// Makes every session and portal token of the application expire by `at`; returns how
    /// many were cut short.
    async fn expire_app_sessions(&self, app_id: &str, at: i64) -> StoreResult<usize>;

    /// Wakes `wake` when another node makes deliveries due. A single-process backend has no
    /// other nodes, so by default this does nothing.
    fn watch_for_work(&self, _wake: Arc<tokio::sync::Notify>) {}

    /// Tells the other nodes that this endpoint asked for a pause (a `Retry-After`, or an
    /// overload), so that they stop sending to it too; on a best-effort basis, at once.
    fn share_pause(&self, _endpoint_id: &str, _pause: std::time::Duration) {}

    /// Calls `pause` with each pause another node shares.
    fn watch_for_pauses(&self, _pause: PauseListener) {}
}

/// Opens the store named by `database_url`, or the embedded SQLite file in `data_dir`.
pub async fn open(
    database_url: Option<&str>,
    data_dir: &Path,
    keys: Arc<Keyring>,
    observer: Arc<dyn CommitObserver>,
) -> Result<Arc<dyn Store>, String> {
    match database_url {
        None => {
            let path = data_dir.join("hookd.db");
            Ok(Arc::new(sqlite::SqliteStore::open_observed(&path, keys, observer)?))
        }
        Some(url) => match url.split_once("://") {
            Some(("sqlite", path)) => {
                Ok(Arc::new(sqlite::SqliteStore::open_observed(Path::new(path), keys, observer)?))
            }
            Some(("postgres" | "postgresql", _)) => {
                Ok(Arc::new(postgres::PgStore::open_observed(url, keys, observer).await?))
            }
            _ => Err(format!(
                "unsupported database URL {url:?}: expected postgres://… or sqlite://PATH"
            )),
        },
    }
}
