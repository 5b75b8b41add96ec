//! `hookd replay`, `hookd tasks` and `hookd cancel`: bulk replay and the background tasks
//! that carry it out (and recoveries), over the API.

use serde_json::{Value, json};

use super::client::{CliResult, Remote, seg};
use super::output::{self, Column, col};

const TASK_COLUMNS: &[Column] = &[
    col("ID", "id"),
    col("TASK", "task"),
    col("STATUS", "status"),
    col("QUEUED", "data/messagesSent"),
    col("ERROR", "data/error"),
    col("UPDATED", "updatedAt"),
];

#[derive(clap::Args)]
pub struct ReplayArgs {
    app: String,
    /// Only deliveries to this endpoint (id or uid).
    #[arg(long)]
    endpoint: Option<String>,
    /// Only messages of this event type (repeat for more).
    #[arg(long = "event-type")]
    event_types: Vec<String>,
    /// Deliveries that succeeded too, not only those that failed.
    #[arg(long)]
    all: bool,
    /// Messages created at or after this time (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Messages created before this time (RFC 3339).
    #[arg(long)]
    until: Option<String>,
    /// Only count what would be sent again.
    #[arg(long)]
    dry_run: bool,
}

pub async fn replay(remote: &Remote, args: ReplayArgs) -> CliResult {
    let mut body = json!({
        "status": if args.all { "all" } else { "failed" },
        "dryRun": args.dry_run,
    });
    let fields = [("endpointId", args.endpoint), ("since", args.since), ("until", args.until)];
    for (name, value) in fields {
        if let Some(value) = value {
            body[name] = Value::String(value);
        }
    }
    if !args.event_types.is_empty() {
        body["eventTypes"] = json!(args.event_types);
    }
    let answer = remote.post(&format!("/api/v1/app/{}/replay", seg(&args.app)), body).await?;
    if args.dry_run {
        match remote.json {
            true => println!("{answer}"),
            false => println!("{} deliveries would be sent again", answer["count"]),
        }
        return Ok(());
    }
    output::one(remote.json, &answer, TASK_COLUMNS);
    Ok(())
}

pub async fn list(remote: &Remote, status: Option<String>, limit: usize) -> CliResult {
    let path = match status {
        Some(status) => format!("/api/v1/background-task?status={}", seg(&status)),
        None => "/api/v1/background-task".to_owned(),
    };
    let items = remote.list(&path, limit).await?;
    output::list(remote.json, &items, TASK_COLUMNS);
    Ok(())
}

pub async fn cancel(remote: &Remote, task: &str) -> CliResult {
    let path = format!("/api/v1/background-task/{}/cancel", seg(task));
    let answer = remote.post(&path, json!({})).await?;
    output::one(remote.json, &answer, TASK_COLUMNS);
    Ok(())
}
