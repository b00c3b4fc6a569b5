//! Litestream-compatible replication of the SQLite database to S3: WAL streaming, restore,
//! backup verification and listing.
//!
//! The bucket uses Litestream 0.5's layout (`<prefix>/<level:04x>/<min>-<max>.ltx`), so the
//! real `litestream restore` (0.5.x) restores what we write, and [`restore`] reads what
//! Litestream 0.5 and 0.3 wrote. Format details: `ltx` (codec), `plan` (restore plan),
//! `v3` (old layout).
//!
//! ## Contract with the app
//! The app's single writer connection runs with `PRAGMA journal_mode=WAL; wal_autocheckpoint=0`
//! and, after each committed group, bumps a `tokio::sync::watch` of [`crate::db::CommitSeq`]
//! (monotonically increasing). The replicator opens its own connections to the database, owns
//! every checkpoint, and holds a read transaction so that no checkpoint passes unshipped
//! frames. Recommended: also set `SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE` on the app's connections,
//! so that a clean restart resumes from the WAL instead of uploading a full snapshot; and stop
//! the writer before calling [`ReplicatorHandle::shutdown`], so the final sync ships the last
//! commits. Call [`Replicator::start`] inside a multi-threaded Tokio runtime.
//!
//! ```ignore
//! let (tx, rx) = watch::channel(CommitSeq::default());     // the writer bumps tx after commits
//! let handle = Replicator::start(opts.clone(), &db_path, rx)?;
//! handle.wait_durable(seq, Duration::from_secs(5)).await?; // ack = "replicated": 503 on Timeout
//! let st = handle.status();                                // metrics / readyz
//! handle.verify(&opts).await?;                              // scheduled drill, exact at a TXID
//! handle.shutdown().await;                                  // final sync
//! // CLI, with or without a running server:
//! replicate::restore(&opts, &out, RestoreTarget::Latest, false, |p| bar.set(p.bytes_done)).await?;
//! replicate::verify(&opts, &live_db).await?;               // `backup verify`
//! replicate::list(&opts).await?;                            // `backup list`: snapshots + TXID range
//! ```
//!
//! ## Configuration (`[replication]`)
//! `url`, `endpoint`, `region`, `force_path_style`, `access_key_id`, `secret_access_key`,
//! `sync_interval`, `snapshot_interval`, `retention`, `ack` and `page_encoding` map onto
//! [`ReplicatorOptions`] fields of the same names (an empty key means `None`, letting the
//! `AWS_*` environment apply). The app applies the other keys itself:
//! `replicated_ack_timeout` is the timeout passed to [`ReplicatorHandle::wait_durable`];
//! `restore_if_missing` means calling [`restore`] before opening a missing database;
//! `verify_interval` schedules [`ReplicatorHandle::verify`].
//!
//! ## Behaviour
//! Local-ack mode keeps the app running while S3 is down: the WAL keeps every unshipped
//! frame (nothing unshipped is checkpointed) and the backlog ships, without a TXID gap, when
//! S3 is back. In replicated-ack mode [`ReplicatorHandle::wait_durable`] returns
//! [`ReplicateError::Timeout`] instead, which the app turns into 503 + Retry-After. The first
//! sync of an empty bucket uploads the whole database as TXID 1 and an L9 snapshot; L9
//! snapshots follow every `snapshot_interval`, compactions every 30s/5m/1h, and retention
//! keeps what the newest restore needs (see `shipper`, `compact`).
//!
//! Limits: each LTX file is built and downloaded in memory (a snapshot is about the
//! compressed database size); create-only L0 uploads are single PUTs (up to 5 GiB). The
//! shutdown's final sync retries for up to 15 s when S3 is unreachable. Await
//! [`ReplicatorHandle::shutdown`] before the Tokio runtime ends.

pub(crate) mod apply;
pub(crate) mod bucket;
pub(crate) mod compact;
mod db_file;
pub(crate) mod error;
pub(crate) mod follow;
pub(crate) mod listing;
mod listing_table;
pub mod ltx;
pub(crate) mod lz4;
pub(crate) mod options;
pub(crate) mod plan;
pub(crate) mod restore;
pub(crate) mod restored;
mod shipper;
pub(crate) mod snapshot;
pub(crate) mod status;
pub(crate) mod storage;
mod txid;
pub(crate) mod v3;
pub(crate) mod verify;
pub(crate) mod wal;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::db::CommitSeq;

pub use error::ReplicateError;
pub use listing::list;
pub use options::{AckMode, PageEncoding, ReplicatorOptions};
pub use plan::RestoreTarget;
pub use restore::{RestoreSource, restore};
pub(crate) use status::ReplicationStatus;
pub use txid::Txid;
// For tests: the bucket as replication lays it out, a follower's applier and sidecar, the
// in-memory bucket with its fault schedule.
pub use bucket::Store as BucketStore;
pub use follow::{Applier, Sidecar};
pub use storage::{FaultPlan, MemoryClient};
pub(crate) use verify::VerifyReport;
pub use verify::{LiveComparison, verify};

pub(crate) use shipper::ContinueFrom;
use shipper::{Command, Shipper};
use status::Shared;

/// Starts replication; see the module docs.
pub struct Replicator;

impl Replicator {
    /// Opens the database (which must exist and be in WAL mode), then ships in a dedicated
    /// thread and compacts in a background task. Failing to reach S3 is not an error here:
    /// the shipper keeps retrying and reports through [`ReplicatorHandle::status`].
    pub fn start(
        opts: ReplicatorOptions,
        db_path: &Path,
        commits: watch::Receiver<CommitSeq>,
    ) -> Result<ReplicatorHandle, ReplicateError> {
        Self::start_with(opts, db_path, commits, None)
    }

    /// Starts a promoted standby's replication: the bucket's history ends at `txid`, and the
    /// local database file holds exactly that state with an empty WAL (the caller checkpointed
    /// with TRUNCATE and nothing wrote since). Every WAL frame written from now on ships as
    /// `txid + 1`, `txid + 2`, … If the bucket has moved past `txid` by the time the shipper
    /// lists it, it ships a full snapshot as the next TXID instead (never a wrong increment).
    pub fn start_continuing(
        opts: ReplicatorOptions,
        db_path: &Path,
        commits: watch::Receiver<CommitSeq>,
        txid: Txid,
    ) -> Result<ReplicatorHandle, ReplicateError> {
        let wal = {
            let mut s = db_path.as_os_str().to_owned();
            s.push("-wal");
            std::path::PathBuf::from(s)
        };
        let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        if wal_len != 0 {
            return Err(ReplicateError::Config(format!(
                "{} holds {wal_len} bytes; continuing the TXID sequence needs an empty WAL",
                wal.display()
            )));
        }
        let conn = rusqlite::Connection::open_with_flags(db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| ReplicateError::sqlite(format!("open {}", db_path.display()), e))?;
        let commit: u32 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .map_err(|e| ReplicateError::sqlite("read page_count", e))?;
        drop(conn);
        Self::start_with(opts, db_path, commits, Some(ContinueFrom { txid, commit }))
    }

    fn start_with(
        opts: ReplicatorOptions,
        db_path: &Path,
        commits: watch::Receiver<CommitSeq>,
        continue_from: Option<ContinueFrom>,
    ) -> Result<ReplicatorHandle, ReplicateError> {
        opts.validate()?;
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| ReplicateError::Config("Replicator::start must be called inside a Tokio runtime".into()))?;
        let store = bucket::Store::new(&opts)?;
        let shared = Arc::new(Shared::new());
        let mut shipper =
            Shipper::open(opts.clone(), store.clone(), rt.clone(), db_path, commits.clone(), Arc::clone(&shared))?;
        if let Some(from) = continue_from {
            shipper = shipper.continuing(from);
        }
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (exited_tx, exited_rx) = oneshot::channel();
        let shipper_rt = rt.clone();
        std::thread::Builder::new()
            .name("replicate-shipper".into())
            .spawn(move || {
                // In the runtime's context: the shipper's deadlines read the runtime's clock
                // (tokio's, which the failover simulation pauses and advances).
                let _context = shipper_rt.enter();
                shipper.run(cmd_rx);
                let _ = exited_tx.send(());
            })
            .map_err(|e| ReplicateError::io("start the replication thread", e))?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let compactor = rt.spawn(compact::run(opts, store, Arc::clone(&shared), stop_rx));
        Ok(ReplicatorHandle {
            shared,
            commits,
            cmd: cmd_tx,
            exited: Some(exited_rx),
            stop_compactor: stop_tx,
            compactor: Some(compactor),
        })
    }
}

/// Controls a running replicator. Dropping it stops replication (with a final sync, in the
/// background); prefer [`ReplicatorHandle::shutdown`].
pub struct ReplicatorHandle {
    shared: Arc<Shared>,
    commits: watch::Receiver<CommitSeq>,
    cmd: mpsc::UnboundedSender<Command>,
    exited: Option<oneshot::Receiver<()>>,
    stop_compactor: watch::Sender<bool>,
    compactor: Option<tokio::task::JoinHandle<()>>,
}

impl ReplicatorHandle {
    /// Waits until commit `seq` is stored in S3, or fails with [`ReplicateError::Timeout`]
    /// ([`ReplicateError::Fenced`] if another writer took over the bucket).
    pub async fn wait_durable(&self, seq: CommitSeq, timeout: Duration) -> Result<(), ReplicateError> {
        let fenced = || ReplicateError::Fenced { key: "(see the replication log)".into() };
        let mut shipped = self.shared.shipped.subscribe();
        let mut fenced_rx = self.shared.fenced.subscribe();
        if *fenced_rx.borrow() {
            return Err(fenced());
        }
        if *shipped.borrow() >= seq {
            return Ok(());
        }
        if !self.shared.inner.lock().running {
            return Err(ReplicateError::Stopped);
        }
        tokio::select! {
            r = shipped.wait_for(|v| *v >= seq) => r.map(|_| ()).map_err(|_| ReplicateError::Stopped),
            _ = fenced_rx.wait_for(|f| *f) => Err(fenced()),
            _ = tokio::time::sleep(timeout) => Err(ReplicateError::Timeout { seq, waited: timeout }),
        }
    }

    /// Backup drill with an exact comparison: takes the digest of the database as of the
    /// newest TXID in S3 (from the shipper, which knows exactly which frames that TXID
    /// covers), restores precisely that TXID into a temporary directory, checks integrity and
    /// compares. Fails with [`ReplicateError::VerifyMismatch`] if the backup differs.
    pub async fn verify(&self, opts: &ReplicatorOptions) -> Result<VerifyReport, ReplicateError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Command::ShippedDigest(tx)).map_err(|_| ReplicateError::Stopped)?;
        let d = rx.await.map_err(|_| ReplicateError::Stopped)??;
        verify::verify_against(opts, d.txid, d.page_size, d.pages, d.digest).await
    }

    /// Replication health for metrics and readiness.
    pub fn status(&self) -> ReplicationStatus {
        self.shared.snapshot(*self.commits.borrow())
    }

    /// Stops at once without a final sync, and uploads nothing from now on (an upload already
    /// in flight may still land): for a node that lost its lease and must not write to the
    /// bucket. The thread exits in the background; [`ReplicatorHandle::status`] shows
    /// `running == false` once it has.
    pub fn abandon(&self) {
        self.shared.abandoned.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.stop_compactor.send(true);
        let (tx, _rx) = oneshot::channel();
        let _ = self.cmd.send(Command::Shutdown(tx));
    }

    /// Stops: a final sync ships what is committed, then the thread and tasks end.
    pub async fn shutdown(mut self) {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Command::Shutdown(tx)).is_ok() {
            let _ = rx.await;
        }
        if let Some(exited) = self.exited.take() {
            let _ = exited.await;
        }
        let _ = self.stop_compactor.send(true);
        if let Some(c) = self.compactor.take() {
            let _ = c.await;
        }
    }
}

impl Drop for ReplicatorHandle {
    fn drop(&mut self) {
        let _ = self.stop_compactor.send(true);
    }
}
