//! The event-type catalogue: add, archive and restore, and import the shipped catalogues.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};

use super::{Chrome, Pager, back, page_query, render};
use crate::error::ApiError;
use crate::manage::event_types::{self, EventTypeSpec};
use crate::model::EventType;
use crate::profile::catalogues;
use crate::ui::UiState;
use crate::ui::error::UiResult;
use crate::ui::form::Fields;
use crate::ui::session::{Submitted, Viewer};

pub fn routes() -> Router<UiState> {
    Router::new()
        .route("/event-types", get(list).post(add))
        .route("/event-types/{name}/archived", post(archive))
        .route("/event-types/import/{catalogue}", post(import))
}

#[derive(Template)]
#[template(path = "ui/event_types.html")]
struct EventTypesPage {
    chrome: Chrome,
    types: Vec<EventType>,
    pager: Pager,
    catalogues: &'static [&'static str],
    draft: (String, String),
    error: Option<ApiError>,
}

async fn list(State(state): State<UiState>, viewer: Viewer, query: Fields) -> UiResult<Response> {
    viewer.require_admin()?;
    let chrome = Chrome::new(&viewer, "Event types").notice_from(&query);
    render(&catalogue_page(&state, chrome, &query).await?)
}

async fn catalogue_page(
    state: &UiState,
    chrome: Chrome,
    query: &Fields,
) -> UiResult<EventTypesPage> {
    let page = state.store.list_event_types(page_query(query), true).await?;
    let pager = Pager::new(query, page.items.last().map(|e| e.name.as_str()), page.has_more);
    Ok(EventTypesPage {
        chrome,
        types: page.items,
        pager,
        catalogues: catalogues::NAMES,
        draft: Default::default(),
        error: None,
    })
}

async fn add(State(state): State<UiState>, form: Submitted) -> UiResult<Response> {
    form.viewer.require_admin()?;
    let name = form.fields.get("name").trim().to_owned();
    let spec = EventTypeSpec::described(form.fields.get("description").trim().to_owned(), None);
    match event_types::create(state.store.as_ref(), name, spec).await {
        Ok(_) => back("/event-types?done=created".into()),
        Err(error) => {
            let error = ApiError::from(error);
            let chrome = Chrome::new(&form.viewer, "Event types");
            let mut page = catalogue_page(&state, chrome, &Fields::default()).await?;
            page.draft = (form.fields.get("name").into(), form.fields.get("description").into());
            let status = error.code.status();
            page.error = Some(error);
            super::render_refused(&page, status)
        }
    }
}

async fn archive(
    State(state): State<UiState>,
    Path(name): Path<String>,
    form: Submitted,
) -> UiResult<Response> {
    form.viewer.require_admin()?;
    let archived = form.fields.get("archived") == "true";
    event_types::set_archived(state.store.as_ref(), &name, archived).await?;
    back("/event-types?done=saved".into())
}

async fn import(
    State(state): State<UiState>,
    Path(catalogue): Path<String>,
    form: Submitted,
) -> UiResult<Response> {
    form.viewer.require_admin()?;
    event_types::import(state.store.as_ref(), &catalogue).await?;
    back("/event-types?done=imported".into())
}
