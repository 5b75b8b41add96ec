//! Where log lines go and how they look: standard error (standard output is for the CLI's
//! answers, which scripts parse), as text for people or JSON for a log pipeline
//! (`--log-format`, `HOOKD_LOG_FORMAT`), at the level `HOOKD_LOG` names (default `info`).
//! Colours only on a terminal: a log file or a journal must not fill with escape codes.

use std::io::IsTerminal;

/// How each log line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-12-02T06:00:00Z  WARN request{id=…}: delivery attempt failed app=…`
    Text,
    /// One JSON object per line, with the span fields (the request id) included.
    Json,
}

impl LogFormat {
    /// `HOOKD_LOG_FORMAT`, when the flag is not given.
    pub fn from_env() -> Result<Option<Self>, String> {
        match std::env::var("HOOKD_LOG_FORMAT").as_deref() {
            Err(_) | Ok("") => Ok(None),
            Ok("text") => Ok(Some(Self::Text)),
            Ok("json") => Ok(Some(Self::Json)),
            Ok(other) => {
                Err(format!("invalid HOOKD_LOG_FORMAT ({other:?}): expected text or json"))
            }
        }
    }
}

fn level() -> tracing::Level {
    match std::env::var("HOOKD_LOG").as_deref() {
        Ok("error") => tracing::Level::ERROR,
        Ok("warn") => tracing::Level::WARN,
        Ok("debug") => tracing::Level::DEBUG,
        _ => tracing::Level::INFO,
    }
}

/// Installs the process's logger.
pub fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_max_level(level());
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).init(),
    }
}
