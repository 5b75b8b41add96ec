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

use std::fs::File;
use std::path::Path;
use std::sync::mpsc;

use super::pool::Work;

/// Where the writer hands the answers of durable jobs whose transaction has committed.
pub(super) type Handover = mpsc::Sender<Vec<Box<dyn Work>>>;

/// Opens the database's WAL (creating it empty and private if SQLite has not yet) and starts
/// the thread that syncs it. The thread ends when the last [`Handover`] is dropped, after
/// answering what it was handed.
pub(super) fn start(database: &Path) -> Result<Handover, String> {
    let mut path = database.as_os_str().to_owned();
    path.push("-wal");
    let path = std::path::PathBuf::from(path);
    let wal = crate::security::files::private_file(&path)
        .and_then(|()| File::open(&path))
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let (handover, queue) = mpsc::channel();
    std::thread::Builder::new()
        .name("hookd-sqlite-sync".into())
        .spawn(move || run(wal, queue))
        .map_err(|e| format!("cannot start the WAL sync thread: {e}"))?;
    Ok(handover)
}

fn run(wal: File, queue: mpsc::Receiver<Vec<Box<dyn Work>>>) {
    while let Ok(mut ready) = queue.recv() {
        // Everything handed over while the last sync ran shares this one.
        while let Ok(more) = queue.try_recv() {
            ready.extend(more);
        }
        let synced = wal.sync_data().map_err(|e| format!("syncing the WAL to disk failed: {e}"));
        if let Err(why) = &synced {
            tracing::error!(error = %why, jobs = ready.len(), "writes were not acknowledged");
        }
        ready.into_iter().for_each(|work| work.answer(synced.clone()));
    }
}
