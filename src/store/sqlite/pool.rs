//! SQLite's concurrency, made explicit: one writer thread that commits whatever requests
//! arrived together in one transaction (group commit), and a small pool of read connections.
//!
//! WAL lets readers run beside the writer. A commit with `synchronous=FULL` costs one fsync
//! (~190 µs here); batching every job queued during that fsync into the next transaction is
//! what lets durable ingestion go far past 5 k commits/s.
//!
//! One job's failure never undoes another's. A job's expected failures (a duplicate
//! `eventId`, say) fail on one statement, which SQLite undoes by itself. A failure inside
//! the database may leave part of a job's work behind, so the batch is rolled back and each
//! of its jobs is run again alone, in a transaction of its own: the failing job answers with
//! its error, the others commit. That is why a job is a re-runnable `Fn`, and why the common
//! path needs no savepoint per job.

use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::Connection;
use tokio::sync::{Semaphore, oneshot};

use super::util::internal;
use crate::store::{CommitObserver, StoreError, StoreResult};

/// Jobs per transaction at most: bounds the latency a large burst adds to its first job.
const MAX_BATCH: usize = 512;

/// A unit of work for the writer. It can run more than once: a rolled-back run leaves
/// nothing behind, and only the result of the run that was committed is answered.
trait Work: Send {
    /// Runs the job; `Err` is a failure inside the database, whose work must not commit.
    fn run(&mut self, conn: &Connection) -> Result<(), String>;
    /// Answers the caller: the last run's result once `commit` succeeded, else the failure.
    fn answer(self: Box<Self>, commit: Result<(), String>);
}

/// A job, and whether its commit must reach the disk before it is acknowledged.
struct Job {
    durable: bool,
    work: Box<dyn Work>,
}

/// The closure a store method passes, its latest result and where the answer goes.
struct Pending<T, F> {
    f: F,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Work for Pending<T, F>
where
    T: Send,
    F: Fn(&Connection) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> Result<(), String> {
        let result = (self.f)(conn);
        let failed = match &result {
            Err(StoreError::Internal(why)) => Err(why.clone()),
            _ => Ok(()),
        };
        self.result = Some(result);
        failed
    }

    fn answer(self: Box<Self>, commit: Result<(), String>) {
        let result = match (commit, self.result) {
            (Ok(()), Some(result)) => result,
            (Err(why), _) => Err(StoreError::Internal(why)),
            (Ok(()), None) => Err(internal("the job never ran")),
        };
        let _ = self.reply.send(result);
    }
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
    pub(super) fn start(conn: Connection, observer: Arc<dyn CommitObserver>) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("hookd-sqlite-writer".into())
            .spawn(move || run_writer(conn, queue, observer.as_ref()))
            .expect("spawning the SQLite writer thread");
        Self { jobs }
    }

    /// Runs `f` in the next group commit and returns its result once that commit is durable
    /// (fsynced): for everything a client is told has been stored.
    pub(super) async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
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
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.submit(false, f).await
    }

    async fn submit<T, F>(&self, durable: bool, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let work = Box::new(Pending { f, result: None, reply });
        self.jobs
            .send(Job { durable, work })
            .map_err(|_| internal("the SQLite writer has stopped"))?;
        answer.await.map_err(|_| internal("the SQLite writer has stopped"))?
    }
}

fn run_writer(conn: Connection, queue: mpsc::Receiver<Job>, observer: &dyn CommitObserver) {
    let mut durability = Durability::default();
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (jobs, started) = (batch.len(), std::time::Instant::now());
        commit_batch(&conn, &mut durability, batch);
        observer.committed(started.elapsed(), jobs);
    }
}

/// Commits the batch in one transaction and answers every job. If the transaction fails, each
/// job runs again alone, so the failure answers only the job that causes it.
fn commit_batch(conn: &Connection, durability: &mut Durability, mut batch: Vec<Job>) {
    let outcome = transaction(conn, durability, &mut batch);
    match outcome {
        Err(why) if batch.len() > 1 => {
            tracing::error!(error = %why, jobs = batch.len(), "a write failed; its batch was rolled back and its jobs run again one by one");
            for job in batch {
                commit_batch(conn, durability, vec![job]);
            }
        }
        Err(why) => {
            tracing::error!(error = %why, "a write failed and was rolled back");
            batch.into_iter().for_each(|job| job.work.answer(Err(why.clone())));
        }
        Ok(()) => batch.into_iter().for_each(|job| job.work.answer(Ok(()))),
    }
}

/// The writer's `synchronous` setting, changed only when a batch needs the other one: the
/// pragma and `BEGIN`/`COMMIT` are prepared once, not parsed again for every commit.
#[derive(Default)]
struct Durability {
    full: Option<bool>,
}

impl Durability {
    fn set(&mut self, conn: &Connection, full: bool) -> rusqlite::Result<()> {
        if self.full != Some(full) {
            self.full = None; // unknown until the pragma has run
            conn.pragma_update(None, "synchronous", if full { "FULL" } else { "NORMAL" })?;
            self.full = Some(full);
        }
        Ok(())
    }
}

/// Runs the jobs in one transaction; on any failure inside the database nothing is kept.
fn transaction(
    conn: &Connection,
    durability: &mut Durability,
    batch: &mut [Job],
) -> Result<(), String> {
    let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(drop);
    durability.set(conn, batch.iter().any(|job| job.durable)).map_err(|e| e.to_string())?;
    run("BEGIN IMMEDIATE").map_err(|e| e.to_string())?;
    let ran = batch.iter_mut().try_for_each(|job| job.work.run(conn));
    let outcome = ran.and_then(|()| run("COMMIT").map_err(|e| e.to_string()));
    if outcome.is_err() {
        // Fails harmlessly when SQLite has already rolled back by itself (a full disk).
        let _ = conn.execute_batch("ROLLBACK");
    }
    outcome
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A job that inserts `x` into `t`, then fails inside the database if `fail`.
    fn job(x: i64, fail: bool) -> (Job, oneshot::Receiver<StoreResult<()>>) {
        let (reply, answer) = oneshot::channel();
        let f = move |conn: &Connection| {
            conn.execute("INSERT INTO t (x) VALUES (?)", [x]).map_err(internal)?;
            if fail {
                // A real failure inside the database, as a broken foreign key is.
                conn.execute("INSERT INTO t (x) VALUES (?)", [x]).map_err(internal)?;
            }
            Ok(())
        };
        let work = Box::new(Pending { f, result: None, reply });
        (Job { durable: false, work }, answer)
    }

    #[test]
    fn one_failing_job_does_not_undo_its_neighbours() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY)").unwrap();
        let (jobs, answers): (Vec<Job>, Vec<_>) =
            [(1, false), (2, true), (3, false)].into_iter().map(|(x, f)| job(x, f)).unzip();
        commit_batch(&conn, &mut Durability::default(), jobs);
        let answers: Vec<bool> =
            answers.into_iter().map(|mut a| a.try_recv().unwrap().is_ok()).collect();
        assert_eq!(answers, [true, false, true], "only the failing job answers an error");
        let mut stmt = conn.prepare("SELECT x FROM t ORDER BY x").unwrap();
        let kept: Vec<i64> =
            stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(kept, [1, 3], "the neighbours committed, nothing of the failing job did");
    }
}
