//! SQLite's concurrency, made explicit: one writer thread that commits whatever requests
//! arrived together in one transaction (group commit), and a small pool of read connections.
//!
//! WAL lets readers run beside the writer. A durable commit costs one fsync (0.2 to 1 ms
//! here); batching every job queued meanwhile into the next transaction is what lets durable
//! ingestion go far past 5 k commits/s, and syncing on a thread of its own ([`super::durable`])
//! lets the writer run that next transaction while the fsync is under way.
//!
//! One job's failure never undoes another's. A job's expected failures (a duplicate
//! `eventId`, say) fail on one statement, which SQLite undoes by itself. A failure inside
//! the database may leave part of a job's work behind, so the batch is rolled back and each
//! of its jobs is run again alone, in a transaction of its own: the failing job answers with
//! its error, the others commit. That is why a job is a re-runnable `Fn`, and why the common
//! path needs no savepoint per job.

use std::path::Path;
use std::sync::{Arc, mpsc};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::durable::{self, Handover};
use super::util::internal;
use crate::store::{CommitObserver, StoreError, StoreResult};

/// Jobs per transaction at most: bounds the latency a large burst adds to its first job.
const MAX_BATCH: usize = 512;

/// A unit of work for the writer. It can run more than once: a rolled-back run leaves
/// nothing behind, and only the result of the run that was committed is answered.
pub(super) trait Work: Send {
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
        // A full disk is told apart, so the client hears 503 (try again), not 500.
        let _ = self.reply.send(result.map_err(StoreError::or_unavailable));
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
    /// Starts the thread writing to the database at `path` through `conn`; `rolled_back` runs
    /// after every transaction that was rolled back, so what was kept in memory from its
    /// uncommitted writes can be dropped.
    pub(super) fn start(
        path: &Path,
        conn: Connection,
        observer: Arc<dyn CommitObserver>,
        rolled_back: Box<dyn Fn() + Send>,
    ) -> Result<Self, String> {
        // Durable jobs are synced by `durable`, after their commit; see there.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| e.to_string())?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let synced = durable::start(path)?;
        std::thread::Builder::new()
            .name("hookd-sqlite-writer".into())
            .spawn(move || {
                let mut writer = WriterState { synced, rolled_back: rolled_back.as_ref() };
                run_writer(conn, queue, observer.as_ref(), &mut writer)
            })
            .map_err(|e| format!("cannot start the SQLite writer thread: {e}"))?;
        Ok(Self { jobs })
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

/// Commits what has arrived whenever no WAL sync is under way. While one is, the writer
/// sleeps until it ends and what arrives stays queued: a durable job committed now would wait
/// for the next sync anyway, so committing what arrived meanwhile in one transaction just
/// before it costs their clients nothing but that commit, and writes each touched page to the
/// WAL once instead of once per transaction (commits outnumbered syncs 2.4 to 1 before,
/// docs/benchmarks.md). Sleeping rather than waking for each job that arrives spares a thread
/// switch per job. Relaxed jobs wait with them, for at most one sync.
fn run_writer(
    conn: Connection,
    queue: mpsc::Receiver<Job>,
    observer: &dyn CommitObserver,
    writer: &mut WriterState,
) {
    loop {
        writer.synced.wait_until_synced();
        let Ok(first) = queue.recv() else { break };
        let batch = gather(&queue, first);
        let (jobs, started) = (batch.len(), std::time::Instant::now());
        commit_batch(&conn, writer, batch);
        observer.committed(started.elapsed(), jobs);
    }
}

/// `first` and what else is queued, up to [`MAX_BATCH`] jobs.
fn gather(queue: &mpsc::Receiver<Job>, first: Job) -> Vec<Job> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    batch
}

/// Commits the batch in one transaction and answers every job. If the transaction fails, each
/// job runs again alone, so the failure answers only the job that causes it.
fn commit_batch(conn: &Connection, writer: &mut WriterState, mut batch: Vec<Job>) {
    let outcome = transaction(conn, writer, &mut batch);
    match outcome {
        Err(why) if batch.len() > 1 => {
            tracing::error!(error = %why, jobs = batch.len(), "a write failed; its batch was rolled back and its jobs run again one by one");
            for job in batch {
                commit_batch(conn, writer, vec![job]);
            }
        }
        Err(why) => {
            tracing::error!(error = %why, "a write failed and was rolled back");
            batch.into_iter().for_each(|job| job.work.answer(Err(why.clone())));
        }
        Ok(()) => {
            let (durable, relaxed): (Vec<Job>, Vec<Job>) =
                batch.into_iter().partition(|j| j.durable);
            relaxed.into_iter().for_each(|job| job.work.answer(Ok(())));
            writer.answer_once_synced(durable);
        }
    }
}

/// What the writer thread carries from one transaction to the next.
struct WriterState<'a> {
    /// Answers durable jobs once the WAL is synced.
    synced: Handover,
    rolled_back: &'a dyn Fn(),
}

impl WriterState<'_> {
    fn answer_once_synced(&self, durable: Vec<Job>) {
        if durable.is_empty() {
            return;
        }
        let works = durable.into_iter().map(|job| job.work).collect();
        if let Err(works) = self.synced.send(works) {
            let why = "the WAL sync thread has stopped".to_owned();
            works.into_iter().for_each(|work| work.answer(Err(why.clone())));
        }
    }
}

/// Runs the jobs in one transaction; on any failure inside the database nothing is kept.
fn transaction(
    conn: &Connection,
    writer: &mut WriterState,
    batch: &mut [Job],
) -> Result<(), String> {
    // Prepared once, not parsed again for every commit.
    let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(drop);
    run("BEGIN IMMEDIATE").map_err(|e| e.to_string())?;
    let ran = batch.iter_mut().try_for_each(|job| job.work.run(conn));
    let outcome = ran.and_then(|()| run("COMMIT").map_err(|e| e.to_string()));
    if outcome.is_err() {
        // Fails harmlessly when SQLite has already rolled back by itself (a full disk).
        let _ = conn.execute_batch("ROLLBACK");
        (writer.rolled_back)();
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A job that inserts `x` into `t`, then fails inside the database if `fail`.
    fn job(x: i64, fail: bool) -> (Job, oneshot::Receiver<StoreResult<()>>) {
        durable_job(x, fail, false)
    }

    fn durable_job(x: i64, fail: bool, durable: bool) -> (Job, oneshot::Receiver<StoreResult<()>>) {
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
        (Job { durable, work }, answer)
    }

    #[test]
    fn one_failing_job_does_not_undo_its_neighbours() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY)").unwrap();
        let (jobs, answers): (Vec<Job>, Vec<_>) =
            [(1, false), (2, true), (3, false)].into_iter().map(|(x, f)| job(x, f)).unzip();
        let (synced, _unused, _) = Handover::detached();
        let rollbacks = std::cell::Cell::new(0);
        let rolled_back = || rollbacks.set(rollbacks.get() + 1);
        let mut writer = WriterState { synced, rolled_back: &rolled_back };
        commit_batch(&conn, &mut writer, jobs);
        assert_eq!(rollbacks.get(), 2, "the batch, then the failing job alone, rolled back");
        let answers: Vec<bool> =
            answers.into_iter().map(|mut a| a.try_recv().unwrap().is_ok()).collect();
        assert_eq!(answers, [true, false, true], "only the failing job answers an error");
        let mut stmt = conn.prepare("SELECT x FROM t ORDER BY x").unwrap();
        let kept: Vec<i64> =
            stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(kept, [1, 3], "the neighbours committed, nothing of the failing job did");
    }

    /// The job counts of the commits, in order.
    #[derive(Default)]
    struct Commits(Mutex<Vec<usize>>);

    impl CommitObserver for Commits {
        fn committed(&self, _took: std::time::Duration, jobs: usize) {
            self.0.lock().unwrap().push(jobs);
        }
    }

    #[test]
    fn jobs_that_arrive_during_a_sync_are_committed_together_when_it_ends() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY)").unwrap();
        let (synced, handed_over, end_sync) = Handover::detached();
        let (signals, queue) = mpsc::channel();
        let commits = Arc::new(Commits::default());
        let observer = commits.clone();
        let thread = std::thread::spawn(move || {
            let mut writer = WriterState { synced, rolled_back: &|| {} };
            run_writer(conn, queue, observer.as_ref(), &mut writer);
        });
        let send = |(job, answer)| {
            signals.send(job).unwrap();
            answer
        };
        let first = send(durable_job(1, false, true));
        let first_sync = handed_over.recv().expect("no sync under way: committed at once");
        let mut later: Vec<_> = (2..4).map(|x| send(job(x, false))).collect();
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert!(later.iter_mut().all(|a| a.try_recv().is_err()), "held while the sync runs");
        first_sync.into_iter().for_each(|work| work.answer(Ok(())));
        end_sync();
        assert!(later.into_iter().all(|a| a.blocking_recv().unwrap().is_ok()));
        assert!(first.blocking_recv().unwrap().is_ok());
        drop(signals);
        thread.join().unwrap();
        assert_eq!(*commits.0.lock().unwrap(), [1, 2], "the two later jobs shared one commit");
    }

    #[tokio::test]
    async fn durable_jobs_are_answered_once_the_wal_is_synced() {
        let dir = std::env::temp_dir().join(crate::model::ids::new_id("hookd-pool-"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let conn = open_connection(&path, false).unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY)").unwrap();
        let (durable_one, synced_answer) = durable_job(1, false, true);
        let (relaxed_one, relaxed_answer) = durable_job(2, false, false);
        let (synced, handed_over, _) = Handover::detached();
        let mut writer = WriterState { synced, rolled_back: &|| {} };
        commit_batch(&conn, &mut writer, vec![durable_one, relaxed_one]);
        assert!(relaxed_answer.await.unwrap().is_ok(), "relaxed: answered at commit");
        let mut synced_answer = synced_answer;
        assert!(synced_answer.try_recv().is_err(), "durable: not answered before the sync");
        let works = handed_over.try_recv().expect("the durable job was handed to the syncer");
        works.into_iter().for_each(|work| work.answer(Ok(())));
        assert!(synced_answer.await.unwrap().is_ok());
        // The real thread, end to end.
        let handover = durable::start(&path).unwrap();
        let (job, answer) = durable_job(3, false, true);
        assert!(handover.send(vec![job.work]).is_ok(), "the sync thread runs");
        assert!(answer.await.is_ok(), "the sync thread answers");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
