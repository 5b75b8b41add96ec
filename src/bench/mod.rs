//! `hookd bench`: starts hookd (and, with `--baseline`, a bare relay) as child processes with
//! a fresh data dir, sends messages through the public API from C clients, waits for every
//! delivery at a loopback receiver, and reports rates, latency and peak memory.

mod compare;
mod fairness;
mod load;
mod receiver;
pub mod relay;
mod report;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use self::load::Target;
use self::receiver::Receipts;
use self::report::Report;

#[derive(clap::Args, Clone)]
pub struct BenchArgs {
    /// Messages to send in the measured run.
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// Concurrent API clients.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Endpoints per message (fan-out mode when above 1).
    #[arg(long, default_value_t = 1)]
    pub fanout: usize,
    /// Send at this many messages per second instead of as fast as possible (with
    /// `--fairness`: the burst).
    #[arg(long)]
    pub rate: Option<u32>,
    /// Pending deliveries (scheduled a day ahead) to load before the measured run.
    #[arg(long, default_value_t = 0)]
    pub backlog: usize,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 1024)]
    pub payload_size: usize,
    /// Also run the bare in-memory relay first, for the ratio.
    #[arg(long)]
    pub baseline: bool,
    /// hookd's database URL (default: SQLite in a fresh temporary data dir). For
    /// `postgres://…`, the run uses a fresh schema that is dropped afterwards.
    #[arg(long)]
    pub database: Option<String>,
    /// hookd nodes sharing the database (PostgreSQL only beyond 1); clients spread over them.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Run the relay, hookd on SQLite and hookd on PostgreSQL (`--database`, else
    /// `DATABASE_URL`) side by side, `--rounds` times in turn, and print the ratios.
    #[arg(long)]
    pub compare: bool,
    /// Rounds of `--compare` (the ratios reported are the medians).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Measure fairness instead (docs/benchmarks.md): a trickle's latency beside a burst of
    /// `--burst` messages to another application, and a healthy endpoint's rate beside one
    /// that never answers.
    #[arg(long)]
    pub fairness: bool,
    /// Messages in `--fairness`'s burst.
    #[arg(long, default_value_t = 100_000)]
    pub burst: usize,
    /// Give each message an `orderingKey`, one of this many in turn (0: none): what ordered
    /// delivery costs.
    #[arg(long, default_value_t = 0)]
    pub ordering_keys: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

const TOKEN: &str = "bench-token-0123456789abcdef";

pub async fn run(args: BenchArgs) -> Result<(), String> {
    let receipts = Receipts::new(Instant::now());
    let receiver = receiver::start(receipts.clone()).await?;
    let endpoints: Vec<String> = (0..args.fanout).map(|i| format!("{receiver}/ep{i}")).collect();
    let bench = Bench { args, receipts, endpoints };
    if bench.args.compare {
        return compare::run(&bench).await;
    }
    if bench.args.fairness {
        return fairness::run(&bench).await;
    }
    let mut reports = Vec::new();
    if bench.args.baseline {
        reports.push(bench.relay().await?);
    }
    reports.push(bench.hookd("hookd", bench.args.database.as_deref(), bench.args.nodes).await?);
    if bench.args.json {
        println!("{}", serde_json::to_string_pretty(&reports).map_err(|e| e.to_string())?);
    } else {
        report::print_table(&reports);
        report::print_ratio(&reports);
    }
    Ok(())
}

/// What every run of one invocation shares: the arguments, the receiver and its endpoints.
struct Bench {
    args: BenchArgs,
    receipts: Arc<Receipts>,
    endpoints: Vec<String>,
}

impl Bench {
    /// One run of the bare relay.
    async fn relay(&self) -> Result<Report, String> {
        let (port, child) = spawn(&["relay", "--target", &self.endpoints.join(",")], &[])?;
        let url = vec![format!("http://127.0.0.1:{port}/msg")];
        measure("baseline", &self.args, &self.receipts, &url, vec![child]).await
    }

    /// One run of hookd on `database` (SQLite in a fresh data dir when `None`, a fresh
    /// schema for `postgres://…`) with `nodes` nodes, labelled `label`.
    async fn hookd(
        &self,
        label: &str,
        database: Option<&str>,
        nodes: usize,
    ) -> Result<Report, String> {
        let schema = match database {
            Some(url) if url.starts_with("postgres") => Some(fresh_schema(url).await?),
            _ => None,
        };
        let in_schema = match (database, &schema) {
            (Some(url), Some(schema)) => Some(with_search_path(url, schema)),
            (url, _) => url.map(str::to_owned),
        };
        let dir = std::env::temp_dir().join(crate::model::ids::new_id("hookd-bench-"));
        let args = BenchArgs { nodes, ..self.args.clone() };
        let (args, receipts) = (&args, &self.receipts);
        let result =
            run_hookd(label, args, receipts, &self.endpoints, &dir, in_schema.as_deref()).await;
        let _ = std::fs::remove_dir_all(&dir);
        if let (Some(url), Some(schema)) = (database, &schema) {
            let _ = run_sql(url, &format!("DROP SCHEMA {schema} CASCADE")).await;
        }
        result
    }
}

/// Starts the hookd nodes, sets up the application, loads the backlog, measures.
async fn run_hookd(
    label: &str,
    args: &BenchArgs,
    receipts: &Arc<Receipts>,
    endpoints: &[String],
    dir: &std::path::Path,
    database: Option<&str>,
) -> Result<Report, String> {
    // Nodes sharing a database must open each other's sealed endpoint secrets.
    let key = crate::security::sealing::Keyring::generate_key();
    let mut nodes = Vec::new();
    for i in 0..args.nodes.max(1) {
        let env = [("HOOKD_SECRET_KEY", key.as_str())];
        nodes.push(start_node(&dir.join(format!("node{i}")), database, &env)?);
    }
    let bases: Vec<String> =
        nodes.iter().map(|(port, _)| format!("http://127.0.0.1:{port}")).collect();
    setup(&bases[0], "bench", endpoints).await?;
    let urls: Vec<String> = bases.iter().map(|b| format!("{b}/api/v1/app/bench/msg")).collect();
    if args.backlog > 0 {
        preload(args, receipts, &urls).await;
    }
    let label = if args.nodes > 1 { format!("{label}×{}", args.nodes) } else { label.into() };
    measure(&label, args, receipts, &urls, nodes.into_iter().map(|(_, child)| child).collect())
        .await
}

/// Starts one hookd node with its data in `data_dir`, on `database` (SQLite there when
/// `None`), with `env` on top of the bench's own settings.
fn start_node(
    data_dir: &std::path::Path,
    database: Option<&str>,
    env: &[(&str, &str)],
) -> Result<(u16, Child), String> {
    let data_dir = data_dir.display().to_string();
    let mut all = vec![
        ("HOOKD_DATA_DIR", data_dir.as_str()),
        ("HOOKD_ADMIN_TOKEN", TOKEN),
        ("HOOKD_ALLOWED_NETWORKS", "127.0.0.0/8"),
    ];
    if let Some(db) = database {
        all.push(("HOOKD_DATABASE_URL", db));
    }
    all.extend_from_slice(env);
    spawn(&["serve"], &all)
}

async fn fresh_schema(url: &str) -> Result<String, String> {
    let schema = crate::model::ids::new_id("bench_").to_lowercase();
    run_sql(url, &format!("CREATE SCHEMA {schema}")).await?;
    Ok(schema)
}

fn with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-csearch_path%3D{schema}")
}

async fn run_sql(url: &str, sql: &str) -> Result<(), String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    tokio::spawn(connection);
    client.batch_execute(sql).await.map_err(|e| e.to_string())
}

/// Starts `hookd ARGS` on a free port and waits until it answers.
fn spawn(args: &[&str], env: &[(&str, &str)]) -> Result<(u16, Child), String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.args(args).arg("--listen").arg(format!("127.0.0.1:{port}")).envs(env.iter().copied());
    // Quiet unless asked: set HOOKD_LOG to see the children's logs on stderr.
    if std::env::var_os("HOOKD_LOG").is_some() {
        cmd.stdout(Stdio::from(std::io::stderr()));
    } else {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    }
    let child = cmd.spawn().map_err(|e| format!("cannot start {args:?}: {e}"))?;
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((port, child));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Err(format!("{args:?} did not start listening"))
}

/// Creates the application `uid` and its endpoints; returns the message URL.
async fn setup(base: &str, uid: &str, endpoints: &[String]) -> Result<String, String> {
    let http = load::client();
    let call = |path: String, body: String| {
        let http = http.clone();
        async move {
            let req = hyper::Request::post(path)
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                .map_err(|e| e.to_string())?;
            let resp = http.request(req).await.map_err(|e| e.to_string())?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(format!("setup failed: {}", resp.status()))
            }
        }
    };
    call(format!("{base}/api/v1/app"), format!(r#"{{"name":"{uid}","uid":"{uid}"}}"#)).await?;
    for url in endpoints {
        call(format!("{base}/api/v1/app/{uid}/endpoint"), format!(r#"{{"url":"{url}"}}"#)).await?;
    }
    Ok(format!("{base}/api/v1/app/{uid}/msg"))
}

async fn preload(args: &BenchArgs, receipts: &Arc<Receipts>, urls: &[String]) {
    let deliver_at = crate::model::time::format_rfc3339(crate::model::time::now_ms() + 86_400_000);
    let target = Target {
        urls: urls.to_vec(),
        token: TOKEN.into(),
        payload_size: args.payload_size,
        extra: format!(r#""deliverAt":"{deliver_at}","#),
        ordering_keys: 0,
    };
    let progress = Arc::new(AtomicUsize::new(0));
    let ticker =
        tokio::spawn(show_progress("backlog".into(), progress.clone(), args.backlog, None));
    let started = Instant::now();
    let sent = load::send(
        &load::client(),
        &target,
        receipts,
        args.backlog,
        args.concurrency,
        None,
        &progress,
    )
    .await;
    ticker.abort();
    eprintln!(
        "\rbacklog: {} pending deliveries loaded in {:.1}s ({} errors)          ",
        sent.accepted,
        started.elapsed().as_secs_f64(),
        sent.errors
    );
}

/// Sends the measured load to `url`, waits for the deliveries, stops `child`.
async fn measure(
    label: &str,
    args: &BenchArgs,
    receipts: &Arc<Receipts>,
    urls: &[String],
    children: Vec<Child>,
) -> Result<Report, String> {
    receipts.reset();
    let target = Target {
        urls: urls.to_vec(),
        token: TOKEN.into(),
        payload_size: args.payload_size,
        extra: String::new(),
        ordering_keys: args.ordering_keys,
    };
    let expected = args.messages * args.fanout;
    let progress = Arc::new(AtomicUsize::new(0));
    let ticker = tokio::spawn(show_progress(
        label.to_owned(),
        progress.clone(),
        args.messages,
        Some((receipts.clone(), expected)),
    ));
    let start_us = receipts.now_us();
    let sent = load::send(
        &load::client(),
        &target,
        receipts,
        args.messages,
        args.concurrency,
        args.rate,
        &progress,
    )
    .await;
    let send_secs = (receipts.now_us() - start_us) as f64 / 1e6;
    wait_for_deliveries(receipts, sent.accepted * args.fanout).await;
    ticker.abort();
    eprintln!();
    // The largest node's peak: what one machine must provide.
    let peak_rss_mb = children.iter().filter_map(|c| report::peak_rss_mb(c.id())).reduce(f64::max);
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    let deliveries = receipts.count.load(Ordering::SeqCst);
    let deliver_secs = (receipts.last_at_us().saturating_sub(start_us)) as f64 / 1e6;
    let (p50, p99, max) = report::percentiles(receipts.take_latencies());
    Ok(Report {
        label: label.into(),
        messages: args.messages,
        fanout: args.fanout,
        concurrency: args.concurrency,
        rate: args.rate,
        backlog: args.backlog,
        errors: sent.errors,
        deliveries,
        accepted_per_s: sent.accepted as f64 / send_secs.max(1e-9),
        delivered_per_s: deliveries as f64 / deliver_secs.max(1e-9),
        latency_p50_ms: p50,
        latency_p99_ms: p99,
        latency_max_ms: max,
        peak_rss_mb,
    })
}

/// Waits until `expected` deliveries arrived, or 30 s pass without a new one.
async fn wait_for_deliveries(receipts: &Receipts, expected: usize) {
    let mut last = (0, Instant::now());
    loop {
        let count = receipts.count.load(Ordering::SeqCst);
        if count >= expected {
            return;
        }
        if count != last.0 {
            last = (count, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(30) {
            eprintln!("\nstopped waiting: {count} of {expected} deliveries arrived");
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn show_progress(
    label: String,
    sent: Arc<AtomicUsize>,
    total: usize,
    delivered: Option<(Arc<Receipts>, usize)>,
) {
    loop {
        let s = sent.load(Ordering::Relaxed);
        let filled = (s * 30).checked_div(total).unwrap_or(30).min(30);
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(30 - filled));
        let tail = delivered.as_ref().map_or(String::new(), |(r, expected)| {
            format!(", delivered {}/{expected}", r.count.load(Ordering::Relaxed))
        });
        eprint!("\r{label:<9} [{bar}] sent {s}/{total}{tail}   ");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
