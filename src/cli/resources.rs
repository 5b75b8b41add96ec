//! `hookd app …`, `hookd endpoint …`, `hookd event-type …`: managing what hookd delivers to,
//! over the API.

use clap::Subcommand;
use serde_json::{Map, Value, json};

use super::client::{CliResult, Exit, Failure, Remote, seg};
use super::output::{self, Column, col};

const APP_COLUMNS: &[Column] =
    &[col("ID", "id"), col("UID", "uid"), col("NAME", "name"), col("CREATED", "createdAt")];
const ENDPOINT_COLUMNS: &[Column] = &[
    col("ID", "id"),
    col("UID", "uid"),
    col("URL", "url"),
    col("EVENT TYPES", "filterTypes"),
    col("PROFILE", "profile"),
    col("DISABLED", "disabled"),
];
const EVENT_TYPE_COLUMNS: &[Column] =
    &[col("NAME", "name"), col("DESCRIPTION", "description"), col("ARCHIVED", "archived")];

#[derive(Subcommand)]
pub enum AppCommand {
    /// List applications.
    List {
        #[arg(long, default_value_t = 250)]
        limit: usize,
    },
    /// Create an application.
    Create {
        name: String,
        /// Your own id for it, usable wherever an application id is.
        #[arg(long)]
        uid: Option<String>,
    },
    /// Delete an application with its endpoints, messages and attempts.
    Delete { app: String },
}

#[derive(Subcommand)]
pub enum EndpointCommand {
    /// List an application's endpoints.
    List { app: String },
    /// Add an endpoint.
    Add {
        app: String,
        /// Where to deliver.
        #[arg(value_name = "URL")]
        target: String,
        #[command(flatten)]
        fields: EndpointFields,
    },
    /// Change an endpoint's URL, event types, description or profile.
    Update {
        app: String,
        endpoint: String,
        /// A new URL to deliver to (`--url` is hookd's own address).
        #[arg(long, value_name = "URL")]
        endpoint_url: Option<String>,
        #[command(flatten)]
        fields: EndpointFields,
    },
    /// Enable a disabled endpoint.
    Enable { app: String, endpoint: String },
    /// Disable an endpoint: nothing is sent to it until it is enabled.
    Disable { app: String, endpoint: String },
    /// Delete an endpoint.
    Delete { app: String, endpoint: String },
    /// Send a test event to it now, even if disabled, and print the answer.
    Test {
        app: String,
        endpoint: String,
        #[arg(long)]
        event_type: Option<String>,
    },
}

/// The endpoint fields `add` and `update` take.
#[derive(clap::Args)]
pub struct EndpointFields {
    /// An event type it receives (repeat for more; none: every type).
    #[arg(long = "event-type", value_name = "TYPE")]
    event_types: Vec<String>,
    #[arg(long)]
    description: Option<String>,
    /// standard, misskey, mastodon or strapi.
    #[arg(long)]
    profile: Option<String>,
    #[arg(long)]
    uid: Option<String>,
    /// The signing secret (`whsec_…`, or `whsk_` for a new ed25519 key signed `v1a`)
    /// [default: a new `whsec_` secret].
    #[arg(long)]
    secret: Option<String>,
    /// A payload filter, as JSON (see docs/api.md, "Payload filters").
    #[arg(long, value_name = "JSON")]
    filter: Option<String>,
}

impl EndpointFields {
    fn into_json(self, mut body: Map<String, Value>) -> CliResult<Value> {
        if let Some(text) = &self.filter {
            let filter: Value = serde_json::from_str(text)
                .map_err(|e| Failure::new(Exit::Rejected, format!("--filter is not JSON: {e}")))?;
            body.insert("filter".into(), filter);
        }
        if !self.event_types.is_empty() {
            body.insert("filterTypes".into(), json!(self.event_types));
        }
        let optional = [
            ("description", self.description),
            ("profile", self.profile),
            ("uid", self.uid),
            ("secret", self.secret),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                body.insert(key.into(), json!(value));
            }
        }
        Ok(Value::Object(body))
    }
}

#[derive(Subcommand)]
pub enum EventTypeCommand {
    /// List the event-type catalogue.
    List,
    /// Add an event type.
    Add {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Add a shipped catalogue: misskey, mastodon or strapi.
    Import { catalogue: String },
}

pub async fn app(remote: &Remote, command: AppCommand) -> CliResult {
    match command {
        AppCommand::List { limit } => {
            output::list(remote.json, &remote.list("/api/v1/app", limit).await?, APP_COLUMNS)
        }
        AppCommand::Create { name, uid } => {
            let app = remote.post("/api/v1/app", json!({"name": name, "uid": uid})).await?;
            output::one(remote.json, &app, APP_COLUMNS);
        }
        AppCommand::Delete { app } => {
            remote.delete(&format!("/api/v1/app/{}", seg(&app))).await?;
            done(remote, &format!("deleted application {app}"));
        }
    }
    Ok(())
}

pub async fn endpoint(remote: &Remote, command: EndpointCommand) -> CliResult {
    let path = |app: &str, ep: &str| format!("/api/v1/app/{}/endpoint/{}", seg(app), seg(ep));
    match command {
        EndpointCommand::List { app } => {
            let items = remote.list(&format!("/api/v1/app/{}/endpoint", seg(&app)), 250).await?;
            output::list(remote.json, &items, ENDPOINT_COLUMNS);
        }
        EndpointCommand::Add { app, target, fields } => {
            let body = fields.into_json(Map::from_iter([("url".into(), json!(target))]))?;
            let ep = remote.post(&format!("/api/v1/app/{}/endpoint", seg(&app)), body).await?;
            output::one(remote.json, &ep, ENDPOINT_COLUMNS);
        }
        EndpointCommand::Update { app, endpoint, endpoint_url, fields } => {
            let mut body = Map::new();
            if let Some(url) = endpoint_url {
                body.insert("url".into(), json!(url));
            }
            let ep = remote.patch(&path(&app, &endpoint), fields.into_json(body)?).await?;
            output::one(remote.json, &ep, ENDPOINT_COLUMNS);
        }
        EndpointCommand::Enable { app, endpoint } => {
            set_disabled(remote, &path(&app, &endpoint), false).await?
        }
        EndpointCommand::Disable { app, endpoint } => {
            set_disabled(remote, &path(&app, &endpoint), true).await?
        }
        EndpointCommand::Delete { app, endpoint } => {
            remote.delete(&path(&app, &endpoint)).await?;
            done(remote, &format!("deleted endpoint {endpoint}"));
        }
        EndpointCommand::Test { app, endpoint, event_type } => {
            let body = json!({"eventType": event_type});
            let answer = remote.post(&format!("{}/test", path(&app, &endpoint)), body).await?;
            test_answer(remote, &answer)?;
        }
    }
    Ok(())
}

async fn set_disabled(remote: &Remote, path: &str, disabled: bool) -> CliResult {
    let ep = remote.patch(path, json!({"disabled": disabled})).await?;
    output::one(remote.json, &ep, ENDPOINT_COLUMNS);
    Ok(())
}

/// A test send's answer; a receiver that did not answer 2xx fails the command.
fn test_answer(remote: &Remote, answer: &Value) -> CliResult {
    if remote.json {
        println!("{answer}");
    }
    let status = answer["data"]["statusCode"].as_u64();
    let message = answer["data"]["message"].as_str().unwrap_or("");
    match status {
        Some(s @ 200..=299) => {
            if !remote.json {
                println!("the receiver answered {s}");
            }
            Ok(())
        }
        Some(s) => Err(format!("the receiver answered {s}: {message}").into()),
        None => Err(format!("no answer from the receiver: {message}").into()),
    }
}

pub async fn event_type(remote: &Remote, command: EventTypeCommand) -> CliResult {
    match command {
        EventTypeCommand::List => {
            let items = remote.list("/api/v1/event-type", 10_000).await?;
            output::list(remote.json, &items, EVENT_TYPE_COLUMNS);
        }
        EventTypeCommand::Add { name, description } => {
            let body = json!({"name": name, "description": description});
            let added = remote.post("/api/v1/event-type", body).await?;
            output::one(remote.json, &added, EVENT_TYPE_COLUMNS);
        }
        EventTypeCommand::Import { catalogue } => {
            let path = format!("/api/v1/event-type/import/{}", seg(&catalogue));
            let list = remote.post(&path, json!({})).await?;
            let count = list["data"].as_array().map_or(0, Vec::len);
            done(remote, &format!("{catalogue}: {count} event types are in the catalogue"));
        }
    }
    Ok(())
}

/// The confirmation of a command that answers nothing: words, or `{}` for scripts.
pub fn done(remote: &Remote, words: &str) {
    if remote.json { println!("{{}}") } else { println!("{words}") }
}
