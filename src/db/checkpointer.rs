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

use super::{ConnectionOptions, DbError, open_connection};

/// How often at most a checkpoint runs while writes keep coming. The WAL grows by at most what is
/// written in this time (plus what a long reader pins) before its pages are copied back.
const INTERVAL: Duration = Duration::from_millis(200);

/// Starts the checkpoint task; it wakes on the writer's commit counter.
pub fn start(
    runtime: &tokio::runtime::Handle,
    path: &Path,
    opts: &ConnectionOptions,
    mut commits: watch::Receiver<u64>,
) -> Result<(), DbError> {
    let conn = Arc::new(Mutex::new(open_connection(path, opts, false)?));
    runtime.spawn(async move {
        // Ends when the writer stops (its commit channel closes); the connection closes with it.
        while commits.changed().await.is_ok() {
            let conn = conn.clone();
            let done = tokio::task::spawn_blocking(move || {
                conn.lock().query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0))
            })
            .await;
            match done {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "WAL checkpoint failed; will retry after the next commit"),
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint task failed"),
            }
            tokio::time::sleep(INTERVAL).await;
        }
    });
    Ok(())
}
