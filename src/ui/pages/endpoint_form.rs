//! The endpoint form (`Add endpoint`, `Edit`), with the template preview. The form's values
//! become an [`EndpointSpec`], checked by the same rules as the API; an error is shown next
//! to the field it names.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;

use super::{Chrome, app_for, back, endpoint_for, render};
use crate::error::{ApiError, DomainError, DomainResult};
use crate::manage::deliveries;
use crate::manage::endpoints::{self, EndpointSpec, OrderingOnFailure};
use crate::model::time::now_ms;
use crate::model::{Application, Endpoint};
use crate::store::{Cursor, ListQuery};
use crate::ui::UiState;
use crate::ui::error::UiResult;
use crate::ui::form::Fields;
use crate::ui::session::{Submitted, Viewer};

pub fn routes() -> Router<UiState> {
    Router::new()
        .route("/apps/{app}/endpoints/new", get(new_form).post(create))
        .route("/apps/{app}/endpoints/{ep}/edit", get(edit_form).post(save))
}

/// The profiles a user picks from, with their names as the select shows them.
const PROFILES: &[(&str, &str)] = &[
    ("standard", "Standard Webhooks"),
    ("svix", "Svix"),
    ("misskey", "Misskey"),
    ("mastodon", "Mastodon"),
    ("strapi", "Strapi"),
];

/// The form as typed (or as the endpoint is), with the catalogue to choose from.
pub struct Draft {
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub channels: String,
    pub profile: String,
    pub server: String,
    pub rate_limit: String,
    /// `hold` or `skip`: what follows a failure for good of a message with an ordering key.
    pub on_failure: String,
    pub headers: Vec<(String, String)>,
    pub template: String,
    pub preview_type: String,
}

impl Draft {
    fn of(ep: &Endpoint) -> Self {
        let server = ep.profile_config.get("server").and_then(|v| v.as_str()).unwrap_or("");
        Self {
            url: ep.url.clone(),
            description: ep.description.clone(),
            event_types: ep.filter_types.clone().unwrap_or_default(),
            channels: ep.channels.as_ref().map(|c| c.join(", ")).unwrap_or_default(),
            profile: ep.profile.clone(),
            server: server.to_owned(),
            rate_limit: ep.throttle_rate.map(|r| r.to_string()).unwrap_or_default(),
            on_failure: if ep.hold_key_on_failure { "hold" } else { "skip" }.into(),
            headers: ep.headers.iter().map(|(n, v)| (n.clone(), v.clone())).collect(),
            template: ep.template.clone().unwrap_or_default(),
            preview_type: String::new(),
        }
    }

    fn from_form(f: &Fields) -> Self {
        let names = f.all("header_name");
        let values = f.all("header_value");
        let headers = names.iter().zip(values.iter().chain(std::iter::repeat(&"")));
        Self {
            url: f.get("url").trim().to_owned(),
            description: f.get("description").to_owned(),
            event_types: f.all("event_types").into_iter().map(str::to_owned).collect(),
            channels: f.get("channels").to_owned(),
            profile: f.get("profile").to_owned(),
            server: f.get("server").trim().to_owned(),
            rate_limit: f.get("rate_limit").trim().to_owned(),
            on_failure: f.get("on_failure").to_owned(),
            headers: headers
                .filter(|(n, _)| !n.trim().is_empty())
                .map(|(n, v)| (n.trim().to_owned(), v.to_string()))
                .collect(),
            template: f.get("template").to_owned(),
            preview_type: f.get("preview_type").to_owned(),
        }
    }

    /// The spec these values describe, over `base` (the endpoint's own, or a new one's).
    fn spec(&self, mut base: EndpointSpec, current: &Endpoint) -> DomainResult<EndpointSpec> {
        base.url = self.url.clone();
        base.description = self.description.clone();
        base.event_types = Some(self.event_types.clone()).filter(|t| !t.is_empty());
        let channels = Fields::parse(format!("c={}", self.channels).as_bytes()).list("c");
        base.channels = channels;
        base.throttle_rate = match self.rate_limit.as_str() {
            "" => None,
            text => Some(text.parse().map_err(|_| {
                DomainError::invalid("throttleRate", "the rate limit is a whole number per second")
            })?),
        };
        base.ordering_on_failure = match self.on_failure.as_str() {
            "hold" => OrderingOnFailure::Hold,
            _ => OrderingOnFailure::Skip,
        };
        let headers: BTreeMap<String, String> = self.headers.iter().cloned().collect();
        base.headers = Some(headers);
        base.profile = Some(self.profile.clone());
        if self.profile == "misskey" {
            let mut config = current.profile_config.clone();
            config.insert("server".into(), self.server.clone().into());
            base.profile_config = Some(config);
        }
        base.template = Some(self.template.clone());
        Ok(base)
    }

    fn checked(&self, name: &str) -> bool {
        self.event_types.iter().any(|t| t == name)
    }
}

#[derive(Template)]
#[template(path = "ui/endpoint_form.html")]
struct FormPage {
    chrome: Chrome,
    app: Application,
    /// `None` for a new endpoint.
    endpoint_id: Option<String>,
    draft: Draft,
    groups: Vec<(String, Vec<String>)>,
    profiles: &'static [(&'static str, &'static str)],
    error: Option<ApiError>,
    preview: Option<Result<String, String>>,
}

impl FormPage {
    /// The error to show next to `field` (the API's name for it), if it is that field's.
    fn error_for(&self, field: &str) -> Option<&str> {
        let e = self.error.as_ref()?;
        (e.loc.get(1).map(String::as_str) == Some(field)).then_some(e.detail.as_str())
    }

    /// An error that names no field of the form.
    fn general_error(&self) -> Option<&str> {
        const FIELDS: &[&str] = &[
            "url",
            "description",
            "eventTypes",
            "channels",
            "profile",
            "profileConfig",
            "throttleRate",
            "headers",
            "template",
        ];
        let e = self.error.as_ref()?;
        let field = e.loc.get(1).map(String::as_str).unwrap_or("");
        (!FIELDS.contains(&field)).then_some(e.detail.as_str())
    }
}

/// The catalogue's event types grouped by their first segment (`account.*`).
async fn catalogue(state: &UiState) -> UiResult<Vec<(String, Vec<String>)>> {
    let all = ListQuery { limit: 250, cursor: Cursor::Start };
    let types = state.store.list_event_types(all, false).await?.items;
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for et in types {
        let group = match et.name.split_once('.') {
            Some((prefix, _)) => format!("{prefix}.*"),
            None => et.name.clone(),
        };
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, names)) => names.push(et.name),
            None => groups.push((group, vec![et.name])),
        }
    }
    Ok(groups)
}

async fn page(
    state: &UiState,
    viewer: &Viewer,
    app: Application,
    endpoint_id: Option<String>,
    draft: Draft,
) -> UiResult<FormPage> {
    let title = if endpoint_id.is_some() { "Edit endpoint" } else { "Add endpoint" };
    Ok(FormPage {
        chrome: Chrome::new(viewer, title).in_app(&app, "endpoints"),
        app,
        endpoint_id,
        draft,
        groups: catalogue(state).await?,
        profiles: PROFILES,
        error: None,
        preview: None,
    })
}

async fn new_form(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(key): Path<String>,
) -> UiResult<Response> {
    let app = app_for(&state, &viewer, &key).await?;
    let draft = Draft::of(&endpoints::blank(&app.id));
    render(&page(&state, &viewer, app, None, draft).await?)
}

async fn edit_form(
    State(state): State<UiState>,
    viewer: Viewer,
    Path((key, ep_key)): Path<(String, String)>,
) -> UiResult<Response> {
    let (app, ep) = endpoint_for(&state, &viewer, &key, &ep_key).await?;
    let draft = Draft::of(&ep);
    render(&page(&state, &viewer, app, Some(ep.id), draft).await?)
}

async fn create(
    State(state): State<UiState>,
    Path(key): Path<String>,
    form: Submitted,
) -> UiResult<Response> {
    let app = app_for(&state, &form.viewer, &key).await?;
    submit(&state, form, app, None).await
}

async fn save(
    State(state): State<UiState>,
    Path((key, ep_key)): Path<(String, String)>,
    form: Submitted,
) -> UiResult<Response> {
    let (app, ep) = endpoint_for(&state, &form.viewer, &key, &ep_key).await?;
    submit(&state, form, app, Some(ep)).await
}

/// Saves the form, or (its `Preview` button) renders the template without saving.
async fn submit(
    state: &UiState,
    form: Submitted,
    app: Application,
    current: Option<Endpoint>,
) -> UiResult<Response> {
    let draft = Draft::from_form(&form.fields);
    let base = current.clone().unwrap_or_else(|| endpoints::blank(&app.id));
    let spec = draft.spec(EndpointSpec::of(&base), &base);
    let preview = form.fields.get("action") == "preview";
    let editing = current.as_ref().map(|ep| ep.id.clone());
    let result = match (spec, preview) {
        (Err(e), _) => Err(e),
        (Ok(spec), true) => spec.apply(base.clone(), &app, current.is_none()).map(|ep| (ep, false)),
        (Ok(spec), false) => match current {
            Some(ep) => {
                endpoints::update(state.store.as_ref(), &state.events, &app, ep, spec).await
            }
            None => endpoints::create(state.store.as_ref(), &state.events, &app, spec).await,
        }
        .map(|ep| (ep, true)),
    };
    let mut shown = page(state, &form.viewer, app, editing, draft).await?;
    match result {
        Ok((ep, true)) => back(format!("/apps/{}/endpoints/{}?done=saved", ep.app_id, ep.id)),
        Ok((ep, false)) => {
            shown.preview = Some(render_preview(state, &ep, &shown.draft.preview_type).await);
            render(&shown)
        }
        Err(error) => {
            let error = ApiError::from(error);
            let status = error.code.status();
            shown.error = Some(error);
            super::render_refused(&shown, status)
        }
    }
}

/// The body `ep` would receive for an example event of `event_type`.
async fn render_preview(
    state: &UiState,
    ep: &Endpoint,
    event_type: &str,
) -> Result<String, String> {
    let event_type = if event_type.is_empty() { "hookd.test" } else { event_type };
    let payload = deliveries::example_payload(state.store.as_ref(), event_type).await;
    let message = deliveries::unstored_message(ep, event_type.to_owned(), payload.get().to_owned());
    let rendered = deliveries::preview(&state.ingest, ep, &message, now_ms())?;
    Ok(String::from_utf8_lossy(&rendered.body).into_owned())
}
