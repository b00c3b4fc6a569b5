//! The shipped state as a whole: L9 snapshots on Litestream's schedule, and its digest.

use std::fs::File;
use std::time::SystemTime;

use bytes::Bytes;
use chrono::Utc;

use super::cursor::{NO_WAL, Position};
use super::{ShippedDigest, Shipper, now_ms, prev_boundary};
use crate::replicate::bucket::SNAPSHOT_LEVEL;
use crate::replicate::error::ReplicateError;
use crate::replicate::ltx::{HEADER_FLAG_NO_CHECKSUM, Header};
use crate::replicate::snapshot::{PageSource, build_full_from};
use crate::replicate::txid::Txid;

/// Where the pages of the shipped state are read from (see [`Shipper::shipped_state`]).
enum ShippedState {
    /// The database file alone holds it (everything shipped was checkpointed, or no WAL existed).
    FileOnly,
    /// The database file overlaid with the shipped frames of this WAL generation.
    Overlay(File),
}

impl Shipper {
    /// How to read the database as of `self.txid` (only shipped frames are ever checkpointed,
    /// so the database file holds every page the shipped frames of this generation do not);
    /// None when the WAL changed generation since the last sync.
    fn shipped_state(&self, pos: &Position) -> Result<Option<ShippedState>, ReplicateError> {
        if self.restart_expected || pos.wal == NO_WAL {
            return Ok(Some(ShippedState::FileOnly));
        }
        Ok(self.shipped_generation(pos)?.map(|g| ShippedState::Overlay(g.file)))
    }

    /// The pages of the shipped state, given what [`Shipper::shipped_state`] found.
    fn page_source<'a>(&'a self, state: &'a ShippedState) -> PageSource<'a> {
        match state {
            ShippedState::Overlay(wal) => PageSource::new(&self.db_file, Some(wal), &self.gen_pages),
            ShippedState::FileOnly => PageSource::file_only(&self.db_file),
        }
    }

    /// Digest of the database as of `self.txid`: the database file overlaid with the shipped
    /// frames of this WAL generation.
    pub(super) fn shipped_digest(&mut self) -> Result<ShippedDigest, ReplicateError> {
        // A staged file's pages may be in the database file already: store it, so they are shipped.
        self.store_staged(super::UPLOAD_TIMEOUT)?;
        let pos = self.pos.ok_or_else(|| ReplicateError::NoBackup("nothing shipped yet from this database".into()))?;
        let Some(state) = self.shipped_state(&pos)? else {
            return Err(ReplicateError::WalGenerationChanged);
        };
        let source = self.page_source(&state);
        let digest = crate::replicate::verify::digest(pos.commit, self.page_size, |pgno, buf| source.read(pgno, buf))
            .map_err(|e| ReplicateError::io("read the database for a digest", e))?;
        Ok(ShippedDigest { txid: self.txid, page_size: self.page_size, pages: pos.commit, digest })
    }

    /// Writes an L9 snapshot when the interval boundary has passed (Litestream's schedule).
    pub(super) fn maybe_snapshot(&mut self) {
        if self.staged.is_some() {
            return; // the database file may hold its pages: they are not the shipped state yet
        }
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
                    tracing::info!(txid = %txid, "snapshot stored");
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
        if !due || self.txid == Txid::ZERO {
            return;
        }
        // After a full checkpoint the database file alone holds the shipped state (and the
        // WAL may be restarting); otherwise overlay the shipped frames of this generation.
        let state = match self.shipped_state(&pos) {
            Ok(Some(state)) => state,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "snapshot skipped");
                return;
            }
        };
        let header = Header {
            flags: HEADER_FLAG_NO_CHECKSUM,
            page_size: self.page_size,
            commit: pos.commit,
            min_txid: 1,
            max_txid: self.txid.get(),
            timestamp_ms: now_ms(),
            ..Header::default()
        };
        let bytes = match build_full_from(header, self.opts.page_encoding, self.page_source(&state)) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "building the snapshot failed");
                self.shared.record_error(&e);
                return;
            }
        };
        let store = self.store.clone();
        let key = store.ltx_key(SNAPSHOT_LEVEL, 1, self.txid.get());
        tracing::info!(key, size = bytes.len(), "uploading snapshot");
        let ts = header.timestamp_ms;
        let task = self.rt.spawn(async move { store.put(&key, Bytes::from(bytes), ts).await });
        self.snapshot_upload = Some((self.txid, task));
    }
}
