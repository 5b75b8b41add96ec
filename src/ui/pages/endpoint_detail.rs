//! One endpoint: its settings at a glance, its secret, its attempt log (each attempt opens
//! to the request and the response), and recovering its failed deliveries.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};

use super::{Chrome, Pager, back, endpoint_for, page_query, render, when};
use crate::manage::{deliveries, endpoints, tasks};
use crate::model::time::now_ms;
use crate::model::{Application, Attempt, Endpoint, Message, TriggerType};
use crate::ui::UiState;
use crate::ui::chart::{self, Chart};
use crate::ui::error::{UiError, UiResult};
use crate::ui::form::Fields;
use crate::ui::session::{Submitted, Viewer};

pub fn routes() -> Router<UiState> {
    let ep = "/apps/{app}/endpoints/{ep}";
    Router::new()
        .route(ep, get(detail))
        .route(&format!("{ep}/rotate"), post(rotate))
        .route(&format!("{ep}/recover"), post(recover))
}

/// One attempt with the message it carried and the request it sent.
pub struct AttemptRow {
    pub attempt: Attempt,
    pub event_type: String,
    /// The request as rendered again for the attempt's time, secrets masked.
    pub request: Result<(Vec<(String, String)>, String), String>,
}

impl AttemptRow {
    pub fn when(&self) -> String {
        when(self.attempt.created_at)
    }

    pub fn trigger(&self) -> &'static str {
        match self.attempt.trigger_type {
            TriggerType::Manual => "manual",
            TriggerType::Scheduled => "scheduled",
        }
    }

    pub fn succeeded(&self) -> bool {
        self.attempt.status == crate::model::DeliveryStatus::Success
    }
}

#[derive(Template)]
#[template(path = "ui/endpoint.html")]
struct DetailPage {
    chrome: Chrome,
    app: Application,
    ep: Endpoint,
    attempts: Vec<AttemptRow>,
    pager: Pager,
    grace_hours: i64,
    chart: Chart,
}

impl DetailPage {
    fn failing_since(&self) -> String {
        self.ep.failing_since.map(when).unwrap_or_default()
    }

    /// The secret with all but its prefix hidden.
    fn masked_secret(&self) -> String {
        let prefix = self.ep.secret.split_once('_').map_or("", |(p, _)| p);
        format!("{prefix}{}••••••••", if prefix.is_empty() { "" } else { "_" })
    }
}

async fn detail(
    State(state): State<UiState>,
    viewer: Viewer,
    Path((key, ep_key)): Path<(String, String)>,
    query: Fields,
) -> UiResult<Response> {
    let (app, ep) = endpoint_for(&state, &viewer, &key, &ep_key).await?;
    let chrome = Chrome::new(&viewer, "Endpoint").in_app(&app, "endpoints").notice_from(&query);
    let page = state.store.list_attempts_by_endpoint(&ep.id, page_query(&query)).await?;
    let pager = Pager::new(&query, page.items.last().map(|a| a.id.as_str()), page.has_more);
    let mut attempts = Vec::with_capacity(page.items.len());
    for attempt in page.items {
        attempts.push(attempt_row(&state, &ep, attempt).await?);
    }
    let grace_hours = state.rotation_grace_ms / 3_600_000;
    let now = now_ms();
    let stats = state.store.endpoint_stats(&ep.id, now - chart::HOURS * 3_600_000, now).await?;
    let chart = Chart::last_day(&stats, now);
    render(&DetailPage { chrome, app, ep, attempts, pager, grace_hours, chart })
}

async fn attempt_row(state: &UiState, ep: &Endpoint, attempt: Attempt) -> UiResult<AttemptRow> {
    let message: Option<Message> = match state.store.get_message(&ep.app_id, &attempt.msg_id).await
    {
        Ok(m) => Some(m),
        Err(crate::store::StoreError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let (event_type, request) = match &message {
        Some(m) => {
            let rendered = deliveries::preview(&state.ingest, ep, m, attempt.created_at);
            let request = rendered.map(|r| (r.headers, String::from_utf8_lossy(&r.body).into()));
            (m.event_type.clone(), request)
        }
        None => (String::new(), Err("the message has been purged".into())),
    };
    Ok(AttemptRow { attempt, event_type, request })
}

async fn rotate(
    State(state): State<UiState>,
    Path((key, ep_key)): Path<(String, String)>,
    form: Submitted,
) -> UiResult<Response> {
    let (app, ep) = endpoint_for(&state, &form.viewer, &key, &ep_key).await?;
    let hours: i64 = match form.fields.opt("grace_hours") {
        Some(text) => text
            .parse()
            .ok()
            .filter(|h| (0..=24 * 30).contains(h))
            .ok_or_else(|| UiError::BadRequest("the grace period is 0 to 720 hours".into()))?,
        None => state.rotation_grace_ms / 3_600_000,
    };
    let ep_id = ep.id.clone();
    endpoints::rotate_secret(state.store.as_ref(), ep, None, hours * 3_600_000).await?;
    back(format!("/apps/{}/endpoints/{ep_id}?done=rotated", app.id))
}

/// `since` comes from a `datetime-local` field, in the browser's local time; the script
/// adds the browser's offset from UTC (`tz`, in minutes, as `Date.getTimezoneOffset`).
async fn recover(
    State(state): State<UiState>,
    Path((key, ep_key)): Path<(String, String)>,
    form: Submitted,
) -> UiResult<Response> {
    let (app, ep) = endpoint_for(&state, &form.viewer, &key, &ep_key).await?;
    let since = local_time(form.fields.get("since"), form.fields.get("tz"))
        .ok_or_else(|| UiError::BadRequest("choose the date and time to recover from".into()))?;
    tasks::recover(state.store.as_ref(), &state.ingest, &ep, since, None).await?;
    back(format!("/apps/{}/endpoints/{}?done=recovering", app.id, ep.id))
}

/// A `datetime-local` value (`2026-12-01T09:30`) at an offset of `tz_minutes` behind UTC.
pub fn local_time(text: &str, tz_minutes: &str) -> Option<i64> {
    let text = text.trim();
    let full = if text.len() == 16 { format!("{text}:00") } else { text.to_owned() };
    let utc = crate::model::time::parse_client_time(&full)?;
    let offset: i64 = tz_minutes.trim().parse().unwrap_or(0);
    Some(utc + offset.clamp(-24 * 60, 24 * 60) * 60_000)
}
