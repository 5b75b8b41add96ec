//! An application's messages: the list with its filters, sending one by hand, and one
//! message with its status towards each endpoint.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::value::RawValue;

use super::endpoint_detail::local_time;
use super::{Chrome, Pager, app_for, back, page_query, render, when};
use crate::error::{ApiError, DomainError};
use crate::ingest::MessageIn;
use crate::manage::deliveries;
use crate::model::{Application, Attempt, DeliveryState, DeliveryStatus, Message};
use crate::store::{Accepted, Cursor, ListQuery, MessageFilter};
use crate::ui::UiState;
use crate::ui::error::UiResult;
use crate::ui::form::Fields;
use crate::ui::session::{Submitted, Viewer};

pub fn routes() -> Router<UiState> {
    Router::new()
        .route("/apps/{app}/messages", get(list).post(send))
        .route("/apps/{app}/messages/{msg}", get(detail))
        .route("/apps/{app}/messages/{msg}/resend/{ep}", post(resend))
}

#[derive(Template)]
#[template(path = "ui/messages.html")]
struct MessagesPage {
    chrome: Chrome,
    app: Application,
    messages: Vec<Message>,
    pager: Pager,
    filter: Fields,
    /// The Send message form as typed, with the error it met.
    draft: (String, String),
    error: Option<ApiError>,
}

impl MessagesPage {
    fn when(&self, m: &Message) -> String {
        when(m.created_at)
    }
}

async fn list(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(key): Path<String>,
    filter: Fields,
) -> UiResult<Response> {
    let app = app_for(&state, &viewer, &key).await?;
    let chrome = Chrome::new(&viewer, "Messages").in_app(&app, "messages").notice_from(&filter);
    let draft = ("hookd.test".to_owned(), "{\n  \"hello\": \"world\"\n}".to_owned());
    let mut page = messages_page(&state, chrome, app, filter).await?;
    page.draft = draft;
    render(&page)
}

async fn messages_page(
    state: &UiState,
    chrome: Chrome,
    app: Application,
    filter: Fields,
) -> UiResult<MessagesPage> {
    let wanted = MessageFilter {
        event_types: filter.opt("event_type").into_iter().collect(),
        channel: None,
        before: local_time(filter.get("before"), filter.get("tz")),
        after: local_time(filter.get("after_time"), filter.get("tz")),
    };
    let page = state.store.list_messages(&app.id, wanted, page_query(&filter)).await?;
    let pager = Pager::new(&filter, page.items.last().map(|m| m.id.as_str()), page.has_more);
    let (messages, draft, error) = (page.items, Default::default(), None);
    Ok(MessagesPage { chrome, app, messages, pager, filter, draft, error })
}

/// Accepts a message typed in the form, exactly as the API would.
async fn send(
    State(state): State<UiState>,
    Path(key): Path<String>,
    form: Submitted,
) -> UiResult<Response> {
    let app = app_for(&state, &form.viewer, &key).await?;
    let (event_type, payload) = (form.fields.get("event_type"), form.fields.get("payload"));
    let accepted = match RawValue::from_string(payload.trim().to_owned()) {
        Ok(payload) => {
            let input = MessageIn::new(event_type.trim().to_owned(), payload);
            state.ingest.accept(&app.id, input, None).await
        }
        Err(e) => Err(DomainError::invalid("payload", format!("the payload is not JSON: {e}"))),
    };
    match accepted {
        Ok(Accepted::Created { message, .. } | Accepted::Replayed(message)) => {
            back(format!("/apps/{}/messages/{}?done=sent", app.id, message.id))
        }
        Err(error) => {
            let error = ApiError::from(error);
            let chrome = Chrome::new(&form.viewer, "Messages").in_app(&app, "messages");
            let mut page = messages_page(&state, chrome, app, Fields::default()).await?;
            let status = error.code.status();
            (page.draft, page.error) = ((event_type.into(), payload.into()), Some(error));
            super::render_refused(&page, status)
        }
    }
}

#[derive(Template)]
#[template(path = "ui/message.html")]
struct MessagePage {
    chrome: Chrome,
    app: Application,
    message: Message,
    pretty: String,
    destinations: Vec<DeliveryState>,
    attempts: Vec<Attempt>,
}

impl MessagePage {
    fn when(&self, ms: impl std::borrow::Borrow<i64>) -> String {
        when(*ms.borrow())
    }

    fn status(&self, d: &DeliveryState) -> &'static str {
        match d.status {
            DeliveryStatus::Success => "delivered",
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Sending => "sending",
        }
    }
}

async fn detail(
    State(state): State<UiState>,
    viewer: Viewer,
    Path((key, msg_key)): Path<(String, String)>,
    query: Fields,
) -> UiResult<Response> {
    let app = app_for(&state, &viewer, &key).await?;
    let message = state.store.get_message(&app.id, &msg_key).await?;
    let pretty = serde_json::from_str::<serde_json::Value>(&message.payload)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| message.payload.clone());
    let destinations = state.store.list_deliveries_of_message(&message.id).await?;
    let recent = ListQuery { limit: 50, cursor: Cursor::Start };
    let attempts = state.store.list_attempts_by_message(&message.id, recent).await?.items;
    let chrome = Chrome::new(&viewer, "Message").in_app(&app, "messages").notice_from(&query);
    render(&MessagePage { chrome, app, message, pretty, destinations, attempts })
}

async fn resend(
    State(state): State<UiState>,
    Path((key, msg_key, ep_key)): Path<(String, String, String)>,
    form: Submitted,
) -> UiResult<Response> {
    let app = app_for(&state, &form.viewer, &key).await?;
    let (store, ingest) = (state.store.as_ref(), &state.ingest);
    let msg_id = deliveries::resend(store, ingest, &app.id, &msg_key, &ep_key).await?;
    back(format!("/apps/{}/messages/{msg_id}?done=resent", app.id))
}
