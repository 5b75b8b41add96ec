//! The payloads, in the shapes of Svix's server (`core/operational_webhooks.rs`): camelCase
//! ids and uids, `failSince` for a disabled endpoint, `lastAttempt` for attempt events. hookd
//! adds `trigger` and `reason` to `endpoint.disabled`, so a receiver can tell a 410 from a
//! long failure and a person's click from either.

use serde_json::{Value, json};

use super::{AttemptEvent, OpEvent};
use crate::model::Application;
use crate::model::time::{format_rfc3339, now_ms};
use crate::store::Store;

pub(super) fn app_of(event: &OpEvent) -> &str {
    match event {
        OpEvent::EndpointCreated { app_id, .. }
        | OpEvent::EndpointUpdated { app_id, .. }
        | OpEvent::EndpointDeleted { app_id, .. }
        | OpEvent::EndpointEnabled { app_id, .. }
        | OpEvent::EndpointDisabled { app_id, .. }
        | OpEvent::Attempt { app_id, .. } => app_id,
    }
}

/// The event type and the `data` object of an event.
pub(super) async fn build(
    store: &dyn Store,
    event: &OpEvent,
    app: Option<&Application>,
) -> (&'static str, Value) {
    let app_uid = app.and_then(|a| a.uid.clone());
    let endpoint = |app_id: &str, id: &str, uid: &Option<String>| json!({"appId": app_id, "appUid": app_uid, "endpointId": id, "endpointUid": uid});
    match event {
        OpEvent::EndpointCreated { app_id, endpoint_id, endpoint_uid } => {
            ("endpoint.created", endpoint(app_id, endpoint_id, endpoint_uid))
        }
        OpEvent::EndpointUpdated { app_id, endpoint_id, endpoint_uid } => {
            ("endpoint.updated", endpoint(app_id, endpoint_id, endpoint_uid))
        }
        OpEvent::EndpointDeleted { app_id, endpoint_id, endpoint_uid } => {
            ("endpoint.deleted", endpoint(app_id, endpoint_id, endpoint_uid))
        }
        OpEvent::EndpointEnabled { app_id, endpoint_id, endpoint_uid } => {
            ("endpoint.enabled", endpoint(app_id, endpoint_id, endpoint_uid))
        }
        OpEvent::EndpointDisabled { app_id, endpoint_id, manual, gone } => {
            // Read back for its uid and since when it failed; a deleted one still gets the event.
            let stored = store.get_endpoint(app_id, endpoint_id).await.ok();
            let uid = stored.as_ref().and_then(|e| e.uid.clone());
            let since = stored.and_then(|e| e.failing_since).unwrap_or_else(now_ms);
            let mut data = endpoint(app_id, endpoint_id, &uid);
            data["failSince"] = json!(format_rfc3339(since));
            data["trigger"] = json!(if *manual { "manual" } else { "automatic" });
            data["reason"] = json!(match (manual, gone) {
                (true, _) => "manual",
                (false, true) => "gone",
                (false, false) => "failing",
            });
            ("endpoint.disabled", data)
        }
        OpEvent::Attempt { kind, app_id, attempt } => {
            let event_type = match kind {
                AttemptEvent::Failing => "message.attempt.failing",
                AttemptEvent::Exhausted => "message.attempt.exhausted",
                AttemptEvent::Recovered => "message.attempt.recovered",
            };
            let data = json!({
                "appId": app_id,
                "appUid": app_uid,
                "msgId": attempt.msg_id,
                "msgEventId": attempt.msg_event_id,
                "endpointId": attempt.endpoint_id,
                "lastAttempt": {
                    "id": attempt.id,
                    "responseStatusCode": attempt.status_code,
                    "timestamp": format_rfc3339(attempt.at),
                    "triggerType": i32::from(attempt.manual),
                },
            });
            (event_type, data)
        }
    }
}
