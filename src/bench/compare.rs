//! `hookd bench --compare`: the bare relay, hookd on SQLite and hookd on PostgreSQL, run in
//! turn in one invocation, so the speed targets are checked against figures from the same
//! minutes on the same machine (a shared machine's speed moves by half from hour to hour).

use serde::Serialize;

use super::report::{self, Report};
use super::{Bench, BenchArgs};

/// The targets (docs/benchmarks.md): SQLite delivers at least half the relay's rate, and
/// PostgreSQL at least half SQLite's and 5 000 messages a second.
const SQLITE_TO_RELAY: f64 = 0.5;
const POSTGRES_TO_SQLITE: f64 = 0.5;
const POSTGRES_RATE: f64 = 5_000.0;

#[derive(Serialize)]
struct Comparison {
    runs: Vec<Report>,
    /// Per round, SQLite's delivery rate over the relay's, and PostgreSQL's over SQLite's.
    sqlite_to_relay: Vec<f64>,
    postgres_to_sqlite: Vec<f64>,
    median_sqlite_to_relay: f64,
    median_postgres_to_sqlite: f64,
    median_postgres_per_s: f64,
}

pub(super) async fn run(bench: &Bench) -> Result<(), String> {
    let url = postgres_url(&bench.args)?;
    let mut runs = Vec::new();
    for _ in 0..bench.args.rounds.max(1) {
        runs.push(bench.relay().await?);
        runs.push(bench.hookd("sqlite", None, 1).await?);
        runs.push(bench.hookd("postgres", Some(&url), bench.args.nodes).await?);
    }
    let rate = |r: &Report| r.delivered_per_s;
    let rounds: Vec<&[Report]> = runs.chunks(3).collect();
    let sqlite_to_relay: Vec<f64> = rounds.iter().map(|r| rate(&r[1]) / rate(&r[0])).collect();
    let postgres_to_sqlite: Vec<f64> = rounds.iter().map(|r| rate(&r[2]) / rate(&r[1])).collect();
    let postgres: Vec<f64> = rounds.iter().map(|r| rate(&r[2])).collect();
    let comparison = Comparison {
        median_sqlite_to_relay: median(&sqlite_to_relay),
        median_postgres_to_sqlite: median(&postgres_to_sqlite),
        median_postgres_per_s: median(&postgres),
        sqlite_to_relay,
        postgres_to_sqlite,
        runs,
    };
    if bench.args.json {
        println!("{}", serde_json::to_string_pretty(&comparison).map_err(|e| e.to_string())?);
    } else {
        print(&comparison);
    }
    Ok(())
}

fn postgres_url(args: &BenchArgs) -> Result<String, String> {
    args.database
        .clone()
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .filter(|url| url.starts_with("postgres"))
        .ok_or_else(|| {
            "--compare needs PostgreSQL: pass --database postgres://… or set DATABASE_URL".into()
        })
}

fn print(c: &Comparison) {
    report::print_table(&c.runs);
    println!();
    println!("{:<7} {:>14} {:>17}", "round", "sqlite÷relay", "postgres÷sqlite");
    for (i, (s, p)) in c.sqlite_to_relay.iter().zip(&c.postgres_to_sqlite).enumerate() {
        println!("{:<7} {:>13.2}× {:>16.2}×", i + 1, s, p);
    }
    println!(
        "{:<7} {:>13.2}× {:>16.2}×",
        "median", c.median_sqlite_to_relay, c.median_postgres_to_sqlite
    );
    println!();
    let verdict = |met: bool| if met { "met" } else { "not met" };
    let (s, p, rate) =
        (c.median_sqlite_to_relay, c.median_postgres_to_sqlite, c.median_postgres_per_s);
    println!(
        "SQLite ≥ {SQLITE_TO_RELAY:.2}× the relay: {} ({s:.2}×)",
        verdict(s >= SQLITE_TO_RELAY)
    );
    println!(
        "PostgreSQL ≥ {POSTGRES_TO_SQLITE:.2}× SQLite: {} ({p:.2}×)",
        verdict(p >= POSTGRES_TO_SQLITE)
    );
    println!(
        "PostgreSQL ≥ {POSTGRES_RATE:.0} deliveries/s: {} ({rate:.0}/s)",
        verdict(rate >= POSTGRES_RATE)
    );
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
