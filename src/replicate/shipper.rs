//! The shipper: a dedicated thread that turns new WAL frames into one L0 file per sync,
//! uploads it create-only, publishes what is durable, and owns every checkpoint.
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
//!   last frames are shipped, then every frame is copied. Without the lock a writer that keeps
//!   committing would always start its next transaction before the checkpoint completes, and
//!   SQLite restarts the WAL only from a transaction that began after a complete checkpoint —
//!   the WAL would grow forever.
//! * TXIDs: each upload is `previous + 1`; a failed upload is rebuilt (with any newer frames)
//!   under the same TXID on the next attempt — the frames are still in the WAL because
//!   nothing unshipped is checkpointed. L0 keys are written with `If-None-Match: *`: if the key
//!   exists, it is either our own earlier attempt whose response was lost (same node id and
//!   WAL range start) or another writer's, and then this node is fenced and stops.
//! * On start the shipper resumes from the newest L0 file's WAL range (salts + offset) when
//!   the local WAL still holds it, else it ships a full snapshot as the next TXID.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, config::DbConfig};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, watch};

use super::bucket::{CreateOutcome, SNAPSHOT_LEVEL, Store};
use super::error::ReplicateError;
use super::ltx::{HEADER_FLAG_NO_CHECKSUM, HEADER_SIZE, Header};
use super::options::{AckMode, ReplicatorOptions};
use super::snapshot::{build_full, build_incremental};
use super::status::Shared;
use super::wal::{self, WAL_HEADER_SIZE, WalHeader, WalPos};

/// Upper bound for one upload; the next sync retries.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound for an upload while the app's writer is blocked.
const LOCKED_UPLOAD_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_BACKOFF_LOCAL: Duration = Duration::from_secs(30);
const MAX_BACKOFF_REPLICATED: Duration = Duration::from_secs(2);
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
    pub txid: u64,
    pub page_size: u32,
    pub pages: u32,
    pub digest: u64,
}

/// Where a promoted standby's shipper starts: the bucket's history ends at `txid`, and the local
/// database file alone (an empty WAL) holds exactly that state, `commit` pages long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContinueFrom {
    pub txid: u64,
    pub commit: u32,
}

/// The shipped position: just after the last shipped commit frame, and the database size then.
#[derive(Debug, Clone, Copy)]
struct Position {
    wal: WalPos,
    commit: u32,
}

/// Placeholder generation for "no WAL existed": any real generation is read from its start.
const NO_WAL: WalPos = WalPos { salt1: 0, salt2: 0, offset: WAL_HEADER_SIZE, checksum: (0, 0) };

enum Step {
    /// Nothing new can be read now; `publish` when that proves everything is shipped.
    Nothing {
        publish: bool,
    },
    Full,
    Incremental {
        from: WalPos,
        new_generation: bool,
    },
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
    txid: u64,
    pos: Option<Position>,
    /// Latest shipped frame of each page in the current WAL generation.
    gen_pages: BTreeMap<u32, u64>,
    /// Everything shipped was checkpointed: a WAL restart is expected and harmless.
    restart_expected: bool,
    last_snapshot: Option<(DateTime<Utc>, u64)>,
    snapshot_upload: Option<(u64, tokio::task::JoinHandle<Result<(), ReplicateError>>)>,
    commits: watch::Receiver<u64>,
    shared: Arc<Shared>,
    fenced: bool,
    upload_timeout: Duration,
    /// After an incomplete checkpoint, wait for the WAL to reach this many frames.
    next_checkpoint_frames: u64,
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
        commits: watch::Receiver<u64>,
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
            txid: 0,
            pos: None,
            gen_pages: BTreeMap::new(),
            restart_expected: false,
            last_snapshot: None,
            snapshot_upload: None,
            commits,
            shared,
            fenced: false,
            upload_timeout: UPLOAD_TIMEOUT,
            next_checkpoint_frames: 0,
            continue_from: None,
        })
    }

    fn begin_read(&mut self) -> Result<(), ReplicateError> {
        if !self.reading {
            let r = self
                .reader
                .execute_batch("BEGIN")
                .and_then(|()| self.reader.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())));
            if let Err(e) = r {
                // Leave no half-open transaction behind for the next attempt.
                let _ = self.reader.execute_batch("ROLLBACK");
                return Err(ReplicateError::sqlite("begin the replication read transaction", e));
            }
            self.reading = true;
        }
        Ok(())
    }

    fn end_read(&mut self) {
        if self.reading {
            if let Err(e) = self.reader.execute_batch("COMMIT") {
                tracing::warn!(error = %e, "ending the replication read transaction failed");
                let _ = self.reader.execute_batch("ROLLBACK");
            }
            self.reading = false;
        }
    }

    /// Makes a promoted standby continue the bucket's TXID sequence (see [`ContinueFrom`]).
    pub(crate) fn continuing(mut self, from: ContinueFrom) -> Shipper {
        self.continue_from = Some(from);
        self
    }

    fn frame_size(&self) -> u64 {
        wal::FRAME_HEADER_SIZE + u64::from(self.page_size)
    }

    /// The main loop; returns when told to stop (after a final sync).
    pub(crate) fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Command>) {
        tracing::info!(url = self.store.url(), ack = ?self.opts.ack, "replication started");
        let mut next_sync = Instant::now();
        let mut backoff = Duration::ZERO;
        let mut commits_open = true;
        let replicated = self.opts.ack == AckMode::Replicated;
        let done: Option<oneshot::Sender<()>> = loop {
            enum Wake {
                Stop(Option<oneshot::Sender<()>>),
                Digest(oneshot::Sender<Result<ShippedDigest, ReplicateError>>),
                Commit,
                CommitsClosed,
                Tick,
            }
            let wake_on_commit = replicated && commits_open && backoff.is_zero() && !self.fenced;
            let rt = self.rt.clone();
            let commits = &mut self.commits;
            let wake = rt.block_on(async {
                tokio::select! {
                    cmd = cmds.recv() => match cmd {
                        Some(Command::Shutdown(tx)) => Wake::Stop(Some(tx)),
                        Some(Command::ShippedDigest(tx)) => Wake::Digest(tx),
                        None => Wake::Stop(None),
                    },
                    r = commits.changed(), if wake_on_commit => {
                        if r.is_ok() { Wake::Commit } else { Wake::CommitsClosed }
                    }
                    _ = tokio::time::sleep_until(next_sync.into()) => Wake::Tick,
                }
            });
            match wake {
                Wake::Stop(tx) => break tx,
                Wake::Digest(tx) => {
                    let _ = tx.send(self.shipped_digest());
                    continue;
                }
                Wake::CommitsClosed => {
                    commits_open = false;
                    continue;
                }
                Wake::Commit | Wake::Tick => {}
            }
            if self.shared.is_abandoned() {
                break None;
            }
            if self.fenced {
                next_sync = Instant::now() + Duration::from_secs(3600);
                continue;
            }
            match self.cycle(false) {
                Ok(again) => {
                    backoff = Duration::ZERO;
                    next_sync = if again { Instant::now() } else { Instant::now() + self.opts.sync_interval };
                }
                Err(e) => {
                    self.shared.record_error(&e);
                    if let ReplicateError::Fenced { .. } = e {
                        self.fenced = true;
                        self.shared.set_fenced();
                        tracing::error!(error = %e, "replication stopped: fenced by another writer");
                        continue;
                    }
                    let max = if replicated { MAX_BACKOFF_REPLICATED } else { MAX_BACKOFF_LOCAL };
                    backoff = (backoff * 2).clamp(Duration::from_millis(250), max);
                    tracing::warn!(error = %e, retry_in = ?backoff, "replication sync failed");
                    next_sync = Instant::now() + backoff;
                }
            }
        };
        self.final_sync();
        self.end_read();
        self.shared.inner.lock().running = false;
        tracing::info!(txid = format!("{:016x}", self.txid), "replication stopped");
        if let Some(tx) = done {
            let _ = tx.send(());
        }
    }

    /// Ships what is left before stopping, retrying within a time budget.
    fn final_sync(&mut self) {
        if self.fenced || self.shared.is_abandoned() {
            return;
        }
        let deadline = Instant::now() + FINAL_SYNC_BUDGET;
        let mut delay = Duration::from_millis(200);
        loop {
            match self.cycle(true) {
                Ok(true) => continue,
                Ok(false) => return,
                Err(e) => {
                    self.shared.record_error(&e);
                    if Instant::now() + delay > deadline || matches!(e, ReplicateError::Fenced { .. }) {
                        tracing::error!(error = %e, "final replication sync failed; unshipped commits stay in the local WAL");
                        return;
                    }
                    std::thread::sleep(delay);
                    delay *= 2;
                }
            }
        }
    }

    /// One round: connect to the bucket if needed, ship, snapshot, checkpoint. Returns true
    /// when another round should follow at once (an earlier attempt had landed).
    fn cycle(&mut self, shutting_down: bool) -> Result<bool, ReplicateError> {
        if !self.initialized {
            self.init()?;
        }
        let again = self.sync()?;
        if again || shutting_down {
            return Ok(again);
        }
        self.maybe_snapshot();
        self.maybe_checkpoint()?;
        Ok(false)
    }

    /// Learns the bucket's TXID and where in the local WAL it ends.
    fn init(&mut self) -> Result<(), ReplicateError> {
        let files = self.rt.block_on(self.store.list_all())?;
        let max = files.iter().map(|f| f.max_txid).max().unwrap_or(0);
        self.last_snapshot = files
            .iter()
            .filter(|f| f.level == SNAPSHOT_LEVEL)
            .max_by_key(|f| f.max_txid)
            .map(|f| (f.created_at, f.max_txid));
        self.txid = max;
        self.pos = None;
        if let Some(l0) = files.iter().find(|f| f.level == 0 && f.max_txid == max && max > 0) {
            let b = self.rt.block_on(self.store.get_range(&l0.key, 0..HEADER_SIZE as u64))?;
            let h = Header::parse(&b).map_err(|e| ReplicateError::corrupt(&l0.key, e))?;
            self.pos = self.resume_position(&h)?;
        }
        {
            let mut s = self.shared.inner.lock();
            s.txid = max;
            if let Some((at, txid)) = self.last_snapshot {
                s.last_snapshot_at = Some(at.into());
                s.last_snapshot_txid = txid;
            }
        }
        if let Some(from) = self.continue_from.take() {
            if from.txid == max && max > 0 {
                // The database file is the shipped state; every WAL frame that appears is new.
                self.pos = Some(Position { wal: NO_WAL, commit: from.commit });
                self.gen_pages.clear();
                self.restart_expected = true;
                tracing::info!(txid = format!("{max:016x}"), "continuing the bucket's TXID sequence after promotion");
                self.initialized = true;
                return Ok(());
            }
            tracing::warn!(
                expected = format!("{:016x}", from.txid),
                bucket = format!("{max:016x}"),
                "the bucket moved on since the promotion; shipping a full snapshot as the next TXID"
            );
            self.pos = None;
        }
        match (&self.pos, max) {
            (_, 0) => tracing::info!(url = self.store.url(), "empty bucket; shipping a full snapshot as TXID 1"),
            (Some(p), _) => tracing::info!(
                txid = format!("{max:016x}"),
                wal_offset = p.wal.offset,
                "resuming replication from the local WAL"
            ),
            (None, _) => tracing::info!(
                txid = format!("{max:016x}"),
                "local WAL does not continue the bucket's history; shipping a full snapshot as the next TXID"
            ),
        }
        self.initialized = true;
        Ok(())
    }

    fn resume_position(&mut self, h: &Header) -> Result<Option<Position>, ReplicateError> {
        if h.wal_offset == 0 || h.page_size != self.page_size {
            return Ok(None);
        }
        let Some(file) = self.open_wal()? else {
            return Ok(None);
        };
        let Some(wh) = self.wal_header(&file)? else {
            return Ok(None);
        };
        if (wh.salt1, wh.salt2) != (h.wal_salt1, h.wal_salt2) {
            return Ok(None);
        }
        let end = (h.wal_offset + h.wal_size) as u64;
        let scan = wal::scan(&file, &wh, wh.start(), Some(end)).map_err(|e| ReplicateError::io("read the WAL", e))?;
        if scan.end.offset != end {
            return Ok(None);
        }
        self.gen_pages = scan.pages;
        Ok(Some(Position { wal: scan.end, commit: h.commit }))
    }

    fn open_wal(&self) -> Result<Option<File>, ReplicateError> {
        match File::open(&self.wal_path) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ReplicateError::io(format!("open {}", self.wal_path.display()), e)),
        }
    }

    fn wal_header(&self, f: &File) -> Result<Option<WalHeader>, ReplicateError> {
        let h = wal::read_header(f).map_err(|e| ReplicateError::io(format!("read {}", self.wal_path.display()), e))?;
        if let Some(h) = &h
            && h.page_size != self.page_size
        {
            return Err(ReplicateError::Config(format!(
                "WAL page size {} differs from the database's {}",
                h.page_size, self.page_size
            )));
        }
        Ok(h)
    }

    /// Ships every commit made so far. Returns true if another sync should follow at once.
    fn sync(&mut self) -> Result<bool, ReplicateError> {
        let started = Instant::now();
        // The sequence is read before the WAL, so everything it counts is in what we read.
        let seq = *self.commits.borrow_and_update();
        self.end_read();
        self.begin_read()?;
        let wal_file = self.open_wal()?;
        let hdr = match &wal_file {
            Some(f) => self.wal_header(f)?,
            None => None,
        };
        let wal_len = wal_file.as_ref().and_then(|f| f.metadata().ok()).map_or(0, |m| m.len());
        let step = match (&self.pos, hdr) {
            (None, _) => Step::Full,
            (Some(p), Some(h)) if p.wal.same_generation(&h) => Step::Incremental { from: p.wal, new_generation: false },
            (Some(_), Some(h)) if self.restart_expected => Step::Incremental { from: h.start(), new_generation: true },
            // Fully checkpointed and no WAL content since: the database file is the shipped state.
            (Some(_), None) if self.restart_expected => Step::Nothing { publish: wal_len == 0 },
            // A header being rewritten right now: look again next time.
            (Some(_), None) if wal_len > 0 => Step::Nothing { publish: false },
            (Some(_), _) => {
                tracing::warn!("the WAL was reset outside the replicator; shipping a full snapshot");
                Step::Full
            }
        };
        match step {
            Step::Nothing { publish } => {
                if publish {
                    self.shared.publish(seq, started);
                }
                Ok(false)
            }
            Step::Full => self.ship_full(seq, started, wal_file.as_ref(), hdr),
            Step::Incremental { from, new_generation } => {
                let (Some(f), Some(h)) = (wal_file.as_ref(), hdr) else { unreachable!("incremental steps have a WAL") };
                self.ship_incremental(seq, started, f, &h, from, new_generation)
            }
        }
    }

    fn l0_header(&self, txid: u64, commit: u32) -> Header {
        Header {
            flags: HEADER_FLAG_NO_CHECKSUM,
            page_size: self.page_size,
            commit,
            min_txid: txid,
            max_txid: txid,
            timestamp_ms: now_ms(),
            node_id: self.node_id,
            ..Header::default()
        }
    }

    fn ship_incremental(
        &mut self,
        seq: u64,
        started: Instant,
        file: &File,
        h: &WalHeader,
        from: WalPos,
        new_generation: bool,
    ) -> Result<bool, ReplicateError> {
        let scan = wal::scan(file, h, from, None).map_err(|e| ReplicateError::io("read the WAL", e))?;
        let Some(commit) = scan.commit else {
            self.shared.publish(seq, started);
            return Ok(false);
        };
        let prev_commit = self.pos.map_or(0, |p| p.commit);
        let txid = self.txid + 1;
        let mut header = self.l0_header(txid, commit);
        header.wal_offset = from.offset as i64;
        header.wal_size = (scan.end.offset - from.offset) as i64;
        header.wal_salt1 = h.salt1;
        header.wal_salt2 = h.salt2;
        let bytes = build_incremental(header, self.opts.page_encoding, &self.db_file, file, &scan.pages, prev_commit)?;
        let size = bytes.len();
        match self.upload_l0(&header, bytes)? {
            Landed::Ours => {
                self.advance(txid, scan.end, commit, scan.pages, new_generation);
                self.shared.publish(seq, started);
                tracing::debug!(txid = format!("{txid:016x}"), size, frames = scan.frames, "shipped L0");
                Ok(false)
            }
            Landed::Earlier(theirs) => {
                // Our earlier attempt of this TXID was stored: adopt its range, ship the rest next.
                let end = (theirs.wal_offset + theirs.wal_size) as u64;
                let part = wal::scan(file, h, from, Some(end)).map_err(|e| ReplicateError::io("read the WAL", e))?;
                if part.end.offset != end {
                    return Err(ReplicateError::Fenced { key: self.store.ltx_key(0, txid, txid) });
                }
                self.advance(txid, part.end, theirs.commit, part.pages, new_generation);
                Ok(true)
            }
        }
    }

    fn ship_full(
        &mut self,
        seq: u64,
        started: Instant,
        file: Option<&File>,
        hdr: Option<WalHeader>,
    ) -> Result<bool, ReplicateError> {
        let (pages, end, wal_commit) = match (file, hdr) {
            (Some(f), Some(h)) => {
                let s = wal::scan(f, &h, h.start(), None).map_err(|e| ReplicateError::io("read the WAL", e))?;
                (s.pages, s.end, s.commit)
            }
            _ => (BTreeMap::new(), NO_WAL, None),
        };
        let db_len = self.db_file.metadata().map_err(|e| ReplicateError::io("stat the database", e))?.len();
        let commit = wal_commit.unwrap_or((db_len / u64::from(self.page_size)) as u32);
        if commit == 0 {
            self.shared.publish(seq, started);
            return Ok(false);
        }
        let txid = self.txid + 1;
        let mut header = self.l0_header(txid, commit);
        if let Some(h) = hdr {
            header.wal_offset = WAL_HEADER_SIZE as i64;
            header.wal_size = (end.offset - WAL_HEADER_SIZE) as i64;
            header.wal_salt1 = h.salt1;
            header.wal_salt2 = h.salt2;
        }
        let bytes = build_full(header, self.opts.page_encoding, &self.db_file, file, &pages)?;
        let size = bytes.len();
        match self.upload_l0(&header, bytes)? {
            Landed::Ours => {}
            Landed::Earlier(theirs) if theirs.wal_size == header.wal_size => {}
            // An earlier, smaller attempt landed: ship everything again as the next TXID.
            Landed::Earlier(_) => {
                self.txid = txid;
                return Ok(true);
            }
        }
        self.advance(txid, end, commit, pages, true);
        self.restart_expected = hdr.is_none();
        self.shared.publish(seq, started);
        tracing::info!(txid = format!("{txid:016x}"), pages = commit, size, "shipped full snapshot as L0");
        Ok(false)
    }

    fn advance(&mut self, txid: u64, end: WalPos, commit: u32, pages: BTreeMap<u32, u64>, new_generation: bool) {
        self.txid = txid;
        if new_generation {
            self.gen_pages = pages;
        } else {
            self.gen_pages.extend(pages);
        }
        self.gen_pages.retain(|&p, _| p <= commit);
        self.pos = Some(Position { wal: end, commit });
        self.restart_expected = false;
        let frames = (end.offset - WAL_HEADER_SIZE) / self.frame_size();
        let mut s = self.shared.inner.lock();
        s.txid = txid;
        s.last_upload_at = Some(SystemTime::now());
        s.uploads += 1;
        s.last_error = None;
        s.wal_frames = frames;
    }

    /// Uploads an L0 file create-only and tells whose it is if the key already exists.
    fn upload_l0(&self, header: &Header, bytes: Vec<u8>) -> Result<Landed, ReplicateError> {
        if self.shared.is_abandoned() {
            return Err(ReplicateError::Stopped);
        }
        let key = self.store.ltx_key(0, header.min_txid, header.max_txid);
        let put = self.store.put_create(&key, Bytes::from(bytes), header.timestamp_ms);
        let outcome =
            self.rt.block_on(async { tokio::time::timeout(self.upload_timeout, put).await }).map_err(|_| {
                ReplicateError::Plan(format!("upload of {key} timed out after {:?}", self.upload_timeout))
            })??;
        if outcome == CreateOutcome::Created {
            return Ok(Landed::Ours);
        }
        let b = self.rt.block_on(self.store.get_range(&key, 0..HEADER_SIZE as u64))?;
        let theirs = Header::parse(&b).map_err(|e| ReplicateError::corrupt(&key, e))?;
        let ours = theirs.node_id == self.node_id
            && theirs.wal_offset == header.wal_offset
            && (theirs.wal_salt1, theirs.wal_salt2) == (header.wal_salt1, header.wal_salt2)
            && theirs.wal_size <= header.wal_size;
        if ours {
            tracing::info!(key, "an earlier upload of this TXID had landed; continuing after it");
            Ok(Landed::Earlier(theirs))
        } else {
            Err(ReplicateError::Fenced { key })
        }
    }

    /// Digest of the database as of `self.txid`: the database file overlaid with the shipped
    /// frames of this WAL generation (only shipped frames are ever checkpointed).
    fn shipped_digest(&mut self) -> Result<ShippedDigest, ReplicateError> {
        let pos = self.pos.ok_or_else(|| ReplicateError::NoBackup("nothing shipped yet from this database".into()))?;
        let wal_file = self.open_wal()?;
        let empty = BTreeMap::new();
        let pages = if self.restart_expected || pos.wal == NO_WAL {
            &empty
        } else {
            let same = match &wal_file {
                Some(f) => self.wal_header(f)?.is_some_and(|h| pos.wal.same_generation(&h)),
                None => false,
            };
            if !same {
                return Err(ReplicateError::Plan("the WAL changed generation; try again after the next sync".into()));
            }
            &self.gen_pages
        };
        let digest =
            super::verify::digest(pos.commit, self.page_size, |pgno, buf| match (pages.get(&pgno), &wal_file) {
                (Some(&off), Some(w)) => wal::read_page(w, off, buf),
                _ => super::snapshot::read_db_page(&self.db_file, pgno, buf),
            })
            .map_err(|e| ReplicateError::io("read the database for a digest", e))?;
        Ok(ShippedDigest { txid: self.txid, page_size: self.page_size, pages: pos.commit, digest })
    }

    /// Writes an L9 snapshot when the interval boundary has passed (Litestream's schedule).
    fn maybe_snapshot(&mut self) {
        if let Some((txid, task)) = self.snapshot_upload.take() {
            if !task.is_finished() {
                self.snapshot_upload = Some((txid, task));
                return;
            }
            match self.rt.block_on(task) {
                Ok(Ok(())) => {
                    self.last_snapshot = Some((Utc::now(), txid));
                    let mut s = self.shared.inner.lock();
                    s.last_snapshot_at = Some(SystemTime::now());
                    s.last_snapshot_txid = txid;
                    tracing::info!(txid = format!("{txid:016x}"), "snapshot stored");
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "snapshot upload failed; retrying next sync");
                    self.shared.record_error(&e);
                }
                Err(e) => tracing::error!(error = %e, "snapshot upload task failed"),
            }
        }
        let Some(pos) = self.pos else { return };
        let due = match self.last_snapshot {
            None => true,
            Some((at, txid)) => txid < self.txid && at <= prev_boundary(Utc::now(), self.opts.snapshot_interval),
        };
        if !due || self.txid == 0 {
            return;
        }
        // After a full checkpoint the database file alone holds the shipped state (and the
        // WAL may be restarting); otherwise overlay the shipped frames of this generation.
        let empty = BTreeMap::new();
        let wal_file = match self.open_wal() {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "snapshot skipped");
                return;
            }
        };
        let pages = if self.restart_expected {
            &empty
        } else {
            let same = wal_file
                .as_ref()
                .and_then(|f| self.wal_header(f).ok().flatten())
                .is_some_and(|h| pos.wal.same_generation(&h));
            if !same {
                return;
            }
            &self.gen_pages
        };
        let header = Header {
            flags: HEADER_FLAG_NO_CHECKSUM,
            page_size: self.page_size,
            commit: pos.commit,
            min_txid: 1,
            max_txid: self.txid,
            timestamp_ms: now_ms(),
            ..Header::default()
        };
        let bytes = match build_full(header, self.opts.page_encoding, &self.db_file, wal_file.as_ref(), pages) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "building the snapshot failed");
                self.shared.record_error(&e);
                return;
            }
        };
        let store = self.store.clone();
        let key = store.ltx_key(SNAPSHOT_LEVEL, 1, self.txid);
        tracing::info!(key, size = bytes.len(), "uploading snapshot");
        let ts = header.timestamp_ms;
        let task = self.rt.spawn(async move { store.put(&key, Bytes::from(bytes), ts).await });
        self.snapshot_upload = Some((self.txid, task));
    }

    /// Checkpoints once the WAL is large (see the module docs): with the app's writer held
    /// off by a write lock, ship the last frames, then copy every frame into the database
    /// file. The app's next write then restarts the WAL from its beginning.
    fn maybe_checkpoint(&mut self) -> Result<(), ReplicateError> {
        let Some(pos) = self.pos else { return Ok(()) };
        if pos.wal == NO_WAL || self.restart_expected {
            return Ok(());
        }
        let frames = (pos.wal.offset - WAL_HEADER_SIZE) / self.frame_size();
        if frames < self.opts.checkpoint_frames.max(self.next_checkpoint_frames) {
            return Ok(());
        }
        // First copy the bulk without blocking anyone: under our read mark only shipped
        // frames are copied. The locked step below then has little left to do.
        self.passive_checkpoint()?;
        // Hold writers off only when little is left to ship: if the app commits faster than
        // we ship, blocking it would stall it for the whole backlog. A few quick syncs
        // usually close the gap that built up during the last one.
        let max_locked = self.opts.checkpoint_frames.div_ceil(2).max(16) * self.frame_size();
        let mut attempts = 0;
        loop {
            let unshipped = self.unshipped_bytes()?;
            if unshipped <= max_locked {
                break;
            }
            attempts += 1;
            if attempts > 3 {
                tracing::debug!(unshipped, "behind the writer; checkpoint postponed");
                return Ok(());
            }
            while self.sync()? {}
        }
        if let Err(e) = self.locker.execute_batch("BEGIN IMMEDIATE") {
            tracing::debug!(error = %e, "write lock for the checkpoint not available; trying later");
            self.next_checkpoint_frames = frames + self.opts.checkpoint_frames.div_ceil(4);
            return Ok(());
        }
        let locked_at = Instant::now();
        self.upload_timeout = LOCKED_UPLOAD_TIMEOUT;
        let result = self.checkpoint_locked();
        self.upload_timeout = UPLOAD_TIMEOUT;
        if let Err(e) = self.locker.execute_batch("ROLLBACK") {
            tracing::error!(error = %e, "releasing the checkpoint write lock failed");
        }
        tracing::debug!(held = ?locked_at.elapsed(), frames, "checkpoint write lock released");
        let complete = result?;
        if !complete {
            // Readers held older pages back; try again after some more frames.
            self.next_checkpoint_frames = frames + self.opts.checkpoint_frames.div_ceil(4);
        }
        Ok(())
    }

    /// Committed WAL bytes after the shipped position (the file itself may be longer: a
    /// restarted WAL keeps the old generation's tail until it is overwritten).
    fn unshipped_bytes(&self) -> Result<u64, ReplicateError> {
        let Some(pos) = self.pos else { return Ok(0) };
        let Some(file) = self.open_wal()? else {
            return Ok(0);
        };
        let Some(h) = self.wal_header(&file)? else {
            return Ok(0);
        };
        if !pos.wal.same_generation(&h) {
            return Ok(0);
        }
        let scan = wal::scan(&file, &h, pos.wal, None).map_err(|e| ReplicateError::io("read the WAL", e))?;
        Ok(scan.end.offset - pos.wal.offset)
    }

    /// `PRAGMA wal_checkpoint(PASSIVE)`: (busy, frames in the WAL, frames copied).
    fn passive_checkpoint(&self) -> Result<(i64, i64, i64), ReplicateError> {
        self.checkpointer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| ReplicateError::sqlite("checkpoint", e))
    }

    /// The part of a checkpoint that runs under the write lock; true when every frame was
    /// copied into the database file.
    fn checkpoint_locked(&mut self) -> Result<bool, ReplicateError> {
        let deadline = Instant::now() + LOCKED_UPLOAD_TIMEOUT;
        while self.sync()? {
            if Instant::now() > deadline {
                return Ok(false);
            }
        }
        let Some(pos) = self.pos else {
            return Ok(false);
        };
        if pos.wal == NO_WAL {
            return Ok(false);
        }
        let shipped = (pos.wal.offset - WAL_HEADER_SIZE) / self.frame_size();
        // Nothing can commit now, so the read mark may go: every frame is shipped.
        self.end_read();
        let (busy, log, done) = self.passive_checkpoint()?;
        let complete = busy == 0 && log == done && done as u64 == shipped;
        tracing::debug!(busy, log, done, shipped, complete, "checkpoint");
        if complete {
            self.restart_expected = true;
            self.next_checkpoint_frames = 0;
            self.shared.inner.lock().last_checkpoint_at = Some(SystemTime::now());
        } else if log as u64 > shipped {
            // Cannot happen while we hold the write lock; never let it pass silently.
            tracing::error!(log, shipped, "checkpoint saw unshipped frames; shipping a full snapshot next");
            self.pos = None;
        }
        Ok(complete)
    }
}

enum Landed {
    /// Our upload created the object.
    Ours,
    /// The key already held an earlier attempt of ours, with this header.
    Earlier(Header),
}
