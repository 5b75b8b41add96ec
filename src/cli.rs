//! The command line: `hookd serve` and its flags, which form the top configuration layer.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::config::{Config, Layers};
use crate::logs::LogFormat;

#[derive(Parser)]
#[command(name = "hookd", version, about = "Self-hosted webhook delivery service")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How log lines are written (on standard error) [env: HOOKD_LOG_FORMAT] [default: text].
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormat>,
}

impl Cli {
    /// The flag, else `HOOKD_LOG_FORMAT`, else text.
    pub fn log_format(&self) -> Result<LogFormat, String> {
        match self.log_format {
            Some(format) => Ok(format),
            None => Ok(LogFormat::from_env()?.unwrap_or(LogFormat::Text)),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the API and the dispatcher.
    Serve(ServeArgs),
    /// Measure throughput, latency and memory against a fresh hookd (see docs/benchmarks.md).
    Bench(crate::bench::BenchArgs),
    /// Import a shipped event-type catalogue (misskey, mastodon, strapi) into a running hookd.
    ImportEventTypes {
        /// misskey, mastodon or strapi.
        catalogue: String,
        /// hookd's address.
        #[arg(long, default_value = "http://127.0.0.1:8071")]
        url: String,
        /// The admin token [default: $HOOKD_ADMIN_TOKEN, else ./hookd-data/admin-token].
        #[arg(long)]
        token: Option<String>,
    },
    /// The benchmark's baseline: a bare relay that signs and forwards, storing nothing.
    #[command(hide = true)]
    Relay {
        #[arg(long)]
        listen: String,
        /// Comma-separated URLs every message is forwarded to.
        #[arg(long)]
        target: String,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// A TOML configuration file (see config.default.toml for every key).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [env: HOOKD_LISTEN] [default: 127.0.0.1:8071].
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Directory for the database and admin token [env: HOOKD_DATA_DIR] [default: ./hookd-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<String>,
    /// Database URL [env: HOOKD_DATABASE_URL] [default: SQLite in the data dir].
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

impl ServeArgs {
    fn config(self) -> Result<Config, String> {
        let mut layers = Layers::new();
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read --config {}: {e}", path.display()))?;
            layers.add_toml(&text, &path.display().to_string())?;
        }
        layers.add_env(|var| std::env::var(var).ok());
        layers.add_flag("listen", "--listen", self.listen);
        layers.add_flag("data_dir", "--data-dir", self.data_dir);
        layers.add_flag("database_url", "--database", self.database);
        layers.resolve()
    }
}

/// Runs the parsed command line to completion.
pub async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(args) => serve(args.config()?).await,
        Command::Bench(args) => crate::bench::run(args).await,
        Command::ImportEventTypes { catalogue, url, token } => {
            import_event_types(&catalogue, &url, token).await
        }
        Command::Relay { listen, target } => {
            crate::bench::relay::run(&listen, target.split(',').map(str::to_owned).collect()).await
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let app = App::build(config.clone()).await?;
    tracing::info!(listen = %config.listen, port = app.port(), "hookd is serving");
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    app.run(shutdown).await?;
    tracing::info!("hookd stopped");
    Ok(())
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return shutdown.cancel(),
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}

/// One API call: `POST /api/v1/event-type/import/{catalogue}`.
async fn import_event_types(
    catalogue: &str,
    url: &str,
    token: Option<String>,
) -> Result<(), String> {
    use http_body_util::BodyExt;
    let token = token
        .or_else(|| std::env::var("HOOKD_ADMIN_TOKEN").ok())
        .or_else(|| {
            std::fs::read_to_string("hookd-data/admin-token").ok().map(|t| t.trim().to_owned())
        })
        .ok_or("no admin token: pass --token or set HOOKD_ADMIN_TOKEN")?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let request = hyper::Request::post(format!(
        "{}/api/v1/event-type/import/{catalogue}",
        url.trim_end_matches('/')
    ))
    .header("authorization", format!("Bearer {token}"))
    .body(http_body_util::Full::new(bytes::Bytes::new()))
    .map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    if !status.is_success() {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    let list: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    let count = list["data"].as_array().map_or(0, Vec::len);
    println!("{catalogue}: {count} event types are in the catalogue");
    Ok(())
}
