//! `hookd bench --fairness`: whether one busy or broken endpoint slows the others (decision
//! 0017). Two figures, each from fresh hookd processes on SQLite:
//!
//! - **A burst beside a trickle.** One application receives a steady 200 messages a second,
//!   first alone, then while another application receives a burst of `--burst` messages
//!   sent as fast as `--concurrency` clients can (or at `--rate` a second, so the API is
//!   not saturated). The trickle's latency is compared.
//! - **A hanging endpoint.** A healthy endpoint's delivery rate for `--messages` messages,
//!   alone, then beside an endpoint that never answers: in another application (with
//!   `--messages` deliveries already waiting on it) and in the same one (every message goes
//!   to both; compared also with a second healthy endpoint there, since a message to two
//!   endpoints costs more to accept than a message to one).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;

use super::load::{self, Target};
use super::receiver::{self, Receipts};
use super::report::{Report, percentiles};
use super::{Bench, TOKEN, measure, setup, start_node, wait_for_deliveries};

/// The trickle's rate, in messages a second.
const TRICKLE_PER_S: u64 = 200;
/// Messages the trickle sends in its run alone.
const TRICKLE_ALONE: usize = 1_000;
/// Short, so the hanging endpoint's requests time out (and are retried) during the run.
const REQUEST_TIMEOUT: &str = "2s";

#[derive(Serialize)]
struct Fairness {
    burst: usize,
    trickle_alone: Latency,
    trickle_beside_burst: Latency,
    burst_delivered_per_s: f64,
    healthy: Vec<Report>,
}

/// From a trickle message's send to its receipt; and, apart, to its 202, the part the API's
/// load adds before delivery starts.
#[derive(Serialize)]
struct Latency {
    messages: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    accept_p50_ms: f64,
    accept_p99_ms: f64,
}

impl Latency {
    fn of(receipts: &Receipts, accept_us: Vec<u64>) -> Self {
        let samples = receipts.take_latencies();
        let messages = samples.len();
        let (p50_ms, p99_ms, max_ms) = percentiles(samples);
        let (accept_p50_ms, accept_p99_ms, _) = percentiles(accept_us);
        Self { messages, p50_ms, p99_ms, max_ms, accept_p50_ms, accept_p99_ms }
    }
}

pub(super) async fn run(bench: &Bench) -> Result<(), String> {
    let dir = std::env::temp_dir().join(crate::model::ids::new_id("hookd-fairness-"));
    let result = measure_all(bench, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    let fairness = result?;
    if bench.args.json {
        println!("{}", serde_json::to_string_pretty(&fairness).map_err(|e| e.to_string())?);
    } else {
        print(&fairness);
    }
    Ok(())
}

async fn measure_all(bench: &Bench, dir: &std::path::Path) -> Result<Fairness, String> {
    let (trickle_alone, trickle_beside_burst, burst_delivered_per_s) =
        burst(bench, &dir.join("burst")).await?;
    let healthy_receipts = bench.receipts.clone();
    let healthy = &bench.endpoints[0];
    let hanging = receiver::start_hanging().await?;
    // A second healthy endpoint beside the first, for the same-app run's fair comparison:
    // a message to two endpoints costs more to accept than one to one.
    let second = receiver::start(Receipts::new(healthy_receipts.epoch)).await?;
    let mut runs = Vec::new();
    for (label, beside) in [
        ("alone", Beside::Nothing),
        ("other-app", Beside::HangingInOtherApp),
        ("same-app", Beside::InSameApp(&hanging)),
        ("same-app-healthy", Beside::InSameApp(&second)),
    ] {
        let (base, child) = node(&dir.join(label))?;
        let mut endpoints = vec![healthy.clone()];
        match beside {
            Beside::InSameApp(url) => endpoints.push(format!("{url}/second")),
            Beside::HangingInOtherApp => {
                let url = setup(&base, "hanging", std::slice::from_ref(&hanging)).await?;
                let receipts = Receipts::new(healthy_receipts.epoch);
                send(bench, &url, &receipts, bench.args.messages, None).await;
            }
            Beside::Nothing => {}
        }
        let url = setup(&base, "healthy", &endpoints).await?;
        let args = super::BenchArgs { fanout: 1, rate: None, ..bench.args.clone() };
        runs.push(measure(label, &args, &healthy_receipts, &[url], vec![child]).await?);
    }
    Ok(Fairness {
        burst: bench.args.burst,
        trickle_alone,
        trickle_beside_burst,
        burst_delivered_per_s,
        healthy: runs,
    })
}

/// What the healthy endpoint is measured beside.
enum Beside<'a> {
    Nothing,
    /// The hanging endpoint, in another application, with a backlog already waiting on it.
    HangingInOtherApp,
    /// This endpoint, in the healthy endpoint's application: every message goes to both.
    InSameApp(&'a str),
}

/// The trickle alone, then beside the burst; and the burst's own delivery rate.
async fn burst(bench: &Bench, dir: &std::path::Path) -> Result<(Latency, Latency, f64), String> {
    let (base, mut child) = node(dir)?;
    let (burst_receipts, steady_receipts) =
        (bench.receipts.clone(), Receipts::new(bench.receipts.epoch));
    let steady_receiver = receiver::start(steady_receipts.clone()).await?;
    let burst_url = setup(&base, "burst", &bench.endpoints[..1]).await?;
    let steady_url = setup(&base, "steady", &[format!("{steady_receiver}/steady")]).await?;

    let stop = Arc::new(AtomicBool::new(false));
    // A warm-up first, not counted: a fresh node's first requests open connections and grow
    // the database file.
    let (sent, _) = trickle(&steady_url, &steady_receipts, &stop, TRICKLE_ALONE / 10).await;
    wait_for_deliveries(&steady_receipts, sent).await;
    steady_receipts.reset();
    let (sent, accept_us) = trickle(&steady_url, &steady_receipts, &stop, TRICKLE_ALONE).await;
    wait_for_deliveries(&steady_receipts, sent).await;
    let alone = Latency::of(&steady_receipts, accept_us);

    steady_receipts.reset();
    burst_receipts.reset();
    let start_us = burst_receipts.now_us();
    let trickling = {
        let (url, receipts, stop) = (steady_url.clone(), steady_receipts.clone(), stop.clone());
        tokio::spawn(async move { trickle(&url, &receipts, &stop, usize::MAX).await })
    };
    let accepted =
        send(bench, &burst_url, &burst_receipts, bench.args.burst, bench.args.rate).await;
    wait_for_deliveries(&burst_receipts, accepted).await;
    stop.store(true, Ordering::Relaxed);
    let (sent, accept_us) = trickling.await.map_err(|e| e.to_string())?;
    wait_for_deliveries(&steady_receipts, sent).await;
    let beside = Latency::of(&steady_receipts, accept_us);
    let secs = burst_receipts.last_at_us().saturating_sub(start_us) as f64 / 1e6;
    let burst_rate = burst_receipts.count.load(Ordering::SeqCst) as f64 / secs.max(1e-9);
    let _ = child.kill();
    let _ = child.wait();
    Ok((alone, beside, burst_rate))
}

/// A hookd node for one run, with a short request timeout.
fn node(dir: &std::path::Path) -> Result<(String, std::process::Child), String> {
    let (port, child) = start_node(dir, None, &[("HOOKD_REQUEST_TIMEOUT", REQUEST_TIMEOUT)])?;
    Ok((format!("http://127.0.0.1:{port}"), child))
}

/// Sends `total` messages to `url` as fast as the clients can, or at `rate` a second;
/// returns how many were accepted.
async fn send(
    bench: &Bench,
    url: &str,
    receipts: &Arc<Receipts>,
    total: usize,
    rate: Option<u32>,
) -> usize {
    let target = target(url);
    let progress = Arc::new(AtomicUsize::new(0));
    let concurrency = bench.args.concurrency;
    load::send(&load::client(), &target, receipts, total, concurrency, rate, &progress)
        .await
        .accepted
}

/// Sends [`TRICKLE_PER_S`] messages a second, each on its own (open loop, so a slow answer
/// does not slow the trickle), until `stop` or `limit`; returns how many were accepted, and
/// how long each took to be answered (µs).
async fn trickle(
    url: &str,
    receipts: &Arc<Receipts>,
    stop: &AtomicBool,
    limit: usize,
) -> (usize, Vec<u64>) {
    let (http, target) = (load::client(), Arc::new(target(url)));
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / TRICKLE_PER_S));
    let mut sends = Vec::new();
    while !stop.load(Ordering::Relaxed) && sends.len() < limit {
        tick.tick().await;
        let (http, target, receipts) = (http.clone(), target.clone(), receipts.clone());
        sends.push(tokio::spawn(async move {
            let sent_us = receipts.now_us();
            let ok = load::post(&http, &target, &target.urls[0], sent_us, 0).await.is_ok();
            ok.then(|| receipts.now_us() - sent_us)
        }));
    }
    let mut accept_us = Vec::new();
    for send in sends {
        accept_us.extend(send.await.ok().flatten());
    }
    (accept_us.len(), accept_us)
}

fn target(url: &str) -> Target {
    Target {
        urls: vec![url.to_owned()],
        token: TOKEN.into(),
        payload_size: 256,
        extra: String::new(),
        ordering_keys: 0,
    }
}

fn print(f: &Fairness) {
    println!(
        "{:<20} {:>9} {:>9} {:>9} {:>9} {:>13} {:>13}",
        "trickle (200/s)", "messages", "p50 ms", "p99 ms", "max ms", "202 p50 ms", "202 p99 ms"
    );
    for (label, l) in [("alone", &f.trickle_alone), ("beside a burst", &f.trickle_beside_burst)] {
        println!(
            "{label:<20} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>13.2} {:>13.2}",
            l.messages, l.p50_ms, l.p99_ms, l.max_ms, l.accept_p50_ms, l.accept_p99_ms
        );
    }
    println!(
        "the burst of {} was delivered at {:.0}/s; the trickle's p99 rose by {:.2} ms",
        f.burst,
        f.burst_delivered_per_s,
        f.trickle_beside_burst.p99_ms - f.trickle_alone.p99_ms
    );
    println!();
    println!("{:<28} {:>13} {:>9}", "healthy endpoint", "delivered/s", "of alone");
    let alone = f.healthy.first().map_or(0.0, |r| r.delivered_per_s);
    for r in &f.healthy {
        println!(
            "{:<28} {:>13.0} {:>8.2}×",
            r.label,
            r.delivered_per_s,
            r.delivered_per_s / alone.max(1e-9)
        );
    }
    let rate = |label: &str| f.healthy.iter().find(|r| r.label == label).map(|r| r.delivered_per_s);
    if let (Some(hanging), Some(healthy)) = (rate("same-app"), rate("same-app-healthy")) {
        println!(
            "same-app beside a hanging endpoint ÷ beside a healthy one: {:.2}×",
            hanging / healthy
        );
    }
}
