//! The shipper's cursor: the shipped WAL position, the generation check, the read transaction.

use std::collections::BTreeMap;
use std::fs::File;
use std::time::SystemTime;

use super::Shipper;
use crate::replicate::bucket::SNAPSHOT_LEVEL;
use crate::replicate::error::ReplicateError;
use crate::replicate::ltx::{HEADER_SIZE, Header};
use crate::replicate::txid::Txid;
use crate::replicate::wal::{self, WAL_HEADER_SIZE, WalHeader, WalPos};

/// The shipped position: just after the last shipped commit frame, and the database size then.
#[derive(Debug, Clone, Copy)]
pub(super) struct Position {
    pub(super) wal: WalPos,
    pub(super) commit: u32,
}

/// Placeholder generation for "no WAL existed": any real generation is read from its start.
pub(super) const NO_WAL: WalPos = WalPos { salt1: 0, salt2: 0, offset: WAL_HEADER_SIZE, checksum: (0, 0) };

/// The local WAL while it still holds the generation the shipped position is in.
pub(super) struct ShippedGeneration {
    pub(super) file: File,
    pub(super) header: WalHeader,
}

impl Shipper {
    pub(super) fn begin_read(&mut self) -> Result<(), ReplicateError> {
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

    pub(super) fn end_read(&mut self) {
        if self.reading {
            if let Err(e) = self.reader.execute_batch("COMMIT") {
                tracing::warn!(error = %e, "ending the replication read transaction failed");
                let _ = self.reader.execute_batch("ROLLBACK");
            }
            self.reading = false;
        }
    }

    /// Learns the bucket's TXID and where in the local WAL it ends.
    pub(super) fn init(&mut self) -> Result<(), ReplicateError> {
        let files = self.rt.block_on(self.store.list_all())?;
        let max = files.iter().map(|f| f.max_txid).max().unwrap_or(0);
        self.last_snapshot = files
            .iter()
            .filter(|f| f.level == SNAPSHOT_LEVEL)
            .max_by_key(|f| f.max_txid)
            .map(|f| (f.created_at, Txid(f.max_txid)));
        self.txid = Txid(max);
        self.pos = None;
        if let Some(l0) = files.iter().find(|f| f.level == 0 && f.max_txid == max && max > 0) {
            let b = self.rt.block_on(self.store.get_range(&l0.key, 0..HEADER_SIZE as u64))?;
            let h = Header::parse(&b).map_err(|e| ReplicateError::corrupt(&l0.key, e))?;
            self.pos = self.resume_position(&h)?;
        }
        {
            let mut s = self.shared.inner.lock();
            s.txid = Txid(max);
            if let Some((at, txid)) = self.last_snapshot {
                s.last_snapshot_at = Some(at.into());
                s.last_snapshot_txid = txid;
            }
        }
        if let Some(from) = self.continue_from.take() {
            if from.txid == Txid(max) && max > 0 {
                // The database file is the shipped state; every WAL frame that appears is new.
                self.pos = Some(Position { wal: NO_WAL, commit: from.commit });
                self.gen_pages.clear();
                self.restart_expected = true;
                tracing::info!(txid = %Txid(max), "continuing the bucket's TXID sequence after promotion");
                self.initialized = true;
                return Ok(());
            }
            tracing::warn!(
                expected = %from.txid,
                bucket = %Txid(max),
                "the bucket moved on since the promotion; shipping a full snapshot as the next TXID"
            );
            self.pos = None;
        }
        match (&self.pos, max) {
            (_, 0) => tracing::info!(url = self.store.url(), "empty bucket; shipping a full snapshot as TXID 1"),
            (Some(p), _) => tracing::info!(
                txid = %Txid(max),
                wal_offset = p.wal.offset,
                "resuming replication from the local WAL"
            ),
            (None, _) => tracing::info!(
                txid = %Txid(max),
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

    pub(super) fn open_wal(&self) -> Result<Option<File>, ReplicateError> {
        match File::open(&self.wal_path) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ReplicateError::io(format!("open {}", self.wal_path.display()), e)),
        }
    }

    pub(super) fn wal_header(&self, f: &File) -> Result<Option<WalHeader>, ReplicateError> {
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

    /// The local WAL if it still holds the generation of `pos` (None when it is missing, empty
    /// or restarted since). The one place that decides "is the WAL still the same generation".
    pub(super) fn shipped_generation(&self, pos: &Position) -> Result<Option<ShippedGeneration>, ReplicateError> {
        let Some(file) = self.open_wal()? else {
            return Ok(None);
        };
        let Some(header) = self.wal_header(&file)? else {
            return Ok(None);
        };
        Ok(pos.wal.same_generation(&header).then_some(ShippedGeneration { file, header }))
    }

    /// Committed WAL bytes after the shipped position (the file itself may be longer: a
    /// restarted WAL keeps the old generation's tail until it is overwritten).
    pub(super) fn unshipped_bytes(&self) -> Result<u64, ReplicateError> {
        let Some(pos) = self.pos else { return Ok(0) };
        let Some(g) = self.shipped_generation(&pos)? else {
            return Ok(0);
        };
        let scan = wal::scan(&g.file, &g.header, pos.wal, None).map_err(|e| ReplicateError::io("read the WAL", e))?;
        Ok(scan.end.offset - pos.wal.offset)
    }

    pub(super) fn advance(
        &mut self,
        txid: Txid,
        end: WalPos,
        commit: u32,
        pages: BTreeMap<u32, u64>,
        new_generation: bool,
    ) {
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
}
