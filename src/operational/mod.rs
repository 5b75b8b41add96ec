//! Operational webhooks: hookd tells the operator's own endpoints when an endpoint is created,
//! changed, disabled or enabled, and when a delivery starts failing, recovers or gives up,
//! in Svix's payload shapes.
//!
//! They are ordinary messages of one reserved application ([`APP_ID`]), as in Svix's own
//! server: its endpoints are the operational endpoints (managed at
//! `/api/v1/operational-webhook/endpoint`, which `api/` maps onto this application's endpoint
//! routes), so they are stored, signed, retried, logged and guarded against SSRF exactly like
//! every other delivery. The application is hidden from lists and from the application
//! routes. Events about its own endpoints and deliveries are dropped, so an operational
//! endpoint that fails cannot cause more operational events (no loops).
//!
//! Parts of hookd report [`OpEvent`]s through [`Events`], a channel, right after their change
//! is committed; one task turns each into a message. An event still in the channel when the
//! process dies is lost: operational webhooks are at most once across a crash, while the
//! deliveries they describe are at least once.

mod payload;

use std::sync::Arc;

use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::ingest::{Ingest, MessageIn};
use crate::model::Application;
use crate::store::{Cursor, ListQuery, Store, StoreError};

/// The reserved application's id: the lowest possible id, never generated for another.
pub const APP_ID: &str = crate::model::ids::RESERVED_APP;

/// A delivery's failed attempts before `message.attempt.failing` is sent (as in Svix), or
/// fewer when the retry schedule has fewer attempts.
pub const FAILING_AFTER: i64 = 4;

/// Something operators may want to hear about; ids are the store's.
#[derive(Debug, Clone)]
pub enum OpEvent {
    EndpointCreated {
        app_id: String,
        endpoint_id: String,
        endpoint_uid: Option<String>,
    },
    EndpointUpdated {
        app_id: String,
        endpoint_id: String,
        endpoint_uid: Option<String>,
    },
    EndpointDeleted {
        app_id: String,
        endpoint_id: String,
        endpoint_uid: Option<String>,
    },
    EndpointEnabled {
        app_id: String,
        endpoint_id: String,
        endpoint_uid: Option<String>,
    },
    /// `manual`: a user disabled it; otherwise hookd did (`gone`: it answered 410).
    EndpointDisabled {
        app_id: String,
        endpoint_id: String,
        manual: bool,
        gone: bool,
    },
    Attempt {
        kind: AttemptEvent,
        app_id: String,
        attempt: LastAttempt,
    },
}

/// What happened to a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEvent {
    /// It failed its first [`FAILING_AFTER`] attempts.
    Failing,
    /// Its last retry failed.
    Exhausted,
    /// It succeeded after `failing` was sent.
    Recovered,
}

/// The attempt an attempt event is about.
#[derive(Debug, Clone)]
pub struct LastAttempt {
    pub id: String,
    pub msg_id: String,
    pub msg_event_id: Option<String>,
    pub endpoint_id: String,
    pub status_code: i32,
    pub at: i64,
    pub manual: bool,
}

/// Where the parts of hookd report events. Cheap to clone; reporting never waits.
#[derive(Clone, Default)]
pub struct Events {
    tx: Option<mpsc::UnboundedSender<OpEvent>>,
}

impl Events {
    /// A sender and the receiving end that [`run`] consumes.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<OpEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx: Some(tx) }, rx)
    }

    /// Events that go nowhere (tools and tests that build parts without a server).
    pub fn none() -> Self {
        Self::default()
    }

    pub fn report(&self, event: OpEvent) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(event);
        }
    }
}

/// Creates the reserved application unless it exists (safe when several nodes start at once).
pub async fn ensure_app(store: &dyn Store) -> Result<(), String> {
    if store.get_app(APP_ID).await.is_ok() {
        return Ok(());
    }
    let mut app = crate::manage::applications::blank();
    app.id = APP_ID.to_owned();
    app.name = "hookd operational webhooks".to_owned();
    match store.insert_app(app).await {
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(format!("cannot create the operational webhooks' application: {e}")),
    }
}

/// Turns events into messages of the reserved application until every [`Events`] is gone.
pub async fn run(
    store: Arc<dyn Store>,
    ingest: Arc<Ingest>,
    mut events: mpsc::UnboundedReceiver<OpEvent>,
) {
    while let Some(event) = events.recv().await {
        if let Err(e) = send(store.as_ref(), &ingest, event).await {
            tracing::warn!(error = %e, "an operational webhook was not sent");
        }
    }
}

/// Whether any operational endpoint is enabled: without one, an event would be a message
/// with no delivery, stored for nothing.
async fn listened_to(store: &dyn Store) -> bool {
    let query = ListQuery { limit: 250, cursor: Cursor::Start };
    let page = store.list_endpoints(APP_ID, query).await;
    page.is_ok_and(|page| page.items.iter().any(|ep| !ep.disabled))
}

async fn send(store: &dyn Store, ingest: &Ingest, event: OpEvent) -> Result<(), String> {
    let app_id = payload::app_of(&event);
    if app_id == APP_ID {
        return Ok(()); // about an operational endpoint itself: no loops
    }
    if !listened_to(store).await {
        return Ok(()); // no operational endpoint: store nothing
    }
    let app: Option<Application> = store.get_app(app_id).await.ok();
    let (event_type, data) = payload::build(store, &event, app.as_ref()).await;
    let body = serde_json::json!({"type": event_type, "data": data}).to_string();
    let payload = RawValue::from_string(body).map_err(|e| e.to_string())?;
    let message = MessageIn::new(event_type.to_owned(), payload);
    ingest.accept(APP_ID, message, None).await.map(drop).map_err(|e| e.to_string())
}
