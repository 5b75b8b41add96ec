//! The operator's dashboard: the last day in figures, and the endpoints that need a look.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::{Chrome, render, when};
use crate::model::time::now_ms;
use crate::model::{Endpoint, Overview};
use crate::ui::UiState;
use crate::ui::error::UiResult;
use crate::ui::form::Fields;
use crate::ui::session::Viewer;

const DAY_MS: i64 = 24 * 3600 * 1000;

pub fn routes() -> Router<UiState> {
    Router::new().route("/", get(dashboard))
}

#[derive(Template)]
#[template(path = "ui/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    figures: Overview,
    unhealthy: Vec<Endpoint>,
}

impl DashboardPage {
    fn since(&self, ep: &Endpoint) -> String {
        ep.failing_since.map(when).unwrap_or_default()
    }
}

/// A portal session has no dashboard: it goes straight to its application.
async fn dashboard(
    State(state): State<UiState>,
    viewer: Viewer,
    query: Fields,
) -> UiResult<Response> {
    if let Some(app_id) = &viewer.session.app_id {
        return Ok(Redirect::to(&format!("/apps/{app_id}/endpoints")).into_response());
    }
    let figures = state.store.overview(now_ms() - DAY_MS).await?;
    let unhealthy = state.store.list_unhealthy_endpoints(50).await?;
    let chrome = Chrome::new(&viewer, "Dashboard").notice_from(&query);
    render(&DashboardPage { chrome, figures, unhealthy })
}
