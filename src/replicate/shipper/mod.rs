//! The shipper: a dedicated thread that ships new WAL frames as L0 files and owns every checkpoint.
//!
//! Each sync turns the new frames into one L0 file, uploads it create-only and publishes what
//! is durable.
//!
//! ## Why nothing is lost
//! * The app's writer runs with `wal_autocheckpoint=0`; only this thread checkpoints, and only
//!   frames already in S3. Between syncs it holds a read transaction begun before the WAL was
//!   read: SQLite never copies frames past an open reader's snapshot, so even a checkpoint by
//!   another process cannot pass unshipped frames or restart the WAL under us.
//! * SQLite restarts the WAL (new salts, overwriting from the start) only when every frame
//!   was backfilled. Since backfill stops at shipped frames, a restart can only happen when
//!   everything is shipped; the shipper then reads the new generation from its start. A new
//!   generation it did not expect (another process checkpointed) triggers a full snapshot.
//! * A checkpoint runs with the app's writer briefly held off by a write lock
//!   (`BEGIN IMMEDIATE` on a connection of ours, like Litestream's checkpoint barrier): the
//!   last frames are read into an L0 file in memory (staged), then every frame is copied, and
//!   the lock is released before the staged file is uploaded, so the writer never waits for
//!   the bucket. Those last frames are the one exception to "only shipped frames are
//!   checkpointed": the staged file is uploaded before anything newer ships (a failed upload is
//!   retried as is), and a process that dies before it lands finds the bucket's position gone
//!   from its WAL at the next start and ships a full snapshot. Without the lock a writer that
//!   keeps committing would always start its next transaction before the checkpoint completes,
//!   and SQLite restarts the WAL only from a transaction that began after a complete checkpoint
//!   — the WAL would grow forever.
//! * TXIDs: each upload is `previous + 1`; a failed upload is rebuilt (with any newer frames)
//!   under the same TXID on the next attempt — the frames are still in the WAL because
//!   nothing unshipped is checkpointed. L0 keys are written with `If-None-Match: *`: if the key
//!   exists, it is either our own earlier attempt whose response was lost (same node id and
//!   WAL range start) or another writer's, and then this node is fenced and stops.
//! * On start the shipper resumes from the newest L0 file's WAL range (salts + offset) when
//!   the local WAL still holds it, else it ships a full snapshot as the next TXID.
//!
//! ## Layout
//! `cursor` (the shipped position in the WAL and the read transaction that guards it),
//! `upload` (building and uploading L0 files, fencing), `checkpoint`, `snapshots` (L9
//! snapshots and the digest of the shipped state) and `run` (the command loop).

mod checkpoint;
mod cursor;
mod run;
mod snapshots;
mod upload;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, config::DbConfig};
use tokio::runtime::Handle;
use tokio::sync::{oneshot, watch};

use super::bucket::Store;
use super::error::ReplicateError;
use super::options::ReplicatorOptions;
use super::status::Shared;
use super::txid::Txid;
use super::wal;
use crate::db::CommitSeq;
use cursor::Position;

/// Upper bound for one upload; the next sync retries.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_BACKOFF_LOCAL: Duration = Duration::from_secs(30);
const MAX_BACKOFF_REPLICATED: Duration = Duration::from_secs(2);
/// The WAL one round of the shipper should cover under heavy writes (`run.rs`, `round_interval`);
/// well under the 64 MiB `journal_size_limit` (`db::WAL_SIZE_LIMIT`).
const WAL_BYTES_PER_ROUND: u64 = 16 << 20;
/// The shortest wait between two rounds when writes fill the WAL fast. Each round ends with a
/// checkpoint that holds the write lock while it reads the last frames and copies the WAL into
/// the database file, so rounds are kept at most four a second; that still keeps a round's WAL
/// under 64 MiB up to ~250 MB of WAL a second.
const MIN_SYNC_INTERVAL: Duration = Duration::from_millis(250);
/// Time the final sync on shutdown may take.
const FINAL_SYNC_BUDGET: Duration = Duration::from_secs(15);

pub(crate) enum Command {
    Shutdown(oneshot::Sender<()>),
    /// Digest of the database exactly as of the last TXID in S3 (for backup drills).
    ShippedDigest(oneshot::Sender<Result<ShippedDigest, ReplicateError>>),
}

/// The state a TXID stands for, as a page digest (see `verify::digest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShippedDigest {
    pub txid: Txid,
    pub page_size: u32,
    pub pages: u32,
    pub digest: u64,
}

/// Where a promoted standby's shipper starts: the bucket's history ends at `txid`, and the local
/// database file alone (an empty WAL) holds exactly that state, `commit` pages long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContinueFrom {
    pub txid: Txid,
    pub commit: u32,
}

/// What a sync (or a whole round) leaves to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SyncOutcome {
    /// Everything read was shipped, or nothing new could be read: wait for the next commit or tick.
    CaughtUp,
    /// An earlier attempt of this TXID had landed: sync again at once to ship the rest.
    ShipAgain,
}

pub(crate) struct Shipper {
    opts: ReplicatorOptions,
    store: Store,
    rt: Handle,
    wal_path: PathBuf,
    /// Kept open for the life of the process (see `db_file`): closing it would drop SQLite's locks.
    db_file: Arc<File>,
    /// Holds a read transaction, so no checkpoint can pass what was read.
    reader: Connection,
    reading: bool,
    checkpointer: Connection,
    /// Takes the write lock for the rare blocking checkpoint.
    locker: Connection,
    node_id: u64,
    page_size: u32,
    initialized: bool,
    txid: Txid,
    pos: Option<Position>,
    /// Latest shipped frame of each page in the current WAL generation.
    gen_pages: BTreeMap<u32, u64>,
    /// Everything shipped was checkpointed: a WAL restart is expected and harmless.
    restart_expected: bool,
    /// The L0 file of the last checkpoint's locked step, built there and uploaded after it.
    staged: Option<upload::Staged>,
    last_snapshot: Option<(DateTime<Utc>, Txid)>,
    snapshot_upload: Option<(Txid, tokio::task::JoinHandle<Result<(), ReplicateError>>)>,
    commits: watch::Receiver<CommitSeq>,
    shared: Arc<Shared>,
    fenced: bool,
    /// After an incomplete checkpoint, wait for the WAL to reach this many frames.
    next_checkpoint_frames: u64,
    /// Due checkpoints postponed in a row because the writer kept ahead of the bucket.
    checkpoints_postponed: u32,
    /// Set for a promoted standby (see [`ContinueFrom`]); used once, by `init`.
    continue_from: Option<ContinueFrom>,
}

fn open_conn(path: &Path, what: &str) -> Result<Connection, ReplicateError> {
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| ReplicateError::sqlite(format!("open {} ({what})", path.display()), e))?;
    let ctx = |e| ReplicateError::sqlite(format!("configure {what} connection"), e);
    c.busy_timeout(Duration::from_secs(5)).map_err(ctx)?;
    c.pragma_update(None, "wal_autocheckpoint", 0).map_err(ctx)?;
    // Keep the WAL when our connection is the last to close: a restart then resumes from it
    // instead of shipping a full snapshot.
    c.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true).map_err(ctx)?;
    Ok(c)
}

fn wal_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Litestream's `PrevCompactionAt`: the last multiple of `interval` (since the epoch) ≤ now.
pub(crate) fn prev_boundary(now: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    let step = interval.as_millis().max(1) as i64;
    let ms = now.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(step)).unwrap_or(now)
}

impl Shipper {
    pub(crate) fn open(
        opts: ReplicatorOptions,
        store: Store,
        rt: Handle,
        db_path: &Path,
        commits: watch::Receiver<CommitSeq>,
        shared: Arc<Shared>,
    ) -> Result<Shipper, ReplicateError> {
        let reader = open_conn(db_path, "replication reader")?;
        let mode: String = reader
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| ReplicateError::sqlite("read journal_mode", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(ReplicateError::Config(format!(
                "{} is in journal_mode={mode}; replication needs WAL",
                db_path.display()
            )));
        }
        let page_size: u32 = reader
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(|e| ReplicateError::sqlite("read page_size", e))?;
        let checkpointer = open_conn(db_path, "checkpoint")?;
        let mut locker = open_conn(db_path, "checkpoint lock")?;
        // Poll the write lock every millisecond (SQLite's default handler backs off to 100 ms
        // sleeps and loses to a busy writer every time), for at most ~250 ms.
        fn poll_write_lock(attempt: i32) -> bool {
            std::thread::sleep(Duration::from_millis(1));
            attempt < 250
        }
        locker
            .busy_handler(Some(poll_write_lock))
            .map_err(|e| ReplicateError::sqlite("configure checkpoint lock connection", e))?;
        let db_file = super::db_file::database_file(db_path)
            .map_err(|e| ReplicateError::io(format!("open {}", db_path.display()), e))?;
        Ok(Shipper {
            opts,
            store,
            rt,
            wal_path: wal_path(db_path),
            db_file,
            reader,
            reading: false,
            checkpointer,
            locker,
            node_id: rand::random::<u64>() | 1,
            page_size,
            initialized: false,
            txid: Txid::ZERO,
            pos: None,
            gen_pages: BTreeMap::new(),
            restart_expected: false,
            staged: None,
            last_snapshot: None,
            snapshot_upload: None,
            commits,
            shared,
            fenced: false,
            next_checkpoint_frames: 0,
            checkpoints_postponed: 0,
            continue_from: None,
        })
    }

    /// Makes a promoted standby continue the bucket's TXID sequence (see [`ContinueFrom`]).
    pub(crate) fn continuing(mut self, from: ContinueFrom) -> Shipper {
        self.continue_from = Some(from);
        self
    }

    fn frame_size(&self) -> u64 {
        wal::FRAME_HEADER_SIZE + u64::from(self.page_size)
    }
}
