//! Sending by hand: test sends, examples and resends (replays and recoveries: `tasks`).

use serde_json::value::RawValue;

use crate::error::DomainResult;
use crate::ingest::{Ingest, MessageIn};
use crate::model::time::now_ms;
use crate::model::{Endpoint, Message, ids};
use crate::profile;
use crate::store::{Accepted, Store};

/// What a receiver answered to a test send: its status (none when no answer came) and, when
/// that is not a success, its text or the error in words.
pub struct TestAnswer {
    pub status: Option<u16>,
    pub text: Option<String>,
}

/// Sends a test event to the endpoint right away, even when it is disabled, and stores
/// nothing (Strapi's Trigger). The event type defaults to the profile's test event.
pub async fn test_send(
    ingest: &Ingest,
    endpoint: &Endpoint,
    event_type: Option<String>,
    payload: Option<&RawValue>,
) -> DomainResult<TestAnswer> {
    let event_type =
        event_type.unwrap_or_else(|| profile::by_name(&endpoint.profile).test_event_type().into());
    if let Some(payload) = payload {
        crate::validate::json_depth("payload", payload.get())?;
    }
    let payload = payload.map_or_else(|| "{}".to_owned(), |p| p.get().to_owned());
    let message = unstored_message(endpoint, event_type, payload);
    let answer = ingest.dispatch().send_once(&message, endpoint).await;
    Ok(match answer.status {
        Some(code @ 200..=299) => TestAnswer { status: Some(code), text: None },
        status => TestAnswer { status, text: Some(answer.text) },
    })
}

/// A message for `endpoint` that is sent or shown but never stored (a test, a preview).
pub fn unstored_message(endpoint: &Endpoint, event_type: String, payload: String) -> Message {
    Message {
        id: ids::new_id(ids::MESSAGE),
        app_id: endpoint.app_id.clone(),
        event_type,
        event_id: None,
        channels: None,
        tags: None,
        payload,
        ordering_key: None,
        created_at: now_ms(),
    }
}

/// Queues an example of `event_type` for this endpoint only: `payload`, else the first
/// example in the event type's schemas, else `{}`.
pub async fn send_example(
    store: &dyn Store,
    ingest: &Ingest,
    endpoint: &Endpoint,
    event_type: String,
    payload: Option<Box<RawValue>>,
) -> DomainResult<Message> {
    let payload = match payload {
        Some(payload) => payload,
        None => example_payload(store, &event_type).await,
    };
    let message = MessageIn::new(event_type, payload);
    let only = Some(endpoint.id.clone());
    let accepted = ingest.accept_for(&endpoint.app_id, message, None, only).await?;
    let (Accepted::Created { message, .. } | Accepted::Replayed(message)) = accepted;
    Ok(message)
}

/// The first example in the event type's schemas, or `{}`.
pub async fn example_payload(store: &dyn Store, event_type: &str) -> Box<RawValue> {
    let schemas = store.get_event_type(event_type).await.ok().and_then(|et| et.schemas);
    let example = schemas
        .as_ref()
        .and_then(|schemas| {
            schemas.as_object()?.values().find_map(|schema| schema.get("examples")?.get(0).cloned())
        })
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    RawValue::from_string(example.to_string())
        .unwrap_or_else(|_| RawValue::from_string("{}".into()).expect("{} is JSON"))
}

/// Sends the message (its id or `eventId`) to the endpoint (its id or uid) again, now, as a
/// manual attempt; returns the message's id.
pub async fn resend(
    store: &dyn Store,
    ingest: &Ingest,
    app_id: &str,
    msg_id: &str,
    endpoint_id: &str,
) -> DomainResult<String> {
    let msg = store.get_message(app_id, msg_id).await?;
    let endpoint = store.get_endpoint(app_id, endpoint_id).await?;
    store.resend(&msg.id, &endpoint.id, now_ms()).await?;
    ingest.wake_dispatcher();
    Ok(msg.id)
}

/// The request a delivery of `message` to `endpoint` would send (or sent) at `now_ms`, as
/// the dispatcher renders it; values that carry secrets (signatures, credentials) are
/// masked. `Err` says why it cannot be sent.
pub fn preview(
    ingest: &Ingest,
    endpoint: &Endpoint,
    message: &Message,
    now_ms: i64,
) -> Result<profile::Rendered, String> {
    let mut rendered = ingest.dispatch().render(message, endpoint, now_ms)?;
    for (name, value) in &mut rendered.headers {
        let lower = name.to_ascii_lowercase();
        let secret = ["signature", "authorization", "token", "secret", "key", "cookie"]
            .iter()
            .any(|word| lower.contains(word));
        if secret {
            *value = "••••••••".into();
        }
    }
    Ok(rendered)
}
