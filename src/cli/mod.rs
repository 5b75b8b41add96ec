//! The command line: `hookd serve` and its flags, which form the top configuration layer;
//! the management commands, which talk to a running hookd over its API (`client.rs`); and
//! `hookd verify` for receivers.

mod client;
mod messages;
mod output;
mod resources;
mod tasks;
mod verify;

pub use client::{CliResult, Exit, Failure};

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use self::client::{Remote, RemoteArgs};
use self::resources::{AppCommand, EndpointCommand, EventTypeCommand};
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
    /// Applications: list, create, delete.
    App {
        #[command(subcommand)]
        command: AppCommand,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Endpoints: list, add, update, enable, disable, delete, test.
    Endpoint {
        #[command(subcommand)]
        command: EndpointCommand,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// The event-type catalogue: list, add, import.
    EventType {
        #[command(subcommand)]
        command: EventTypeCommand,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Send a message: `hookd send APP EVENT_TYPE '{"id": 1}'` (or `-` to read stdin).
    Send {
        #[command(flatten)]
        args: messages::SendArgs,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// An application's messages, newest first.
    Messages {
        app: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// The attempts of a message (`--msg`) or made to an endpoint (`--endpoint`), newest first.
    Attempts {
        #[command(flatten)]
        args: messages::AttemptsArgs,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Send a message to an endpoint again, now.
    Resend {
        app: String,
        msg: String,
        endpoint: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Queue an endpoint's failed deliveries again.
    Recover {
        app: String,
        endpoint: String,
        /// Failed since this time (RFC 3339) [default: a day ago].
        #[arg(long)]
        since: Option<String>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Send an application's failed (or all) deliveries again, in a background task.
    Replay {
        #[command(flatten)]
        args: tasks::ReplayArgs,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// List background tasks (replays and recoveries) and their progress.
    Tasks {
        /// Only tasks in this status: running, finished or failed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Stop a running background task.
    Cancel {
        task: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Print an application's attempts as they happen, until Ctrl-C.
    Tail {
        app: String,
        /// How often to look, in milliseconds.
        #[arg(long, default_value_t = 500)]
        every_ms: u64,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// For receivers: is this request a valid Standard Webhooks, Mastodon or Misskey delivery?
    Verify(verify::VerifyArgs),
    /// Measure throughput, latency and memory against a fresh hookd (see docs/benchmarks.md).
    Bench(crate::bench::BenchArgs),
    /// The old name of `hookd event-type import`.
    #[command(hide = true)]
    ImportEventTypes {
        catalogue: String,
        #[command(flatten)]
        remote: RemoteArgs,
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
pub async fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Serve(args) => Ok(serve(args.config()?).await?),
        Command::App { command, remote } => {
            resources::app(&Remote::connect(&remote)?, command).await
        }
        Command::Endpoint { command, remote } => {
            resources::endpoint(&Remote::connect(&remote)?, command).await
        }
        Command::EventType { command, remote } => {
            resources::event_type(&Remote::connect(&remote)?, command).await
        }
        Command::ImportEventTypes { catalogue, remote } => {
            let command = EventTypeCommand::Import { catalogue };
            resources::event_type(&Remote::connect(&remote)?, command).await
        }
        Command::Send { args, remote } => messages::send(&Remote::connect(&remote)?, args).await,
        Command::Messages { app, limit, remote } => {
            messages::messages(&Remote::connect(&remote)?, &app, limit).await
        }
        Command::Attempts { args, remote } => {
            messages::attempts(&Remote::connect(&remote)?, args).await
        }
        Command::Resend { app, msg, endpoint, remote } => {
            messages::resend(&Remote::connect(&remote)?, &app, &msg, &endpoint).await
        }
        Command::Recover { app, endpoint, since, remote } => {
            messages::recover(&Remote::connect(&remote)?, &app, &endpoint, since).await
        }
        Command::Replay { args, remote } => tasks::replay(&Remote::connect(&remote)?, args).await,
        Command::Tasks { status, limit, remote } => {
            tasks::list(&Remote::connect(&remote)?, status, limit).await
        }
        Command::Cancel { task, remote } => tasks::cancel(&Remote::connect(&remote)?, &task).await,
        Command::Tail { app, every_ms, remote } => {
            let every = std::time::Duration::from_millis(every_ms.max(50));
            messages::tail(&Remote::connect(&remote)?, &app, every).await
        }
        Command::Verify(args) => verify::run(args),
        Command::Bench(args) => Ok(crate::bench::run(args).await?),
        Command::Relay { listen, target } => {
            let targets = target.split(',').map(str::to_owned).collect();
            Ok(crate::bench::relay::run(&listen, targets).await?)
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
