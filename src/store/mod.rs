//! The storage seam: one [`Store`] trait, one backend per database. All SQL lives below this
//! folder. The backend is chosen once, from the database URL, by [`open`].

pub mod columns;
pub mod page;
pub mod postgres;
pub mod sqlite;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

pub use page::{Cursor, ListQuery, Order, Page, PagePlan};

use crate::model::{
    Application, Attempt, DeliveryState, Endpoint, EndpointStats, EventType, Message, Overview,
    Session,
};

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
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound(what) => write!(f, "{what} not found"),
            Self::Conflict(d) | Self::Internal(d) => f.write_str(d),
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
    /// Deliver to this (enabled) endpoint only, whatever its filters: an example send.
    pub only_endpoint: Option<String>,
}

/// The text of the conflict an outdated endpoint update meets.
pub const ENDPOINT_CHANGED: &str = "the endpoint was changed meanwhile; read it again and retry";

/// The fan-out rule over an application's enabled endpoints: those subscribed to the
/// message, or just the one named in `only_endpoint`.
pub fn select_targets(
    enabled: Vec<Endpoint>,
    msg: &Message,
    only_endpoint: Option<&str>,
) -> Vec<Endpoint> {
    enabled
        .into_iter()
        .filter(|ep| match only_endpoint {
            Some(only) => ep.id == only,
            None => ep.subscribes_to(&msg.event_type, msg.channels.as_deref()),
        })
        .collect()
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
}

/// The answer for a stored message whose deliveries are `targets` (delivery id, endpoint):
/// leased to the caller as claims when `lease` is set.
pub fn created(message: Message, targets: Vec<(i64, Endpoint)>, lease: Option<i64>) -> Accepted {
    let deliveries = targets.len();
    let leased = match lease {
        Some(lease) => {
            let shared = Arc::new(message.clone());
            let claim = |(delivery_id, endpoint)| Claim {
                delivery_id,
                lease,
                attempts: 0,
                manual: false,
                message: shared.clone(),
                endpoint: Arc::new(endpoint),
            };
            targets.into_iter().map(claim).collect()
        }
        None => Vec::new(),
    };
    Accepted::Created { message, deliveries, leased }
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

/// A delivery leased to one dispatcher until `lease`; `lease` also identifies the claim, so a
/// late answer to an expired claim cannot overwrite the work of the claim that followed it.
#[derive(Debug, Clone)]
pub struct Claim {
    pub delivery_id: i64,
    pub lease: i64,
    /// Attempts made before this one.
    pub attempts: i64,
    /// A resend asked for by a user: one attempt, logged as manual.
    pub manual: bool,
    pub message: Arc<Message>,
    pub endpoint: Arc<Endpoint>,
}

/// What happens to a delivery after an attempt (or without one).
#[derive(Debug, Clone, PartialEq)]
pub enum NextStep {
    Succeeded,
    RetryAt(i64),
    Failed,
    /// Give the lease back unattempted (shutdown, endpoint busy): due again at this time.
    Release(i64),
}

/// How an attempt bears on its endpoint's health.
#[derive(Debug, Clone, PartialEq)]
pub enum EndpointEffect {
    None,
    /// A success: the endpoint is healthy again.
    Healthy,
    /// A failure at `now`: disable the endpoint if it has failed since `disable_before` or earlier.
    Failing {
        now: i64,
        disable_before: i64,
    },
    /// The receiver asked to stop (410 Gone).
    Disable,
}

/// The result of one claim, to be recorded.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub delivery_id: i64,
    pub lease: i64,
    pub endpoint_id: String,
    pub attempt: Option<Attempt>,
    pub next: NextStep,
    pub effect: EndpointEffect,
}

/// One effect per run of equal effects on an endpoint: a batch of a thousand successes to one
/// endpoint is one update, not a thousand. A run of failures keeps its first time (when the
/// failing began) and its last deadline.
pub fn collapse_effects(outcomes: &[Outcome]) -> Vec<(&str, EndpointEffect)> {
    let mut runs: Vec<(&str, EndpointEffect)> = Vec::new();
    for o in outcomes.iter().filter(|o| o.effect != EndpointEffect::None) {
        let last = runs.iter_mut().rev().find(|(id, _)| *id == o.endpoint_id);
        match (last, &o.effect) {
            (
                Some((_, EndpointEffect::Failing { disable_before, .. })),
                EndpointEffect::Failing { disable_before: later, .. },
            ) => {
                *disable_before = (*disable_before).max(*later);
            }
            (Some((_, previous)), effect) if previous == effect => {}
            _ => runs.push((&o.endpoint_id, o.effect.clone())),
        }
    }
    // One order for every node (a stable sort keeps each endpoint's own sequence), so two
    // nodes updating the same endpoints cannot lock them in opposite orders and deadlock.
    runs.sort_by(|a, b| a.0.cmp(b.0));
    runs
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
    /// Deletes the application with its endpoints, messages, deliveries and attempts.
    async fn delete_app(&self, id: &str) -> StoreResult<()>;

    async fn insert_event_type(&self, event_type: EventType) -> StoreResult<EventType>;
    async fn get_event_type(&self, name: &str) -> StoreResult<EventType>;
    async fn list_event_types(
        &self,
        query: ListQuery,
        include_archived: bool,
    ) -> StoreResult<Page<EventType>>;
    async fn update_event_type(&self, event_type: EventType) -> StoreResult<EventType>;
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
    /// Queues again the endpoint's failed deliveries last touched at or after `since`.
    async fn recover_failed(&self, endpoint_id: &str, since: i64, now: i64) -> StoreResult<usize>;

    /// Leases up to `limit` deliveries due at `now` until `lease`, oldest first.
    async fn claim_due_deliveries(
        &self,
        now: i64,
        limit: usize,
        lease: i64,
    ) -> StoreResult<Vec<Claim>>;
    /// Records attempts and moves deliveries on; returns the ids of endpoints it disabled.
    /// Shared, so a caller can record the same batch again after a failure without a copy.
    async fn record_outcomes(&self, outcomes: Arc<[Outcome]>) -> StoreResult<Vec<String>>;
    /// When the next pending delivery is due, if any is.
    async fn next_due_at(&self) -> StoreResult<Option<i64>>;
    /// Returns expired leases (a dead dispatcher's claims) to pending; returns how many.
    async fn expire_leases(&self, now: i64) -> StoreResult<usize>;

    /// Deletes up to `limit` messages created before `cutoff` none of whose deliveries is
    /// pending or leased, with their deliveries and attempts; returns how many.
    async fn purge_messages(&self, cutoff: i64, limit: usize) -> StoreResult<usize>;

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
}

/// Opens the store named by `database_url`, or the embedded SQLite file in `data_dir`.
pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Arc<dyn Store>, String> {
    match database_url {
        None => {
            let store = sqlite::SqliteStore::open(&data_dir.join("hookd.db"))?;
            Ok(Arc::new(store))
        }
        Some(url) => match url.split_once("://") {
            Some(("sqlite", path)) => Ok(Arc::new(sqlite::SqliteStore::open(Path::new(path))?)),
            Some(("postgres" | "postgresql", _)) => {
                Ok(Arc::new(postgres::PgStore::open(url).await?))
            }
            _ => Err(format!(
                "unsupported database URL {url:?}: expected postgres://… or sqlite://PATH"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(endpoint: &str, effect: EndpointEffect) -> Outcome {
        Outcome {
            delivery_id: 1,
            lease: 1,
            endpoint_id: endpoint.into(),
            attempt: None,
            next: NextStep::Failed,
            effect,
        }
    }

    #[test]
    fn effects_collapse_per_run() {
        let failing = |now, disable_before| EndpointEffect::Failing { now, disable_before };
        let outcomes = vec![
            outcome("a", EndpointEffect::Healthy),
            outcome("a", EndpointEffect::Healthy),
            outcome("b", failing(10, 1)),
            outcome("b", failing(20, 5)),
            outcome("a", EndpointEffect::None),
            outcome("a", failing(30, 7)),
        ];
        let runs = collapse_effects(&outcomes);
        assert_eq!(
            runs,
            vec![("a", EndpointEffect::Healthy), ("a", failing(30, 7)), ("b", failing(10, 5))],
            "runs in endpoint order, each endpoint's own order kept"
        );
    }
}
