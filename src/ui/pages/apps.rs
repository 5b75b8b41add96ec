//! Applications: the list with its search, creating one, and one application's settings.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::{Chrome, Pager, app_for, back, page_query, render, render_refused};
use crate::error::ApiError;
use crate::manage::applications::{self, ApplicationSpec};
use crate::manage::portal;
use crate::model::{Application, Metadata};
use crate::ui::UiState;
use crate::ui::error::UiResult;
use crate::ui::form::Fields;
use crate::ui::session::{Submitted, Viewer};

pub fn routes() -> Router<UiState> {
    Router::new()
        .route("/apps", get(list).post(create))
        .route("/apps/{app}", get(open))
        .route("/apps/{app}/settings", get(settings).post(rename))
        .route("/apps/{app}/delete", post(remove))
        .route("/apps/{app}/portal", post(grant_portal))
        .route("/apps/{app}/portal/revoke", post(revoke_portal))
}

#[derive(Template)]
#[template(path = "ui/apps.html")]
struct AppsPage {
    chrome: Chrome,
    search: String,
    apps: Vec<Application>,
    pager: Pager,
    /// The New application form as typed, with the error it met.
    draft: (String, String),
    error: Option<ApiError>,
}

async fn list(State(state): State<UiState>, viewer: Viewer, query: Fields) -> UiResult<Response> {
    viewer.require_admin()?;
    let chrome = Chrome::new(&viewer, "Applications").notice_from(&query);
    let search = query.get("q").trim().to_owned();
    let (apps, pager) = if search.is_empty() {
        let page = state.store.list_apps(page_query(&query)).await?;
        let pager = Pager::new(&query, page.items.last().map(|a| a.id.as_str()), page.has_more);
        (page.items, pager)
    } else {
        let found = state.store.search_apps(&search, 50).await?;
        (found, Pager::none())
    };
    render(&AppsPage { chrome, search, apps, pager, draft: Default::default(), error: None })
}

async fn create(State(state): State<UiState>, form: Submitted) -> UiResult<Response> {
    form.viewer.require_admin()?;
    let (name, uid) = (form.fields.get("name").trim().to_owned(), form.fields.opt("uid"));
    let spec = ApplicationSpec { name, uid, throttle_rate: None, metadata: Metadata::new() };
    match applications::create(state.store.as_ref(), spec).await {
        Ok(app) => back(format!("/apps/{}/endpoints?done=created", app.id)),
        Err(error) => {
            let error = ApiError::from(error);
            let page = state.store.list_apps(page_query(&Fields::default())).await?;
            let draft = (form.fields.get("name").into(), form.fields.get("uid").into());
            let chrome = Chrome::new(&form.viewer, "Applications");
            let pager = Pager::none();
            let status = error.code.status();
            let error = Some(error);
            render_refused(
                &AppsPage { chrome, search: String::new(), apps: page.items, pager, draft, error },
                status,
            )
        }
    }
}

/// An application opens on its endpoints.
async fn open(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(key): Path<String>,
) -> UiResult<Response> {
    let app = app_for(&state, &viewer, &key).await?;
    back(format!("/apps/{}/endpoints", app.id))
}

#[derive(Template)]
#[template(path = "ui/app_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    app: Application,
    error: Option<ApiError>,
    /// A portal link just made, shown once.
    portal_url: Option<String>,
}

async fn settings(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(key): Path<String>,
    query: Fields,
) -> UiResult<Response> {
    viewer.require_admin()?;
    let app = app_for(&state, &viewer, &key).await?;
    let chrome = Chrome::new(&viewer, "Settings").in_app(&app, "settings").notice_from(&query);
    render(&SettingsPage { chrome, app, error: None, portal_url: None })
}

async fn rename(
    State(state): State<UiState>,
    Path(key): Path<String>,
    form: Submitted,
) -> UiResult<Response> {
    form.viewer.require_admin()?;
    let app = app_for(&state, &form.viewer, &key).await?;
    let mut spec = ApplicationSpec::of(&app);
    spec.name = form.fields.get("name").trim().to_owned();
    match applications::update(state.store.as_ref(), app.clone(), spec).await {
        Ok(app) => back(format!("/apps/{}/settings?done=saved", app.id)),
        Err(error) => {
            let error = ApiError::from(error);
            let chrome = Chrome::new(&form.viewer, "Settings").in_app(&app, "settings");
            let status = error.code.status();
            render_refused(
                &SettingsPage { chrome, app, error: Some(error), portal_url: None },
                status,
            )
        }
    }
}

async fn remove(
    State(state): State<UiState>,
    Path(key): Path<String>,
    form: Submitted,
) -> UiResult<Response> {
    form.viewer.require_admin()?;
    let app = app_for(&state, &form.viewer, &key).await?;
    applications::delete(state.store.clone(), &app.id).await?;
    Ok(Redirect::to("/apps?done=deleted").into_response())
}

/// Makes a portal link for the application's own users and shows it once.
async fn grant_portal(
    State(state): State<UiState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    form: Submitted,
) -> UiResult<Response> {
    form.viewer.require_admin()?;
    let app = app_for(&state, &form.viewer, &key).await?;
    let days: u64 = form.fields.get("days").parse().map_err(|_| super::bad_field("days"))?;
    let expiry = days.checked_mul(86_400).ok_or_else(|| super::bad_field("days"))?;
    let read_only = form.fields.get("read_only") == "true";
    let token = portal::grant(state.store.as_ref(), &app, Some(expiry), read_only).await?;
    let portal_url = Some(portal::entry_url(&headers, &token));
    let chrome = Chrome::new(&form.viewer, "Settings").in_app(&app, "settings");
    render(&SettingsPage { chrome, app, error: None, portal_url })
}

async fn revoke_portal(
    State(state): State<UiState>,
    Path(key): Path<String>,
    form: Submitted,
) -> UiResult<Response> {
    form.viewer.require_admin()?;
    let app = app_for(&state, &form.viewer, &key).await?;
    portal::revoke_all(state.store.as_ref(), &app.id, None).await?;
    back(format!("/apps/{}/settings?done=revoked", app.id))
}
