//! How the management commands reach a running hookd: its API over HTTP, with the admin
//! token, and what each kind of failure means as an exit code.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::config::Layers;

/// Why a command failed, as the process's exit code: scripts can tell a typo from an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Anything else (hookd answered 5xx, bad input to the command).
    Failed = 1,
    /// hookd could not be reached.
    Unreachable = 3,
    /// The token was refused (401, 403).
    Unauthorized = 4,
    /// No such application, endpoint, message or event type (404).
    NotFound = 5,
    /// hookd refused the request (400, 409, 413, 422): the message says why.
    Rejected = 6,
    /// `hookd verify`: the request is not a valid delivery.
    Invalid = 7,
}

/// A failed command: its exit code and what to tell the user.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self { exit, message: message.into() }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self::new(Exit::Failed, message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Self::new(Exit::Failed, message)
    }
}

pub type CliResult<T = ()> = Result<T, Failure>;

/// Where hookd is and how to sign in, shared by every management command.
#[derive(clap::Args, Clone)]
pub struct RemoteArgs {
    /// hookd's address [env: HOOKD_URL] [default: http://<listen from the configuration>].
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// Print JSON (hookd's own answers) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// A signed-in client of one hookd.
pub struct Remote {
    base: String,
    token: String,
    http: Client<HttpConnector, Full<Bytes>>,
    pub json: bool,
}

impl Remote {
    /// The URL from `--url`, `HOOKD_URL` or the configured listen address; the token from
    /// `HOOKD_TOKEN`, `HOOKD_ADMIN_TOKEN`, or the token file in the configured data dir.
    pub fn connect(args: &RemoteArgs) -> CliResult<Self> {
        let env = |var: &str| std::env::var(var).ok().filter(|v| !v.is_empty());
        let mut layers = Layers::new();
        layers.add_env(|var| std::env::var(var).ok());
        let config = layers.resolve()?;
        let base = args.url.clone().or_else(|| env("HOOKD_URL"));
        let base = base.unwrap_or_else(|| format!("http://{}", config.listen));
        let token_file = config.data_dir.join("admin-token");
        let token = env("HOOKD_TOKEN")
            .or(config.admin_token)
            .or_else(|| std::fs::read_to_string(&token_file).ok().map(|t| t.trim().to_owned()))
            .ok_or_else(|| {
                Failure::new(
                    Exit::Unauthorized,
                    format!("no token: set HOOKD_TOKEN, or run where {} is", token_file.display()),
                )
            })?;
        let http = Client::builder(TokioExecutor::new()).build_http();
        let base = base.trim_end_matches('/').to_owned();
        Ok(Self { base, token, http, json: args.json })
    }

    pub async fn get(&self, path: &str) -> CliResult<Value> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> CliResult<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> CliResult<Value> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> CliResult<Value> {
        self.call(Method::DELETE, path, None).await
    }

    /// One API call; the answer's JSON (`Null` when empty), or the failure in words.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> CliResult<Value> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = request.body(Full::new(Bytes::from(body))).map_err(|e| e.to_string())?;
        let response = self.http.request(request).await.map_err(|e| {
            Failure::new(Exit::Unreachable, format!("cannot reach hookd at {}: {e}", self.base))
        })?;
        let status = response.status();
        let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        let value = match bytes.is_empty() {
            true => Value::Null,
            false => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        };
        if status.is_success() { Ok(value) } else { Err(failure(status, &value)) }
    }

    /// Every item of a list, following its iterator, up to `limit` items.
    pub async fn list(&self, path: &str, limit: usize) -> CliResult<Vec<Value>> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut iterator: Option<String> = None;
        while items.len() < limit {
            let page = (limit - items.len()).min(250);
            let mut url = format!("{path}{sep}limit={page}");
            if let Some(it) = &iterator {
                url.push_str(&format!("&iterator={it}"));
            }
            let answer = self.get(&url).await?;
            items.extend(answer["data"].as_array().cloned().unwrap_or_default());
            iterator = answer["iterator"].as_str().map(str::to_owned);
            if answer["done"].as_bool().unwrap_or(true) || iterator.is_none() {
                break;
            }
        }
        Ok(items)
    }
}

/// hookd's JSON error as words and an exit code.
fn failure(status: StatusCode, body: &Value) -> Failure {
    let detail = match &body["detail"] {
        Value::String(text) => text.clone(),
        // A 422's detail is a list of {loc, msg}: name each field.
        Value::Array(items) => items
            .iter()
            .map(|i| {
                let field = i["loc"].as_array().and_then(|l| l.last()).and_then(Value::as_str);
                let msg = i["msg"].as_str().unwrap_or("invalid");
                field.map_or_else(|| msg.to_owned(), |f| format!("{f}: {msg}"))
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let exit = match status.as_u16() {
        401 | 403 => Exit::Unauthorized,
        404 => Exit::NotFound,
        400 | 408 | 409 | 413 | 422 => Exit::Rejected,
        _ => Exit::Failed,
    };
    Failure::new(exit, format!("{} ({})", detail, status.as_u16()))
}

/// The path segment for a user-given id or uid.
pub fn seg(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
