//! Ingestion: validate a message, make it idempotent, fan it out and commit it, then wake the
//! dispatcher. The answer (202) is only given after the store's commit is durable.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::dispatch::DispatchHandle;
use crate::error::{DomainError, DomainResult};
use crate::metrics::Metrics;
use crate::model::time::now_ms;
use crate::model::{Message, ids};
use crate::store::{Accepted, NewMessage, Store};

/// A message as the API receives it (Svix's `MessageIn`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MessageIn {
    pub event_type: String,
    /// Kept as the exact text sent, so the standard profile delivers the same bytes.
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    pub event_id: Option<String>,
    pub channels: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    /// Deliver no earlier than this (RFC 3339); now if absent or past.
    pub deliver_at: Option<String>,
    /// hookd's own: messages of the application with the same key reach each endpoint one
    /// at a time, in the order they were accepted.
    pub ordering_key: Option<String>,
}

impl MessageIn {
    /// A message of this type and payload, with nothing else set.
    pub fn new(event_type: String, payload: Box<RawValue>) -> Self {
        Self {
            event_type,
            payload,
            event_id: None,
            channels: None,
            tags: None,
            deliver_at: None,
            ordering_key: None,
        }
    }
}

/// Accepts messages into the store and hands their deliveries to the dispatcher.
pub struct Ingest {
    store: Arc<dyn Store>,
    dispatch: DispatchHandle,
    metrics: Arc<Metrics>,
    /// Wakes the background-task runner (`src/tasks/`) when a task is started here.
    tasks: Arc<tokio::sync::Notify>,
}

impl Ingest {
    pub fn new(store: Arc<dyn Store>, dispatch: DispatchHandle, metrics: Arc<Metrics>) -> Self {
        Self { store, dispatch, metrics, tasks: Arc::default() }
    }

    /// Validates and durably stores `input` for the application; replays the first answer
    /// for a known idempotency key.
    pub async fn accept(
        &self,
        app_id_or_uid: &str,
        input: MessageIn,
        idempotency_key: Option<String>,
    ) -> DomainResult<Accepted> {
        self.accept_for(app_id_or_uid, input, idempotency_key, None).await
    }

    /// Like [`Ingest::accept`], for one endpoint only, whatever its filters (an example send).
    pub async fn accept_for(
        &self,
        app_id_or_uid: &str,
        input: MessageIn,
        idempotency_key: Option<String>,
        only_endpoint: Option<String>,
    ) -> DomainResult<Accepted> {
        validate(&input, idempotency_key.as_deref())?;
        let deliver_at = match &input.deliver_at {
            Some(text) => Some(crate::model::time::parse_client_time(text).ok_or_else(|| {
                DomainError::invalid("deliverAt", "deliverAt must be an RFC 3339 time")
            })?),
            None => None,
        };
        let id = ids::new_id(ids::MESSAGE);
        // The id carries the creation time, so time filters can use the primary key.
        let created_at = ids::millis_of(&id).unwrap_or_else(now_ms);
        let message = Message {
            id,
            app_id: app_id_or_uid.to_owned(),
            event_type: input.event_type,
            event_id: input.event_id,
            channels: input.channels,
            tags: input.tags,
            payload: input.payload.get().to_owned(),
            ordering_key: input.ordering_key,
            created_at,
        };
        let (lease, busy) = self.dispatch.lease_for_new_deliveries();
        // Deliveries left pending for lack of room, or for later, are the loop's to claim;
        // those left only because their endpoint is busy are claimed when it has room.
        let claim_pending = lease.is_none() || deliver_at.is_some();
        let new = NewMessage { message, idempotency_key, deliver_at, lease, busy, only_endpoint };
        let mut accepted = self.store.accept_message(new).await?;
        if let Accepted::Created { deliveries, leased, .. } = &mut accepted {
            self.metrics.accepted(*deliveries);
            let pending = *deliveries - leased.len();
            if !leased.is_empty() {
                self.dispatch.hand_over(std::mem::take(leased));
            }
            if pending > 0 && claim_pending {
                self.dispatch.wake();
            }
        }
        Ok(accepted)
    }

    /// The dispatcher, for test sends.
    pub fn dispatch(&self) -> &DispatchHandle {
        &self.dispatch
    }

    /// Tells the dispatcher that deliveries became due outside ingestion (a resend).
    pub fn wake_dispatcher(&self) {
        self.dispatch.wake();
    }

    /// A background task was started: the runner takes it now, not at its next look.
    pub fn wake_tasks(&self) {
        self.tasks.notify_one();
    }

    /// What [`Ingest::wake_tasks`] notifies.
    pub fn task_wake_ups(&self) -> Arc<tokio::sync::Notify> {
        self.tasks.clone()
    }
}

fn validate(input: &MessageIn, idempotency_key: Option<&str>) -> DomainResult<()> {
    crate::validate::key("eventType", &input.event_type)?;
    if !input.payload.get().trim_start().starts_with('{') {
        return Err(DomainError::invalid("payload", "payload must be a JSON object"));
    }
    crate::validate::json_depth("payload", input.payload.get())?;
    if let Some(event_id) = &input.event_id {
        crate::validate::text("eventId", event_id, 1, 256)?;
    }
    if let Some(key) = &input.ordering_key {
        crate::validate::text("orderingKey", key, 1, 256)?;
    }
    crate::validate::keys("channels", input.channels.as_deref(), 10)?;
    if input
        .tags
        .as_ref()
        .is_some_and(|t| t.len() > 5 || t.iter().any(|t| t.is_empty() || t.len() > 128))
    {
        return Err(DomainError::invalid("tags", "at most 5 tags of 1 to 128 characters"));
    }
    if idempotency_key.is_some_and(|k| k.is_empty() || k.len() > 256) {
        return Err(DomainError::BadRequest(
            "the Idempotency-Key header must be 1 to 256 characters".into(),
        ));
    }
    Ok(())
}
