//! An application's endpoints: the list with each one's health, and the actions taken from
//! it in place (switch on and off, test, delete).

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};

use super::{Chrome, Pager, back, endpoint_for, page_query, render, when};
use crate::manage::{deliveries, endpoints};
use crate::model::{Application, Attempt, Endpoint};
use crate::store::{Cursor, ListQuery};
use crate::ui::UiState;
use crate::ui::error::UiResult;
use crate::ui::form::Fields;
use crate::ui::session::{Submitted, Viewer};

pub fn routes() -> Router<UiState> {
    let ep = "/apps/{app}/endpoints/{ep}";
    Router::new()
        .route("/apps/{app}/endpoints", get(list))
        .route(&format!("{ep}/enabled"), post(switch))
        .route(&format!("{ep}/test"), post(test))
        .route(&format!("{ep}/delete"), post(remove))
}

/// One endpoint as the list shows it.
pub struct Row {
    pub ep: Endpoint,
    pub last: Option<Attempt>,
    /// What the receiver answered to a test just sent from this page.
    pub tested: Option<String>,
}

impl Row {
    pub fn last_when(&self) -> String {
        self.last.as_ref().map(|a| when(a.created_at)).unwrap_or_default()
    }

    pub fn failing_since(&self) -> String {
        self.ep.failing_since.map(when).unwrap_or_default()
    }

    pub fn types(&self) -> String {
        self.ep.filter_types.as_ref().map_or_else(|| "all".into(), |t| t.join(", "))
    }
}

#[derive(Template)]
#[template(path = "ui/endpoints.html")]
struct EndpointsPage {
    chrome: Chrome,
    app: Application,
    rows: Vec<Row>,
    pager: Pager,
}

async fn list(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(key): Path<String>,
    query: Fields,
) -> UiResult<Response> {
    let app = super::app_for(&state, &viewer, &key).await?;
    let chrome = Chrome::new(&viewer, "Endpoints").in_app(&app, "endpoints").notice_from(&query);
    let (rows, pager) = rows(&state, &app, &query, None).await?;
    render(&EndpointsPage { chrome, app, rows, pager })
}

/// The page's rows, each with its last attempt (one indexed read per endpoint, at most 50).
async fn rows(
    state: &UiState,
    app: &Application,
    query: &Fields,
    tested: Option<(&str, String)>,
) -> UiResult<(Vec<Row>, Pager)> {
    let page = state.store.list_endpoints(&app.id, page_query(query)).await?;
    let pager = Pager::new(query, page.items.last().map(|e| e.id.as_str()), page.has_more);
    let mut rows = Vec::with_capacity(page.items.len());
    for ep in page.items {
        let latest = ListQuery { limit: 1, cursor: Cursor::Start };
        let last = state.store.list_attempts_by_endpoint(&ep.id, latest).await?.items.pop();
        let tested = tested.as_ref().filter(|(id, _)| *id == ep.id).map(|(_, t)| t.clone());
        rows.push(Row { ep, last, tested });
    }
    Ok((rows, pager))
}

async fn switch(
    State(state): State<UiState>,
    Path((key, ep_key)): Path<(String, String)>,
    form: Submitted,
) -> UiResult<Response> {
    let (app, ep) = endpoint_for(&state, &form.viewer, &key, &ep_key).await?;
    let ep_id = ep.id.clone();
    let enable = form.fields.get("enabled") == "true";
    endpoints::set_enabled(state.store.as_ref(), &state.events, &app, ep, enable).await?;
    let done = if enable { "enabled" } else { "disabled" };
    let page = match form.fields.get("from") {
        "detail" => format!("{}/{}", list_href(&app), ep_id),
        _ => list_href(&app),
    };
    back(format!("{page}?done={done}"))
}

/// Sends a test event now and shows the receiver's answer next to the endpoint.
async fn test(
    State(state): State<UiState>,
    Path((key, ep_key)): Path<(String, String)>,
    form: Submitted,
) -> UiResult<Response> {
    let (app, ep) = endpoint_for(&state, &form.viewer, &key, &ep_key).await?;
    let answer = deliveries::test_send(&state.ingest, &ep, None, None).await?;
    let text = match (answer.status, answer.text) {
        (Some(code), None) => format!("{code}: delivered"),
        (Some(code), Some(text)) => format!("{code}: {text}"),
        (None, text) => format!("not delivered: {}", text.unwrap_or_default()),
    };
    let chrome = Chrome::new(&form.viewer, "Endpoints").in_app(&app, "endpoints");
    let (rows, pager) = rows(&state, &app, &Fields::default(), Some((&ep.id, text))).await?;
    render(&EndpointsPage { chrome, app, rows, pager })
}

async fn remove(
    State(state): State<UiState>,
    Path((key, ep_key)): Path<(String, String)>,
    form: Submitted,
) -> UiResult<Response> {
    let (app, ep) = endpoint_for(&state, &form.viewer, &key, &ep_key).await?;
    endpoints::delete(state.store.as_ref(), &state.events, &ep).await?;
    back(format!("{}?done=deleted", list_href(&app)))
}

fn list_href(app: &Application) -> String {
    format!("/apps/{}/endpoints", app.id)
}
