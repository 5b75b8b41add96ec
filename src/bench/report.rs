//! The benchmark's figures, as a table for people or JSON for machines.

use serde::Serialize;

#[derive(Serialize, Clone, Debug)]
pub struct Report {
    pub label: String,
    pub messages: usize,
    pub fanout: usize,
    pub concurrency: usize,
    pub rate: Option<u32>,
    pub backlog: usize,
    pub errors: usize,
    pub deliveries: usize,
    pub accepted_per_s: f64,
    pub delivered_per_s: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    pub peak_rss_mb: Option<f64>,
}

/// p50, p99 and max of microsecond samples, in ms.
pub fn percentiles(mut samples: Vec<u64>) -> (f64, f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    (at(0.50), at(0.99), at(1.0))
}

pub fn print_table(reports: &[Report]) {
    println!(
        "{:<10} {:>9} {:>6} {:>11} {:>12} {:>13} {:>9} {:>9} {:>9} {:>8}",
        "run",
        "messages",
        "fanout",
        "deliveries",
        "accepted/s",
        "delivered/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "RSS MB"
    );
    for r in reports {
        let rss = r.peak_rss_mb.map_or("-".to_owned(), |m| format!("{m:.1}"));
        println!(
            "{:<10} {:>9} {:>6} {:>11} {:>12.0} {:>13.0} {:>9.2} {:>9.2} {:>9.2} {:>8}",
            r.label,
            r.messages,
            r.fanout,
            r.deliveries,
            r.accepted_per_s,
            r.delivered_per_s,
            r.latency_p50_ms,
            r.latency_p99_ms,
            r.latency_max_ms,
            rss
        );
        if r.errors > 0 {
            println!("{:<10} {} requests failed", "", r.errors);
        }
    }
}

/// With a baseline run first: how hookd's delivery rate compares to it.
pub fn print_ratio(reports: &[Report]) {
    if let [baseline, hookd, ..] = reports {
        if baseline.delivered_per_s > 0.0 {
            println!(
                "hookd delivered {:.2}× the baseline relay's rate",
                hookd.delivered_per_s / baseline.delivered_per_s
            );
        }
    }
}

/// Peak resident memory of a process (Linux `VmHWM`), in MB.
pub fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
