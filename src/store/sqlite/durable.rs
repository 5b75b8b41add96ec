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
//! The writer waits with [`Handover::wait_until_synced`] before each commit: while a sync
//! runs, what arrives stays queued, and is committed together when this thread is idle (see
//! `pool::run_writer`).

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};

use super::pool::Work;

/// The answers of the durable jobs of one commit.
pub(super) type Works = Vec<Box<dyn Work>>;

/// Where the writer hands the answers of durable jobs whose transaction has committed, and
/// whether a sync is still under way for some handed over.
pub(super) struct Handover {
    works: mpsc::Sender<Works>,
    unsynced: Arc<Unsynced>,
}

impl Handover {
    /// Hands `works` over; gives them back if the sync thread has stopped.
    pub(super) fn send(&self, works: Works) -> Result<(), Works> {
        self.unsynced.count.fetch_add(1, Ordering::AcqRel);
        self.works.send(works).map_err(|mpsc::SendError(works)| {
            self.unsynced.done(1);
            works
        })
    }

    /// Returns once no sync is under way (at once if none is).
    pub(super) fn wait_until_synced(&self) {
        let mut guard = self.unsynced.lock.lock().unwrap_or_else(|p| p.into_inner());
        while self.unsynced.count.load(Ordering::Acquire) > 0 {
            guard = self.unsynced.idle.wait(guard).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Handovers not yet synced and answered, and a signal each time none is left.
#[derive(Default)]
struct Unsynced {
    count: AtomicUsize,
    /// Held to tell the writer, so the signal cannot fall between its look at `count` and
    /// its wait.
    lock: Mutex<()>,
    idle: Condvar,
}

impl Unsynced {
    /// `n` handovers are answered (or will never be). Saturating: a handover that fails
    /// after the thread has ended and reset the count must not wrap it round, or the writer
    /// would wait for a sync that never comes.
    fn done(&self, n: usize) {
        let before = self
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| Some(c.saturating_sub(n)));
        if before.is_ok_and(|c| c <= n) {
            self.tell_idle();
        }
    }

    fn tell_idle(&self) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.idle.notify_all();
    }
}

/// Opens the database's WAL (creating it empty and private if SQLite has not yet) and starts
/// the thread that syncs it. The thread ends when the [`Handover`] is dropped, after
/// answering what it was handed.
pub(super) fn start(database: &Path) -> Result<Handover, String> {
    let mut path = database.as_os_str().to_owned();
    path.push("-wal");
    let path = std::path::PathBuf::from(path);
    let wal = crate::security::files::private_file(&path)
        .and_then(|()| File::open(&path))
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let (works, queue) = mpsc::channel();
    let unsynced = Arc::new(Unsynced::default());
    let counted = unsynced.clone();
    std::thread::Builder::new()
        .name("hookd-sqlite-sync".into())
        .spawn(move || run(wal, queue, &counted))
        .map_err(|e| format!("cannot start the WAL sync thread: {e}"))?;
    Ok(Handover { works, unsynced })
}

fn run(wal: File, queue: mpsc::Receiver<Works>, unsynced: &Unsynced) {
    // However this thread ends, the writer must not go on waiting for it. The queue is
    // rebound after the guard so that it is dropped first: from then on a handover fails
    // (and is counted out) instead of being left in a queue nobody reads.
    let _ended = Ended(unsynced);
    let queue = queue;
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
        unsynced.done(handovers);
    }
}

/// Says "no sync under way" when dropped: later handovers fail, and their jobs are answered
/// with that failure instead of waiting.
struct Ended<'a>(&'a Unsynced);

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        self.0.count.store(0, Ordering::Release);
        self.0.tell_idle();
    }
}

#[cfg(test)]
impl Handover {
    /// A handover no thread syncs: the test takes what is handed over from the receiver and
    /// ends a sync with the returned function.
    pub(super) fn detached() -> (Self, mpsc::Receiver<Works>, impl Fn() + Send) {
        let (works, queue) = mpsc::channel();
        let unsynced = Arc::new(Unsynced::default());
        let counted = unsynced.clone();
        (Self { works, unsynced }, queue, move || counted.done(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handover_counted_out_after_the_thread_ended_leaves_no_sync_waited_for() {
        let (handover, queue, end_sync) = Handover::detached();
        drop(queue); // the sync thread is gone: handovers fail
        assert!(handover.send(Vec::new()).is_err());
        // A count-out that comes after the thread's end reset the count to zero.
        end_sync();
        assert_eq!(handover.unsynced.count.load(Ordering::Acquire), 0, "not wrapped round");
        handover.wait_until_synced(); // returns at once
    }
}
