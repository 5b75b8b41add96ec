//! Ingestion: validate a message, make it idempotent, fan it out and commit it, then wake the
//! dispatcher. The answer (202) is only given after the store's commit is durable.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::Notify;

use crate::error::{ApiError, ApiResult};
use crate::model::time::now_ms;
use crate::model::{Application, Message, ids};
use crate::store::{Accepted, NewMessage, Store};

/// A message as the API receives it (Svix's `MessageIn`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageIn {
    pub event_type: String,
    /// Kept as the exact text sent, so the standard profile delivers the same bytes.
    pub payload: Box<RawValue>,
    pub event_id: Option<String>,
    pub channels: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
}

/// Accepts messages into the store and tells the dispatcher there is work.
pub struct Ingest {
    store: Arc<dyn Store>,
    work_available: Arc<Notify>,
}

impl Ingest {
    pub fn new(store: Arc<dyn Store>, work_available: Arc<Notify>) -> Self {
        Self { store, work_available }
    }

    /// Validates and durably stores `input` for `app`; replays the first answer for a known
    /// idempotency key.
    pub async fn accept(
        &self,
        app: &Application,
        input: MessageIn,
        idempotency_key: Option<String>,
    ) -> ApiResult<Accepted> {
        validate(&input, idempotency_key.as_deref())?;
        let message = Message {
            id: ids::new_id(ids::MESSAGE),
            app_id: app.id.clone(),
            event_type: input.event_type,
            event_id: input.event_id,
            channels: input.channels,
            tags: input.tags,
            payload: input.payload.get().to_owned(),
            created_at: now_ms(),
        };
        let accepted = self.store.accept_message(NewMessage { message, idempotency_key }).await?;
        if matches!(accepted, Accepted::Created { deliveries, .. } if deliveries > 0) {
            self.work_available.notify_one();
        }
        Ok(accepted)
    }

    /// Tells the dispatcher that deliveries became due outside ingestion (a resend).
    pub fn wake_dispatcher(&self) {
        self.work_available.notify_one();
    }
}

fn validate(input: &MessageIn, idempotency_key: Option<&str>) -> ApiResult<()> {
    crate::api::validate::key("eventType", &input.event_type)?;
    if !input.payload.get().trim_start().starts_with('{') {
        return Err(ApiError::invalid_field("payload", "payload must be a JSON object"));
    }
    if let Some(event_id) = &input.event_id {
        crate::api::validate::text("eventId", event_id, 1, 256)?;
    }
    crate::api::validate::keys("channels", input.channels.as_deref(), 10)?;
    if input
        .tags
        .as_ref()
        .is_some_and(|t| t.len() > 5 || t.iter().any(|t| t.is_empty() || t.len() > 128))
    {
        return Err(ApiError::invalid_field("tags", "at most 5 tags of 1 to 128 characters"));
    }
    if idempotency_key.is_some_and(|k| k.is_empty() || k.len() > 256) {
        return Err(ApiError::bad_request(
            "the Idempotency-Key header must be 1 to 256 characters",
        ));
    }
    Ok(())
}
