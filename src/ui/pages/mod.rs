//! The pages, one file per area. Each handler reads what it shows through the store's reads
//! or changes it through [`crate::manage`], then renders one template.

mod apps;
mod dashboard;
mod endpoint_detail;
mod endpoint_form;
mod endpoints;
mod event_types;
mod messages;
mod sign_in;

use askama::Template;
use axum::Router;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::UiState;
use super::error::{UiError, UiResult};
use super::form::Fields;
use super::session::Viewer;
use crate::model::time::format_rfc3339;
use crate::model::{Application, Endpoint};
use crate::store::{Cursor, ListQuery};

pub fn routes() -> Router<UiState> {
    Router::new()
        .merge(sign_in::routes())
        .merge(dashboard::routes())
        .merge(apps::routes())
        .merge(endpoints::routes())
        .merge(endpoint_form::routes())
        .merge(endpoint_detail::routes())
        .merge(messages::routes())
        .merge(event_types::routes())
}

/// What the layout around every page needs.
pub struct Chrome {
    pub title: String,
    pub csrf: String,
    pub admin: bool,
    pub can_change: bool,
    /// The application whose tabs are shown, and which tab is open.
    pub app: Option<AppTab>,
    pub tab: &'static str,
    pub notice: Option<String>,
}

pub struct AppTab {
    pub id: String,
    pub name: String,
}

impl Chrome {
    pub fn new(viewer: &Viewer, title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            csrf: viewer.csrf(),
            admin: viewer.is_admin(),
            can_change: viewer.may_change(),
            app: None,
            tab: "",
            notice: None,
        }
    }

    pub fn in_app(mut self, app: &Application, tab: &'static str) -> Self {
        self.app = Some(AppTab { id: app.id.clone(), name: app.name.clone() });
        self.tab = tab;
        self
    }

    /// A line confirming what the last action did, chosen from fixed texts by the `done`
    /// query parameter (so a link cannot make the console say anything else).
    pub fn notice_from(mut self, query: &Fields) -> Self {
        self.notice = match query.get("done") {
            "created" => Some("Created.".into()),
            "saved" => Some("Saved.".into()),
            "deleted" => Some("Deleted.".into()),
            "enabled" => Some("Enabled.".into()),
            "disabled" => Some("Disabled.".into()),
            "resent" => Some("Queued to be sent again.".into()),
            "recovering" => Some(
                "Recovery started: the failed deliveries queued again appear below as they are sent."
                    .into(),
            ),
            "rotated" => Some(
                "The secret was rotated; the old one keeps signing for the grace period.".into(),
            ),
            "imported" => Some("Imported.".into()),
            "sent" => Some("Message accepted.".into()),
            "revoked" => {
                Some("Every portal link and portal session of this application has ended.".into())
            }
            _ => None,
        };
        self
    }
}

pub fn render(page: &impl Template) -> UiResult<Response> {
    Ok(Html(page.render()?).into_response())
}

/// A form shown again with the error a rule met, answered with that error's status (422
/// for a bad value, 409 for a conflict), as the API would.
pub fn render_refused(page: &impl Template, status: axum::http::StatusCode) -> UiResult<Response> {
    Ok((status, Html(page.render()?)).into_response())
}

/// After a change: back to a page (303, so a reload does not post again).
pub fn back(to: String) -> UiResult<Response> {
    Ok(Redirect::to(&to).into_response())
}

/// The application named in the path, if this viewer may see it.
pub async fn app_for(state: &UiState, viewer: &Viewer, key: &str) -> UiResult<Application> {
    if key == crate::operational::APP_ID {
        // Managed through the API's operational-webhook routes only (see `operational`).
        return Err(crate::store::StoreError::NotFound("application").into());
    }
    let app = state.store.get_app(key).await?;
    viewer.require_app(&app)?;
    Ok(app)
}

pub async fn endpoint_for(
    state: &UiState,
    viewer: &Viewer,
    app_key: &str,
    ep_key: &str,
) -> UiResult<(Application, Endpoint)> {
    let app = app_for(state, viewer, app_key).await?;
    let ep = state.store.get_endpoint(&app.id, ep_key).await?;
    Ok((app, ep))
}

/// A time as the page shows it: RFC 3339 in UTC, which the script turns into local time.
pub fn when(ms: i64) -> String {
    format_rfc3339(ms)
}

/// The page of a list the query asks for: `after` or `before` an id, 50 at a time.
pub fn page_query(query: &Fields) -> ListQuery {
    let cursor = match (query.opt("after"), query.opt("before")) {
        (Some(after), _) => Cursor::After(after),
        (None, Some(before)) => Cursor::Before(before),
        (None, None) => Cursor::Start,
    };
    ListQuery { limit: 50, cursor }
}

/// Links to the pages around one page of a list: `next` continues after the last item,
/// keeping the list's other query parameters (its filters).
pub struct Pager {
    pub next: Option<String>,
    pub first: bool,
}

impl Pager {
    pub fn new(query: &Fields, last_key: Option<&str>, has_more: bool) -> Self {
        let first = query.opt("after").is_some() || query.opt("before").is_some();
        let next = last_key.filter(|_| has_more).map(|last| {
            let mut href = form_urlencoded::Serializer::new(String::new());
            for (name, value) in query.pairs() {
                if !matches!(name, "after" | "before" | "done") {
                    href.append_pair(name, value);
                }
            }
            format!("?{}", href.append_pair("after", last).finish())
        });
        Self { next, first }
    }

    pub fn none() -> Self {
        Self { next: None, first: false }
    }
}

/// A refusal of a form field the page did not offer (a hand-made request).
pub fn bad_field(name: &str) -> UiError {
    UiError::BadRequest(format!("the form's {name} is not valid"))
}
