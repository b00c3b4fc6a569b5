//! Shipping new WAL frames as L0 files: building, uploading create-only, fencing.

use std::collections::BTreeMap;
use std::fs::File;
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;

use super::cursor::NO_WAL;
use super::{Shipper, SyncOutcome, UPLOAD_TIMEOUT, now_ms};
use crate::db::CommitSeq;
use crate::replicate::bucket::CreateOutcome;
use crate::replicate::error::ReplicateError;
use crate::replicate::ltx::{HEADER_FLAG_NO_CHECKSUM, HEADER_SIZE, Header};
use crate::replicate::snapshot::{build_full, build_incremental};
use crate::replicate::txid::Txid;
use crate::replicate::wal::{self, WAL_HEADER_SIZE, WalHeader, WalPos};

/// One sync's context: the commit sequence it publishes once shipped, when it started, and
/// how long one upload may take.
#[derive(Clone, Copy)]
pub(super) struct SyncContext {
    seq: CommitSeq,
    started: Instant,
    upload_timeout: Duration,
}

/// An L0 file built from the WAL and not stored yet, with where storing it moves the cursor.
pub(super) struct Staged {
    header: Header,
    bytes: Bytes,
    end: WalPos,
    commit: u32,
    frames: u64,
    pages: BTreeMap<u32, u64>,
    new_generation: bool,
    cx: SyncContext,
    /// Every frame it holds is in the database file already (the checkpoint that staged it completed).
    pub(super) checkpointed: bool,
}

impl Staged {
    /// The WAL frames it holds, counted from the start of the WAL.
    pub(super) fn end_frame(&self, frame_size: u64) -> u64 {
        (self.end.offset - WAL_HEADER_SIZE) / frame_size
    }
}

/// What a sync does with the WAL it found.
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

impl Shipper {
    /// Ships every commit made so far, each upload bounded by `upload_timeout`.
    pub(super) fn sync(&mut self, upload_timeout: Duration) -> Result<SyncOutcome, ReplicateError> {
        // A file the last checkpoint staged comes first: its frames may be gone from the WAL.
        self.store_staged(upload_timeout)?;
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
        let cx = SyncContext { seq, started, upload_timeout };
        match step {
            Step::Nothing { publish } => {
                if publish {
                    self.shared.publish(seq, started.into_std());
                }
                Ok(SyncOutcome::CaughtUp)
            }
            Step::Full => self.ship_full(cx, wal_file.as_ref(), hdr),
            Step::Incremental { from, new_generation } => {
                let (Some(f), Some(h)) = (wal_file.as_ref(), hdr) else { unreachable!("incremental steps have a WAL") };
                self.ship_incremental(cx, f, &h, from, new_generation)
            }
        }
    }

    fn l0_header(&self, txid: Txid, commit: u32) -> Header {
        Header {
            flags: HEADER_FLAG_NO_CHECKSUM,
            page_size: self.page_size,
            commit,
            min_txid: txid.get(),
            max_txid: txid.get(),
            timestamp_ms: now_ms(),
            node_id: self.node_id,
            ..Header::default()
        }
    }

    fn ship_incremental(
        &mut self,
        cx: SyncContext,
        file: &File,
        h: &WalHeader,
        from: WalPos,
        new_generation: bool,
    ) -> Result<SyncOutcome, ReplicateError> {
        let Some(staged) = self.stage_incremental(cx, file, h, from, new_generation)? else {
            self.shared.publish(cx.seq, cx.started.into_std());
            return Ok(SyncOutcome::CaughtUp);
        };
        let (header, bytes) = (staged.header, staged.bytes.clone());
        match self.upload_l0(&header, bytes, cx.upload_timeout)? {
            Landed::Ours => Ok(self.stored(staged)),
            Landed::Earlier(theirs) => {
                // Our earlier attempt of this TXID was stored: adopt its range, ship the rest next.
                let end = (theirs.wal_offset + theirs.wal_size) as u64;
                let part = wal::scan(file, h, from, Some(end)).map_err(|e| ReplicateError::io("read the WAL", e))?;
                if part.end.offset != end {
                    return Err(ReplicateError::Fenced {
                        key: self.store.ltx_key(0, header.min_txid, header.max_txid),
                    });
                }
                self.advance(Txid(header.min_txid), part.end, theirs.commit, part.pages, new_generation);
                Ok(SyncOutcome::ShipAgain)
            }
        }
    }

    /// Reads the commits after `from` and builds their L0 file (None when there is no new commit).
    fn stage_incremental(
        &self,
        cx: SyncContext,
        file: &File,
        h: &WalHeader,
        from: WalPos,
        new_generation: bool,
    ) -> Result<Option<Staged>, ReplicateError> {
        let scan = wal::scan(file, h, from, None).map_err(|e| ReplicateError::io("read the WAL", e))?;
        let Some(commit) = scan.commit else { return Ok(None) };
        let prev_commit = self.pos.map_or(0, |p| p.commit);
        let txid = self.txid.next();
        let mut header = self.l0_header(txid, commit);
        header.wal_offset = from.offset as i64;
        header.wal_size = (scan.end.offset - from.offset) as i64;
        header.wal_salt1 = h.salt1;
        header.wal_salt2 = h.salt2;
        let bytes = build_incremental(header, self.opts.page_encoding, &self.db_file, file, &scan.pages, prev_commit)?;
        Ok(Some(Staged {
            header,
            bytes: Bytes::from(bytes),
            end: scan.end,
            commit,
            frames: scan.frames,
            pages: scan.pages,
            new_generation,
            cx,
            checkpointed: false,
        }))
    }

    /// For the checkpoint's locked step: the L0 file of every commit not shipped yet, read from
    /// the WAL and built in memory, not uploaded (the app's writer waits meanwhile). None when
    /// everything is shipped; an error when the WAL is no longer the shipped generation.
    pub(super) fn stage_rest(&mut self) -> Result<Option<Staged>, ReplicateError> {
        let seq = *self.commits.borrow_and_update();
        let cx = SyncContext { seq, started: Instant::now(), upload_timeout: UPLOAD_TIMEOUT };
        self.end_read();
        self.begin_read()?;
        let Some(pos) = self.pos else { return Err(ReplicateError::WalGenerationChanged) };
        let Some(g) = self.shipped_generation(&pos)? else { return Err(ReplicateError::WalGenerationChanged) };
        self.stage_incremental(cx, &g.file, &g.header, pos.wal, false)
    }

    /// Uploads the file [`Shipper::stage_rest`] staged, if one waits. Until it is stored the
    /// cursor stays before it and nothing else ships; a failed upload keeps it for the next sync.
    pub(super) fn store_staged(&mut self, upload_timeout: Duration) -> Result<(), ReplicateError> {
        let Some(staged) = self.staged.take() else { return Ok(()) };
        let (header, bytes) = (staged.header, staged.bytes.clone());
        match self.upload_l0(&header, bytes, upload_timeout) {
            Ok(Landed::Ours) => {
                self.stored(staged);
            }
            Ok(Landed::Earlier(theirs)) if theirs.wal_size == header.wal_size => {
                self.stored(staged);
            }
            Ok(Landed::Earlier(_)) => {
                // A shorter earlier attempt of this TXID is in the bucket, and the rest of the
                // frames may be gone from the WAL: ship the whole database as the next TXID.
                tracing::warn!(
                    txid = header.min_txid,
                    "a shorter attempt of a staged L0 landed; shipping a full snapshot next"
                );
                self.txid = Txid(header.min_txid);
                self.pos = None;
            }
            Err(e) => {
                tracing::debug!(txid = header.min_txid, error = %e, "the staged L0 did not land; retrying it first");
                self.staged = Some(staged);
                return Err(e);
            }
        }
        Ok(())
    }

    /// A staged file is in the bucket: move the cursor past it and publish its commits.
    fn stored(&mut self, staged: Staged) -> SyncOutcome {
        let size = staged.bytes.len();
        let Staged { header, end, commit, frames, pages, new_generation, cx, checkpointed, .. } = staged;
        let txid = Txid(header.min_txid);
        self.advance(txid, end, commit, pages, new_generation);
        // Its frames were all copied into the database file before it was stored: the WAL may
        // restart (or has), and the file alone is the shipped state.
        self.restart_expected = checkpointed;
        self.shared.publish(cx.seq, cx.started.into_std());
        tracing::debug!(txid = %txid, size, frames, "shipped L0");
        SyncOutcome::CaughtUp
    }

    fn ship_full(
        &mut self,
        cx: SyncContext,
        file: Option<&File>,
        hdr: Option<WalHeader>,
    ) -> Result<SyncOutcome, ReplicateError> {
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
            tracing::debug!(
                wal = file.is_some(),
                header = hdr.is_some(),
                db_len,
                "nothing to ship yet: the database is empty"
            );
            self.shared.publish(cx.seq, cx.started.into_std());
            return Ok(SyncOutcome::CaughtUp);
        }
        let txid = self.txid.next();
        let mut header = self.l0_header(txid, commit);
        if let Some(h) = hdr {
            header.wal_offset = WAL_HEADER_SIZE as i64;
            header.wal_size = (end.offset - WAL_HEADER_SIZE) as i64;
            header.wal_salt1 = h.salt1;
            header.wal_salt2 = h.salt2;
        }
        let bytes = build_full(header, self.opts.page_encoding, &self.db_file, file, &pages)?;
        let size = bytes.len();
        match self.upload_l0(&header, Bytes::from(bytes), cx.upload_timeout)? {
            Landed::Ours => {}
            Landed::Earlier(theirs) if theirs.wal_size == header.wal_size => {}
            // An earlier, smaller attempt landed: ship everything again as the next TXID.
            Landed::Earlier(_) => {
                self.txid = txid;
                return Ok(SyncOutcome::ShipAgain);
            }
        }
        self.advance(txid, end, commit, pages, true);
        self.restart_expected = hdr.is_none();
        self.shared.publish(cx.seq, cx.started.into_std());
        tracing::info!(txid = %txid, pages = commit, size, "shipped full snapshot as L0");
        Ok(SyncOutcome::CaughtUp)
    }

    /// Uploads an L0 file create-only and tells whose it is if the key already exists.
    fn upload_l0(&self, header: &Header, bytes: Bytes, timeout: Duration) -> Result<Landed, ReplicateError> {
        if self.shared.is_abandoned() {
            return Err(ReplicateError::Stopped);
        }
        let key = self.store.ltx_key(0, header.min_txid, header.max_txid);
        let put = self.store.put_create(&key, bytes, header.timestamp_ms);
        let outcome = self
            .rt
            .block_on(async { tokio::time::timeout(timeout, put).await })
            .map_err(|_| ReplicateError::UploadTimeout { key: key.clone(), waited: timeout })??;
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
}

enum Landed {
    /// Our upload created the object.
    Ours,
    /// The key already held an earlier attempt of ours, with this header.
    Earlier(Header),
}
