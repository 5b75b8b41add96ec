//! `hookd send`, `messages`, `attempts`, `resend`, `recover` and `tail`: sending events and
//! following what became of them, over the API.

use std::collections::HashMap;
use std::io::Read;
use std::time::Duration;

use serde_json::{Value, json};

use super::client::{CliResult, Exit, Failure, Remote, seg};
use super::output::{self, Column, col};
use super::resources::done;
use crate::model::time::{format_rfc3339, now_ms};

const MESSAGE_COLUMNS: &[Column] = &[
    col("ID", "id"),
    col("EVENT TYPE", "eventType"),
    col("EVENT ID", "eventId"),
    col("TIMESTAMP", "timestamp"),
];
const ATTEMPT_COLUMNS: &[Column] = &[
    col("TIMESTAMP", "timestamp"),
    col("MESSAGE", "msgId"),
    col("ENDPOINT", "endpointId"),
    col("STATUS", "statusText"),
    col("CODE", "responseStatusCode"),
    col("MS", "responseDurationMs"),
];

#[derive(clap::Args)]
pub struct SendArgs {
    app: String,
    event_type: String,
    /// The payload, a JSON object; `-` reads it from standard input [default: {}].
    payload: Option<String>,
    /// Your id for the message: a second message with it is refused.
    #[arg(long)]
    event_id: Option<String>,
    /// A channel (repeat for more).
    #[arg(long = "channel")]
    channels: Vec<String>,
}

#[derive(clap::Args)]
pub struct AttemptsArgs {
    app: String,
    /// The attempts of this message (id or eventId).
    #[arg(long, required_unless_present = "endpoint", conflicts_with = "endpoint")]
    msg: Option<String>,
    /// The attempts made to this endpoint (id or uid).
    #[arg(long)]
    endpoint: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

pub async fn send(remote: &Remote, args: SendArgs) -> CliResult {
    let text = match args.payload.as_deref() {
        None => "{}".to_owned(),
        Some("-") => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| e.to_string())?;
            text
        }
        Some(text) => text.to_owned(),
    };
    let payload: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::new(Exit::Rejected, format!("the payload is not JSON: {e}")))?;
    let mut body = json!({"eventType": args.event_type, "payload": payload});
    if let Some(event_id) = args.event_id {
        body["eventId"] = json!(event_id);
    }
    if !args.channels.is_empty() {
        body["channels"] = json!(args.channels);
    }
    let msg = remote.post(&format!("/api/v1/app/{}/msg", seg(&args.app)), body).await?;
    output::one(remote.json, &msg, MESSAGE_COLUMNS);
    Ok(())
}

pub async fn messages(remote: &Remote, app: &str, limit: usize) -> CliResult {
    let items = remote.list(&format!("/api/v1/app/{}/msg", seg(app)), limit).await?;
    output::list(remote.json, &items, MESSAGE_COLUMNS);
    Ok(())
}

pub async fn attempts(remote: &Remote, args: AttemptsArgs) -> CliResult {
    let path = match (&args.msg, &args.endpoint) {
        (Some(msg), _) => format!("/api/v1/app/{}/attempt/msg/{}", seg(&args.app), seg(msg)),
        (_, Some(ep)) => format!("/api/v1/app/{}/attempt/endpoint/{}", seg(&args.app), seg(ep)),
        _ => return Err("name --msg or --endpoint".into()),
    };
    let mut items = remote.list(&path, args.limit).await?;
    items.iter_mut().for_each(with_status_text);
    output::list(remote.json, &items, ATTEMPT_COLUMNS);
    Ok(())
}

pub async fn resend(remote: &Remote, app: &str, msg: &str, endpoint: &str) -> CliResult {
    let path =
        format!("/api/v1/app/{}/msg/{}/endpoint/{}/resend", seg(app), seg(msg), seg(endpoint));
    remote.post(&path, json!({})).await?;
    done(remote, &format!("{msg} will be sent to {endpoint} again now"));
    Ok(())
}

pub async fn recover(
    remote: &Remote,
    app: &str,
    endpoint: &str,
    since: Option<String>,
) -> CliResult {
    let since = since.unwrap_or_else(|| format_rfc3339(now_ms() - 24 * 3_600_000));
    let path = format!("/api/v1/app/{}/endpoint/{}/recover", seg(app), seg(endpoint));
    let task = remote.post(&path, json!({"since": since})).await?;
    let id = task["id"].as_str().unwrap_or("?");
    let what = format!("the failed deliveries to {endpoint} since {since} are being queued again");
    done(remote, &format!("{what} (background task {id})"));
    Ok(())
}

/// Prints every new attempt of the application's endpoints as it is made, until Ctrl-C:
/// polls each endpoint's attempt list (newest first) for ids above the last one seen.
pub async fn tail(remote: &Remote, app: &str, every: Duration) -> CliResult {
    let endpoints_path = format!("/api/v1/app/{}/endpoint", seg(app));
    let mut last_seen: HashMap<String, String> = HashMap::new();
    let mut first_round = true;
    loop {
        for ep in remote.list(&endpoints_path, 250).await? {
            let id = ep["id"].as_str().unwrap_or_default().to_owned();
            let path = format!("/api/v1/app/{}/attempt/endpoint/{}", seg(app), seg(&id));
            let seen = last_seen.get(&id).cloned();
            let newest = newest_attempts(remote, &path, seen.as_deref(), first_round).await?;
            // Ids sort by time: what is above the last id seen is new; oldest printed first.
            let fresh: Vec<&Value> = newest
                .iter()
                .take_while(|a| seen.as_deref().is_none_or(|s| a["id"].as_str() > Some(s)))
                .collect();
            if let Some(top) = newest.first().and_then(|a| a["id"].as_str()) {
                last_seen.insert(id, top.to_owned());
            }
            if !first_round || seen.is_some() {
                fresh.into_iter().rev().for_each(|attempt| print_attempt(remote, attempt));
            }
        }
        first_round = false;
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// An endpoint's newest attempts, back to the last one seen: a small page while little
/// happens, a large one only when the small page is all new. The first look needs just the
/// newest id, as it prints nothing.
async fn newest_attempts(
    remote: &Remote,
    path: &str,
    seen: Option<&str>,
    first_look: bool,
) -> CliResult<Vec<Value>> {
    const SMALL: usize = 10;
    if first_look && seen.is_none() {
        return remote.list(path, 1).await;
    }
    let small = remote.list(path, SMALL).await?;
    let oldest = small.last().and_then(|a| a["id"].as_str());
    let all_new = small.len() == SMALL && oldest.is_some_and(|id| seen.is_none_or(|s| id > s));
    if all_new { remote.list(path, 250).await } else { Ok(small) }
}

/// One line per attempt, in fixed columns (ids and times have fixed lengths).
fn print_attempt(remote: &Remote, attempt: &Value) {
    if remote.json {
        println!("{attempt}");
        return;
    }
    let mut attempt = attempt.clone();
    with_status_text(&mut attempt);
    let cell = |field| output::cell(&attempt, field);
    println!(
        "{}  {}  {}  {:<7}  {:>3}  {} ms",
        cell("timestamp"),
        cell("msgId"),
        cell("endpointId"),
        cell("statusText"),
        cell("responseStatusCode"),
        cell("responseDurationMs")
    );
}

/// Svix's numeric attempt status as a word, for tables.
fn with_status_text(attempt: &mut Value) {
    let text = match attempt["status"].as_i64() {
        Some(0) => "success",
        Some(1) => "pending",
        Some(2) => "failed",
        Some(3) => "sending",
        _ => "-",
    };
    attempt["statusText"] = json!(text);
}
