//! SQLite's concurrency, made explicit: one writer thread that commits whatever requests
//! arrived together in one transaction (group commit), and a small pool of read connections.
//!
//! WAL lets readers run beside the writer. A commit with `synchronous=FULL` costs one fsync
//! (~190 µs here); batching every job queued during that fsync into the next transaction is
//! what lets durable ingestion go far past 5 k commits/s. A job's expected failures (a
//! duplicate `eventId`, say) undo only their own statement; a failure inside the database
//! undoes the whole batch, so no half-done job is ever committed.

use std::path::Path;
use std::sync::{Mutex, mpsc};

use rusqlite::Connection;
use tokio::sync::{Semaphore, oneshot};

use crate::store::{StoreError, StoreResult};

/// Jobs per transaction at most: bounds the latency a large burst adds to its first job.
const MAX_BATCH: usize = 512;

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A job's answer-to-be, and whether it failed inside the database.
type Ran = (Completion, bool);

/// A unit of work for the writer, and whether its commit must reach the disk before it is
/// acknowledged. Running it yields its completion and whether it failed inside the database
/// (which poisons the whole batch).
struct Job {
    durable: bool,
    run: Box<dyn FnOnce(&Connection) -> Ran + Send>,
}

pub(super) fn internal(err: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(err.to_string())
}

pub(super) fn open_connection(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: an acknowledged message must survive power loss, not only a process crash.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    if read_only {
        conn.pragma_update(None, "query_only", "ON")?;
    }
    Ok(conn)
}

/// The single writer. Dropping it ends the thread after the queued jobs are done.
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    pub(super) fn start(conn: Connection) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("hookd-sqlite-writer".into())
            .spawn(move || run_writer(conn, queue))
            .expect("spawning the SQLite writer thread");
        Self { jobs }
    }

    /// Runs `f` in the next group commit and returns its result once that commit is durable
    /// (fsynced): for everything a client is told has been stored.
    pub(super) async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.submit(true, f).await
    }

    /// Like [`Writer::run`], but answers once committed, without waiting for the disk: for the
    /// dispatcher's bookkeeping (claims, attempt outcomes), whose loss in a power cut only
    /// means a delivery is made again. A process crash loses nothing (the WAL is written), and
    /// the next durable commit syncs these too, since the WAL is one sequential file.
    pub(super) async fn run_relaxed<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.submit(false, f).await
    }

    async fn submit<T, F>(&self, durable: bool, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            durable,
            run: Box::new(move |conn| {
                let result = f(conn);
                let poisoned = matches!(result, Err(StoreError::Internal(_)));
                let complete: Completion = Box::new(move |commit: Result<(), String>| {
                    let _ = reply.send(commit.map_err(StoreError::Internal).and(result));
                });
                (complete, poisoned)
            }),
        };
        self.jobs.send(job).map_err(|_| internal("the SQLite writer has stopped"))?;
        answer.await.map_err(|_| internal("the SQLite writer has stopped"))?
    }
}

fn run_writer(conn: Connection, queue: mpsc::Receiver<Job>) {
    let mut stats = (0usize, 0usize, std::time::Duration::ZERO, std::time::Instant::now());
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        stats.0 += 1;
        stats.1 += batch.len();
        let t = std::time::Instant::now();
        let commit = commit_batch(&conn, batch);
        stats.2 += t.elapsed();
        if stats.3.elapsed() > std::time::Duration::from_secs(2) {
            tracing::debug!(
                commits = stats.0,
                jobs = stats.1,
                busy_ms = stats.2.as_millis() as u64,
                "writer"
            );
            stats = (0, 0, std::time::Duration::ZERO, std::time::Instant::now());
        }
        let (completions, outcome) = commit;
        for done in completions {
            done(outcome.clone());
        }
    }
}

fn commit_batch(conn: &Connection, batch: Vec<Job>) -> (Vec<Completion>, Result<(), String>) {
    let sync = if batch.iter().any(|job| job.durable) { "FULL" } else { "NORMAL" };
    if let Err(e) = conn.pragma_update(None, "synchronous", sync) {
        return (batch.into_iter().map(|_| noop_completion()).collect(), Err(e.to_string()));
    }
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let outcome = Err(e.to_string());
        // The jobs never ran; answer each with the failure.
        let completions = batch.into_iter().map(|_| noop_completion()).collect();
        return (completions, outcome);
    }
    let (completions, poisoned): (Vec<Completion>, Vec<bool>) =
        batch.into_iter().map(|job| (job.run)(conn)).unzip();
    // A job that failed inside the database may have left part of its work behind, so the
    // whole batch is undone and every job in it answered with the failure. The failures a
    // client causes (a duplicate eventId, a taken uid) fail on one statement, which SQLite
    // undoes by itself, so they need no such care and no savepoint per job.
    let outcome = if poisoned.contains(&true) {
        Err("a write in this batch failed; the batch was rolled back".to_owned())
    } else {
        conn.execute_batch("COMMIT").map_err(|e| e.to_string())
    };
    if outcome.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    (completions, outcome)
}

fn noop_completion() -> Completion {
    // Dropping the job drops its reply sender, which the caller sees as "writer stopped";
    // that is the honest answer for a transaction that could not begin.
    Box::new(|_| {})
}

/// A few read-only connections, used from blocking threads so queries never stall the
/// async runtime.
pub(super) struct Readers {
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Readers {
    pub(super) fn open(path: &Path, count: usize) -> rusqlite::Result<Self> {
        let conns = (0..count).map(|_| open_connection(path, true)).collect::<Result<_, _>>()?;
        Ok(Self { idle: Mutex::new(conns), permits: Semaphore::new(count) })
    }

    pub(super) async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _permit = self.permits.acquire().await.map_err(internal)?;
        let conn = self.idle.lock().map_err(internal)?.pop();
        let conn = conn.ok_or_else(|| internal("reader pool is empty"))?;
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let result = f(&conn);
            (conn, result)
        })
        .await
        .map_err(internal)?;
        self.idle.lock().map_err(internal)?.push(conn);
        result
    }
}
