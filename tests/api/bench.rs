//! `hookd bench --compare` end to end, small: the relay, hookd on SQLite and hookd on
//! PostgreSQL each deliver every message, and the ratios come out of the same run.

use crate::common::database_url;

/// Runs `hookd bench` small (300 messages, 8 clients) with `args`, and answers its JSON.
async fn bench(args: &[&str]) -> serde_json::Value {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookd"))
        .args(["bench", "--messages", "300", "--concurrency", "8", "--json"])
        .args(args)
        .output()
        .await
        .expect("running hookd bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "hookd bench failed: {stderr}");
    serde_json::from_slice(&output.stdout).expect("hookd bench --json prints JSON")
}

#[tokio::test]
async fn compare_runs_all_three_and_reports_the_ratios() {
    let Some(url) = database_url() else { return };
    let report = bench(&["--compare", "--rounds", "1", "--database", &url]).await;
    let runs = report["runs"].as_array().expect("runs");
    let labels: Vec<&str> = runs.iter().filter_map(|r| r["label"].as_str()).collect();
    assert_eq!(labels, ["baseline", "sqlite", "postgres"]);
    for run in runs {
        assert_eq!(run["deliveries"], 300, "{run}");
        assert_eq!(run["errors"], 0, "{run}");
    }
    for ratio in ["median_sqlite_to_relay", "median_postgres_to_sqlite"] {
        let value = report[ratio].as_f64().expect(ratio);
        assert!(value > 0.0 && value.is_finite(), "{ratio} = {value}");
    }
}

/// `hookd bench --fairness` end to end, small: every run delivers every healthy message and
/// reports its figures (the figures themselves are docs/benchmarks.md's).
#[tokio::test]
async fn fairness_measures_the_trickle_and_the_healthy_endpoint() {
    let report = bench(&["--fairness", "--burst", "500"]).await;
    assert_eq!(report["trickle_alone"]["messages"], 1000, "{report}");
    assert!(report["trickle_beside_burst"]["messages"].as_u64() > Some(0), "{report}");
    let runs = report["healthy"].as_array().expect("healthy runs");
    let labels: Vec<&str> = runs.iter().filter_map(|r| r["label"].as_str()).collect();
    assert_eq!(labels, ["alone", "other-app", "same-app", "same-app-healthy"]);
    for run in runs {
        assert_eq!(run["deliveries"], 300, "{run}");
    }
}

/// `hookd bench --ordering-keys` end to end, small: keyed messages are all delivered.
#[tokio::test]
async fn ordering_keys_are_measured_end_to_end() {
    let report = bench(&["--ordering-keys", "5"]).await;
    let run = if report.is_array() { report[0].clone() } else { report };
    assert_eq!(run["deliveries"], 300, "{run}");
    assert_eq!(run["errors"], 0, "{run}");
}

/// `hookd bench --nodes 2` end to end, small: both nodes accept and every message is
/// delivered (the nodes open each other's sealed secrets, so they must share a key).
#[tokio::test]
async fn two_nodes_on_postgres_deliver_every_message() {
    let Some(url) = database_url() else { return };
    let report = bench(&["--nodes", "2", "--database", &url]).await;
    let run = &report[0];
    assert_eq!(run["label"], "hookd×2", "{run}");
    assert_eq!(run["deliveries"], 300, "{run}");
    assert_eq!(run["errors"], 0, "{run}");
}
