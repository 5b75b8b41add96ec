//! Durable answers without holding up the writer. A job a client is told has been stored must
//! be on the disk first: its commit's WAL frames fsynced. Done by SQLite inside `COMMIT`
//! (`synchronous=FULL`), that fsync (0.3 to 1 ms here, more on a busy disk) kept the writer
//! thread waiting, so the jobs that arrived meanwhile waited too, for a fourth of its time.
//!
//! So the writer commits with `synchronous=NORMAL` (frames written to the WAL, not synced)
//! and hands the answers of its durable jobs to this thread, which fsyncs the WAL once for
//! everything handed over since its last sync and only then answers. Meanwhile the writer
//! runs the next transaction. The guarantee is the one `FULL` gives: nothing is acknowledged
//! before the WAL frames of its commit are on the disk (an fsync of the WAL that began after
//! they were written). A checkpoint syncs the WAL before it copies frames into the database,
//! and the database after, so frames copied meanwhile are on the disk either way.
//!
//! The writer asks [`Handover::syncing`] before each commit: while a sync runs, it gathers
//! what arrives and commits it when this thread says it is idle (see `pool::run_writer`).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use super::pool::Work;

/// The answers of the durable jobs of one commit.
pub(super) type Works = Vec<Box<dyn Work>>;

/// Where the writer hands the answers of durable jobs whose transaction has committed, and
/// whether a sync is still under way for some handed over.
pub(super) struct Handover {
    works: mpsc::Sender<Works>,
    /// Handovers not yet synced and answered.
    unsynced: Arc<AtomicUsize>,
}

impl Handover {
    /// Hands `works` over; gives them back if the sync thread has stopped.
    pub(super) fn send(&self, works: Works) -> Result<(), Works> {
        self.unsynced.fetch_add(1, Ordering::AcqRel);
        self.works.send(works).map_err(|mpsc::SendError(works)| {
            self.unsynced.fetch_sub(1, Ordering::AcqRel);
            works
        })
    }

    /// Whether a sync has been asked for and has not yet ended.
    pub(super) fn syncing(&self) -> bool {
        self.unsynced.load(Ordering::Acquire) > 0
    }
}

/// Opens the database's WAL (creating it empty and private if SQLite has not yet) and starts
/// the thread that syncs it; `idle` runs each time it has answered everything handed over.
/// The thread ends when the [`Handover`] is dropped, after answering what it was handed.
pub(super) fn start(database: &Path, idle: Box<dyn Fn() + Send>) -> Result<Handover, String> {
    let mut path = database.as_os_str().to_owned();
    path.push("-wal");
    let path = std::path::PathBuf::from(path);
    let wal = crate::security::files::private_file(&path)
        .and_then(|()| File::open(&path))
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let (works, queue) = mpsc::channel();
    let unsynced = Arc::new(AtomicUsize::new(0));
    let counted = unsynced.clone();
    std::thread::Builder::new()
        .name("hookd-sqlite-sync".into())
        .spawn(move || run(wal, queue, &counted, idle.as_ref()))
        .map_err(|e| format!("cannot start the WAL sync thread: {e}"))?;
    Ok(Handover { works, unsynced })
}

fn run(wal: File, queue: mpsc::Receiver<Works>, unsynced: &AtomicUsize, idle: &dyn Fn()) {
    // However this thread ends, the writer must not go on waiting for it.
    let _ended = Ended(unsynced, idle);
    while let Ok(mut ready) = queue.recv() {
        let mut handovers = 1;
        // Everything handed over while the last sync ran shares this one.
        while let Ok(more) = queue.try_recv() {
            ready.extend(more);
            handovers += 1;
        }
        let synced = wal.sync_data().map_err(|e| format!("syncing the WAL to disk failed: {e}"));
        if let Err(why) = &synced {
            tracing::error!(error = %why, jobs = ready.len(), "writes were not acknowledged");
        }
        ready.into_iter().for_each(|work| work.answer(synced.clone()));
        if unsynced.fetch_sub(handovers, Ordering::AcqRel) == handovers {
            idle();
        }
    }
}

/// Says "no sync under way" when dropped: later handovers fail, and their jobs are answered
/// with that failure instead of waiting.
struct Ended<'a>(&'a AtomicUsize, &'a dyn Fn());

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
        (self.1)();
    }
}

#[cfg(test)]
impl Handover {
    /// A handover no thread syncs: the test takes what is handed over from the receiver and,
    /// to end a sync, takes one from the returned count.
    pub(super) fn detached() -> (Self, mpsc::Receiver<Works>, Arc<AtomicUsize>) {
        let (works, queue) = mpsc::channel();
        let unsynced = Arc::new(AtomicUsize::new(0));
        (Self { works, unsynced: unsynced.clone() }, queue, unsynced)
    }
}
