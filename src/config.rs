//! Configuration: documented defaults embedded in the binary (`config.default.toml`), under an
//! optional TOML file, under `HOOKD_*` environment variables, under command-line flags.
//!
//! Every layer is reduced to the same form (key → text with the place it came from), so each
//! key has exactly one parser and every error names the key, its source and what is wrong.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::security::ssrf::IpNet;

const DEFAULTS: &str = include_str!("../config.default.toml");

/// Every key, with the environment variable that sets it.
const KEYS: &[(&str, &str)] = &[
    ("listen", "HOOKD_LISTEN"),
    ("data_dir", "HOOKD_DATA_DIR"),
    ("database_url", "HOOKD_DATABASE_URL"),
    ("admin_token", "HOOKD_ADMIN_TOKEN"),
    ("secret_key", "HOOKD_SECRET_KEY"),
    ("max_body_size", "HOOKD_MAX_BODY_SIZE"),
    ("retention", "HOOKD_RETENTION"),
    ("shutdown_grace", "HOOKD_SHUTDOWN_GRACE"),
    ("delivery.allowed_networks", "HOOKD_ALLOWED_NETWORKS"),
    ("delivery.retry_schedule", "HOOKD_RETRY_SCHEDULE"),
    ("delivery.request_timeout", "HOOKD_REQUEST_TIMEOUT"),
    ("delivery.max_in_flight", "HOOKD_MAX_IN_FLIGHT"),
    ("delivery.endpoint_in_flight", "HOOKD_ENDPOINT_IN_FLIGHT"),
    ("delivery.disable_after", "HOOKD_DISABLE_AFTER"),
    ("delivery.rotation_grace", "HOOKD_ROTATION_GRACE"),
    ("delivery.replay_rate", "HOOKD_REPLAY_RATE"),
    ("server.header_timeout", "HOOKD_HEADER_TIMEOUT"),
    ("server.body_timeout", "HOOKD_BODY_TIMEOUT"),
    ("server.max_connections", "HOOKD_MAX_CONNECTIONS"),
    ("console.frame_ancestors", "HOOKD_FRAME_ANCESTORS"),
    ("metrics.token", "HOOKD_METRICS_TOKEN"),
    ("metrics.public", "HOOKD_METRICS_PUBLIC"),
];

/// Keys whose values are credentials: an error about one never repeats its value.
const SECRET: &[&str] = &["admin_token", "secret_key", "metrics.token"];

/// The validated configuration.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `None`: the embedded SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// `None`: generated on first start and kept in `data_dir`.
    pub admin_token: Option<String>,
    /// The keys that seal endpoint secrets and header values at rest (the first seals, all
    /// open). `None`: one generated on first start and kept in `data_dir`.
    pub secret_key: Option<String>,
    pub max_body_size: usize,
    /// Messages (with their deliveries and attempts) older than this are purged once no
    /// delivery of theirs is pending.
    pub retention: Duration,
    /// On SIGTERM or SIGINT, how long requests and deliveries in flight may take to finish.
    pub shutdown_grace: Duration,
    pub delivery: DeliveryConfig,
    pub server: ServerConfig,
    pub console: ConsoleConfig,
    pub metrics: MetricsConfig,
}

/// Who may read `GET /metrics`.
#[derive(Clone, Default)]
pub struct MetricsConfig {
    /// A token for the scraper besides the admin token (which always works).
    pub token: Option<String>,
    /// No token needed.
    pub public: bool,
}

/// How incoming connections are bounded, so slow or idle clients cannot hold the API.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// A request's headers must arrive within this; also how long an idle connection stays.
    pub header_timeout: Duration,
    /// A request's body must arrive within this, once its headers have.
    pub body_timeout: Duration,
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
}

/// The web console and the application portal.
#[derive(Debug, Clone, Default)]
pub struct ConsoleConfig {
    /// Origins whose pages may frame the portal (an application embedding it); none by
    /// default, so no page can frame the console.
    pub frame_ancestors: Vec<String>,
}

/// How deliveries are made.
#[derive(Clone)]
pub struct DeliveryConfig {
    pub allowed_networks: Vec<IpNet>,
    pub retry_schedule: Vec<Duration>,
    pub request_timeout: Duration,
    pub max_in_flight: usize,
    pub endpoint_in_flight: usize,
    pub disable_after: Duration,
    pub rotation_grace: Duration,
    /// Deliveries a background task queues again per second, at most.
    pub replay_rate: usize,
    /// Headers sent with every delivery, beneath each endpoint's own (Strapi's
    /// `webhooks.defaultHeaders`). Only settable in the file, as `[delivery.default_headers]`.
    pub default_headers: Vec<(String, String)>,
}

impl std::fmt::Debug for DeliveryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> =
            self.default_headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("DeliveryConfig")
            .field("allowed_networks", &self.allowed_networks)
            .field("retry_schedule", &self.retry_schedule)
            .field("request_timeout", &self.request_timeout)
            .field("max_in_flight", &self.max_in_flight)
            .field("endpoint_in_flight", &self.endpoint_in_flight)
            .field("disable_after", &self.disable_after)
            .field("rotation_grace", &self.rotation_grace)
            .field("replay_rate", &self.replay_rate)
            .field("default_headers", &header_names) // values may be credentials
            .finish()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<redacted>"))
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<redacted>"))
            .field("max_body_size", &self.max_body_size)
            .field("retention", &self.retention)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("metrics_public", &self.metrics.public)
            .field("delivery", &self.delivery)
            .field("server", &self.server)
            .finish()
    }
}

/// One key's text and where it came from, for error messages.
struct Setting {
    value: String,
    source: String,
}

/// The raw layers before validation. Build with [`Layers::new`], add layers, then [`Layers::resolve`].
pub struct Layers {
    settings: BTreeMap<&'static str, Setting>,
    default_headers: Vec<(String, String)>,
}

impl Layers {
    /// Starts from the embedded defaults.
    pub fn new() -> Self {
        let mut layers = Self { settings: BTreeMap::new(), default_headers: Vec::new() };
        layers.add_toml(DEFAULTS, "the built-in defaults").expect("built-in defaults are valid");
        layers
    }

    /// Adds a TOML document (a `--config` file).
    pub fn add_toml(&mut self, text: &str, origin: &str) -> Result<(), String> {
        let mut doc: toml::Table = text.parse().map_err(|e| format!("{origin}: {e}"))?;
        self.take_default_headers(&mut doc, origin)?;
        for (key, value) in flatten(&doc, "") {
            let Some((name, _)) = KEYS.iter().find(|(k, _)| *k == key) else {
                return Err(format!("{origin}: unknown key `{key}`"));
            };
            let value = toml_text(&value).ok_or_else(|| {
                format!("{origin}: `{key}` must be a string, number, boolean or list of strings")
            })?;
            self.set(name, value, format!("`{key}` in {origin}"));
        }
        Ok(())
    }

    /// `[delivery.default_headers]` is a table of names to values, not one setting.
    fn take_default_headers(&mut self, doc: &mut toml::Table, origin: &str) -> Result<(), String> {
        let Some(toml::Value::Table(delivery)) = doc.get_mut("delivery") else { return Ok(()) };
        let Some(value) = delivery.remove("default_headers") else { return Ok(()) };
        let bad = || {
            format!(
                "{origin}: `delivery.default_headers` must be a table of header names to strings"
            )
        };
        let table = value.as_table().ok_or_else(bad)?;
        let mut headers = Vec::new();
        for (name, value) in table {
            let value = value.as_str().ok_or_else(bad)?;
            let valid = axum::http::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && axum::http::HeaderValue::from_str(value).is_ok();
            if !valid {
                return Err(format!(
                    "{origin}: invalid header {name:?} in `delivery.default_headers`"
                ));
            }
            headers.push((name.clone(), value.to_owned()));
        }
        self.default_headers = headers;
        Ok(())
    }

    /// Adds every `HOOKD_*` variable that `lookup` knows.
    pub fn add_env(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        for (key, var) in KEYS {
            if let Some(value) = lookup(var) {
                self.set(key, value, var.to_string());
            }
        }
    }

    /// Adds a command-line flag's value.
    pub fn add_flag(&mut self, key: &'static str, flag: &str, value: Option<String>) {
        if let Some(value) = value {
            self.set(key, value, flag.to_string());
        }
    }

    fn set(&mut self, key: &'static str, value: String, source: String) {
        self.settings.insert(key, Setting { value, source });
    }

    /// Validates every key into a [`Config`].
    pub fn resolve(&self) -> Result<Config, String> {
        Ok(Config {
            listen: self.parse("listen", |v| v.parse().map_err(|_| "expected HOST:PORT".into()))?,
            data_dir: self.parse("data_dir", |v| non_empty(v).map(PathBuf::from))?,
            database_url: self.parse("database_url", |v| Ok(optional(v)))?,
            admin_token: self.parse("admin_token", parse_token)?,
            secret_key: self.parse("secret_key", parse_keys)?,
            max_body_size: self.parse("max_body_size", parse_positive)?,
            retention: self.parse("retention", parse_duration)?,
            shutdown_grace: self.parse("shutdown_grace", parse_duration)?,
            delivery: DeliveryConfig {
                allowed_networks: self.parse("delivery.allowed_networks", parse_networks)?,
                retry_schedule: self.parse("delivery.retry_schedule", parse_schedule)?,
                request_timeout: self.parse("delivery.request_timeout", parse_duration)?,
                max_in_flight: self.parse("delivery.max_in_flight", parse_positive)?,
                endpoint_in_flight: self.parse("delivery.endpoint_in_flight", parse_positive)?,
                disable_after: self.parse("delivery.disable_after", parse_duration)?,
                rotation_grace: self.parse("delivery.rotation_grace", parse_grace)?,
                replay_rate: self.parse("delivery.replay_rate", parse_positive)?,
                default_headers: self.default_headers.clone(),
            },
            server: ServerConfig {
                header_timeout: self.parse("server.header_timeout", parse_timeout)?,
                body_timeout: self.parse("server.body_timeout", parse_timeout)?,
                max_connections: self.parse("server.max_connections", parse_positive)?,
            },
            console: ConsoleConfig {
                frame_ancestors: self.parse("console.frame_ancestors", parse_origins)?,
            },
            metrics: MetricsConfig {
                token: self.parse("metrics.token", parse_token)?,
                public: self.parse("metrics.public", parse_bool)?,
            },
        })
    }

    fn parse<T>(&self, key: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<T, String> {
        let setting = self.settings.get(key).expect("every key has a built-in default");
        parse(setting.value.trim()).map_err(|why| {
            if SECRET.contains(&key) {
                format!("invalid {}: {why}", setting.source)
            } else {
                format!("invalid {} ({:?}): {why}", setting.source, setting.value)
            }
        })
    }
}

impl Default for Layers {
    fn default() -> Self {
        Self::new()
    }
}

fn flatten(table: &toml::Table, prefix: &str) -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(t) => out.extend(flatten(t, &key)),
            other => out.push((key, other.clone())),
        }
    }
    out
}

fn toml_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join(",")),
        _ => None,
    }
}

fn optional(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_owned())
}

fn non_empty(v: &str) -> Result<&str, String> {
    if v.is_empty() { Err("must not be empty".into()) } else { Ok(v) }
}

/// Checked here so a bad key is refused with its key's name; kept as text, parsed again
/// where the keys are used.
fn parse_keys(v: &str) -> Result<Option<String>, String> {
    let Some(text) = optional(v) else { return Ok(None) };
    crate::security::sealing::Keyring::parse(&text)?;
    Ok(Some(text))
}

fn parse_token(v: &str) -> Result<Option<String>, String> {
    match optional(v) {
        Some(t) if t.len() < 16 => Err("a token needs at least 16 characters".into()),
        other => Ok(other),
    }
}

/// At most 7 days: every rotated-out secret signs each delivery until its grace is over.
fn parse_grace(v: &str) -> Result<Duration, String> {
    match parse_duration(v)? {
        d if d > Duration::from_secs(7 * 86_400) => Err("at most 7d".into()),
        d => Ok(d),
    }
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

fn parse_positive(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a whole number above 0".into()),
    }
}

fn parse_timeout(v: &str) -> Result<Duration, String> {
    match parse_duration(v)? {
        Duration::ZERO => Err("a timeout must be above 0".into()),
        d => Ok(d),
    }
}

fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn parse_networks(v: &str) -> Result<Vec<IpNet>, String> {
    list(v).map(|s| s.parse::<IpNet>().map_err(|e| format!("{s:?}: {e}"))).collect()
}

/// Origins such as `https://app.example` or `https://app.example:8443`: they go into a
/// Content-Security-Policy, so nothing else (no spaces, no `;`) is let through.
fn parse_origins(v: &str) -> Result<Vec<String>, String> {
    list(v)
        .map(|s| {
            let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
            let host_ok = rest.is_some_and(|r| {
                !r.is_empty()
                    && r.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
            });
            if host_ok {
                Ok(s.to_owned())
            } else {
                Err(format!("{s:?} is not an origin like https://app.example"))
            }
        })
        .collect()
}

fn parse_schedule(v: &str) -> Result<Vec<Duration>, String> {
    list(v).map(|s| parse_duration(s).map_err(|e| format!("{s:?}: {e}"))).collect()
}

/// `250ms`, `5s`, `5m`, `2h`, `5d`.
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let n: u64 = digits.parse().map_err(|_| "expected a duration such as 15s, 5m, 2h or 5d")?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err("expected a unit: ms, s, m, h or d".into()),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve() {
        let config = Layers::new().resolve().unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8071");
        assert_eq!(config.delivery.retry_schedule.len(), 7);
        assert_eq!(config.delivery.request_timeout, Duration::from_secs(15));
        assert!(config.database_url.is_none() && config.admin_token.is_none());
    }

    #[test]
    fn later_layers_win_and_errors_name_the_key() {
        let mut layers = Layers::new();
        layers
            .add_toml("listen = \"0.0.0.0:9000\"\n[delivery]\nrequest_timeout = \"3s\"", "f.toml")
            .unwrap();
        layers.add_env(|k| (k == "HOOKD_LISTEN").then(|| "127.0.0.1:9001".into()));
        let config = layers.resolve().unwrap();
        assert_eq!(config.listen.port(), 9001);
        assert_eq!(config.delivery.request_timeout, Duration::from_secs(3));

        layers.add_env(|k| (k == "HOOKD_RETRY_SCHEDULE").then(|| "5s,soon".into()));
        let err = layers.resolve().unwrap_err();
        assert!(err.contains("HOOKD_RETRY_SCHEDULE") && err.contains("soon"), "{err}");
        assert!(Layers::new().add_toml("colour = 1", "f.toml").unwrap_err().contains("colour"));

        let mut layers = Layers::new();
        layers
            .add_toml("[delivery.default_headers]\nAuthorization = \"Bearer A\"", "f.toml")
            .unwrap();
        let headers = layers.resolve().unwrap().delivery.default_headers;
        assert_eq!(headers, [("Authorization".to_owned(), "Bearer A".to_owned())]);
    }

    #[test]
    fn a_bad_secret_key_is_refused_naming_its_variable() {
        let mut layers = Layers::new();
        layers.add_env(|k| (k == "HOOKD_SECRET_KEY").then(|| "c2hvcnQ=".into()));
        let err = layers.resolve().err().unwrap_or_default();
        assert!(err.contains("HOOKD_SECRET_KEY") && err.contains("32 bytes"), "{err}");
        assert!(!err.contains("c2hvcnQ="), "a key is never printed: {err}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5d").unwrap(), Duration::from_secs(432_000));
        assert!(parse_duration("5").is_err() && parse_duration("s").is_err());
    }
}
