//! Background WAL checkpoints for databases without a replication shipper (which owns checkpoints
//! when replication is on). SQLite's auto-checkpoint would run inside the writer's COMMIT, and a
//! checkpoint ends in fsync: every ~1000 pages of WAL one group commit, and every write queued
//! behind it, waited for the disk. Here a separate connection checkpoints PASSIVE-ly (never
//! blocking the writer) after commits, at most once per [`INTERVAL`], so the writer never fsyncs
//! with `synchronous = NORMAL`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;

use super::connection::WAL_SIZE_LIMIT;
use super::writer::WalRestarter;
use super::{CommitSeq, ConnectionOptions, DbError, open_connection};

/// How often at most a checkpoint runs while writes keep coming. The WAL grows by at most what is
/// written in this time (plus what a long reader pins) before its pages are copied back.
const INTERVAL: Duration = Duration::from_millis(200);

/// Past this the WAL is restarted (a RESTART checkpoint by the writer thread right after the
/// PASSIVE one, which copied most frames): under sustained writes a PASSIVE checkpoint never finds
/// the WAL fully copied before the writer adds frames, so the WAL would otherwise only wrap when the
/// load pauses, growing by every frame written (~22 MB/s at 5,000 votes/s), and appending to an
/// ever longer WAL stalled a commit for ~0.4 s every few seconds.
const RESTART_AT: u64 = 16 << 20;

/// Each WAL frame is a page behind a 24-byte header (SQLite's WAL format; `replicate::wal` reads it too).
const WAL_FRAME_HEADER: u64 = 24;

/// How often a WAL that must be truncated is tried again while no commit comes.
const OVERSIZED_RETRY: Duration = Duration::from_secs(2);

/// Past this the WAL is truncated whatever the free space.
const WAL_HARD_LIMIT: u64 = 16 * WAL_SIZE_LIMIT;

/// Whether the WAL must be cut back now with a TRUNCATE checkpoint, which stops new writes until
/// readers leave the WAL and every frame is copied (hundreds of milliseconds under load). Normally
/// `journal_size_limit` cuts the file back for free whenever the WAL wraps, which it does as soon
/// as the load pauses; under sustained writes it keeps growing, and that is only worth a stall when
/// the disk is running out (less free space than the WAL itself) or past [`WAL_HARD_LIMIT`].
fn must_truncate(db: &Path, wal: &Path) -> bool {
    let Ok(len) = std::fs::metadata(wal).map(|m| m.len()) else { return false };
    truncation_due(len, || super::files::disk_space(db).map(|space| space.available))
}

/// The rule of [`must_truncate`], for a WAL of `wal_len` bytes (free space read only when needed).
fn truncation_due(wal_len: u64, available: impl FnOnce() -> Option<u64>) -> bool {
    wal_len > WAL_SIZE_LIMIT && (wal_len > WAL_HARD_LIMIT || available().is_some_and(|free| free < wal_len))
}

/// Starts the checkpoint task; it wakes on the writer's commit counter.
pub fn start(
    runtime: &tokio::runtime::Handle,
    path: &Path,
    opts: &ConnectionOptions,
    mut commits: watch::Receiver<CommitSeq>,
    restarter: WalRestarter,
) -> Result<(), DbError> {
    let conn = open_connection(path, opts, false)?;
    let frame_size = conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))? as u64 + WAL_FRAME_HEADER;
    let conn = Arc::new(Mutex::new(conn));
    let (db, wal) = (path.to_path_buf(), super::files::wal_path(path));
    runtime.spawn(async move {
        // Ends when the writer stops (its commit channel closes); the connection closes with it.
        // Also wakes while the WAL must be cut back and no commit comes (they may be failing because
        // the WAL filled the disk: truncating it is how the node recovers once space returns).
        loop {
            let oversized = || must_truncate(&db, &wal);
            tokio::select! {
                changed = commits.changed() => if changed.is_err() { break },
                _ = tokio::time::sleep(OVERSIZED_RETRY), if oversized() => {}
            }
            let conn = conn.clone();
            let sql = if oversized() { "PRAGMA wal_checkpoint(TRUNCATE)" } else { "PRAGMA wal_checkpoint(PASSIVE)" };
            // (busy, frames in the WAL since it last restarted): the file itself keeps its length
            // up to journal_size_limit after a restart, so only the frames tell how much is in use.
            let done = tokio::task::spawn_blocking(move || {
                conn.lock().query_row(sql, [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            })
            .await;
            match done {
                Ok(Ok((_, frames))) if frames.max(0) as u64 * frame_size > RESTART_AT => {
                    if let Err(e) = restarter.restart().await {
                        tracing::warn!(error = %e, "WAL restart failed; will retry after the next commit");
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "WAL checkpoint failed; will retry after the next commit"),
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint task failed"),
            }
            tokio::time::sleep(INTERVAL).await;
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wal_is_truncated_only_when_the_disk_runs_short_or_past_the_hard_limit() {
        let plenty = || Some(100 * WAL_HARD_LIMIT);
        assert!(!truncation_due(WAL_SIZE_LIMIT, || Some(0)), "at the limit journal_size_limit suffices");
        assert!(!truncation_due(2 * WAL_SIZE_LIMIT, plenty), "over the limit with room to spare: no stall");
        assert!(truncation_due(2 * WAL_SIZE_LIMIT, || Some(WAL_SIZE_LIMIT)), "less free space than the WAL");
        assert!(truncation_due(WAL_HARD_LIMIT + 1, plenty), "past the hard limit whatever the space");
        assert!(!truncation_due(2 * WAL_SIZE_LIMIT, || None), "unknown free space is no reason to stall");
    }

    /// Writers that never pause: without the RESTART checkpoint the WAL grows by every frame.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_writes_that_never_pause() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Database::open(&crate::db::DbOptions::new(dir.path().join("t.db"))).unwrap();
        db.write(|c| c.execute_batch("CREATE TABLE blobs (b BLOB)").map_err(DbError::from)).await.unwrap();
        const BLOB: usize = 8 * 1024;
        let written = 16 * RESTART_AT; // at least: each write also touches table and freelist pages
        let rounds = written as usize / BLOB / 8 + 1;
        let writers: Vec<_> = (0..8)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    for _ in 0..rounds {
                        db.write(|c| {
                            c.execute("INSERT INTO blobs (b) VALUES (zeroblob(?1))", [BLOB as i64])?;
                            c.execute("DELETE FROM blobs WHERE rowid < (SELECT max(rowid) - 16 FROM blobs)", [])
                                .map_err(DbError::from)
                        })
                        .await
                        .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        // The frames since the WAL last restarted (the file itself keeps its size up to
        // journal_size_limit): at most RESTART_AT plus what is written between two checkpoints.
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        // -1 while the background checkpointer holds the checkpoint lock: polled, bounded.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let frames = loop {
            let frames: i64 = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1)).unwrap();
            if frames >= 0 || std::time::Instant::now() > deadline {
                break frames;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert!(frames >= 0, "the WAL could not be read for 10 s");
        let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        let in_wal = frames as u64 * (page as u64 + WAL_FRAME_HEADER);
        assert!(in_wal < written / 2, "the WAL holds {in_wal} bytes of frames after {written} were written");
    }
}
