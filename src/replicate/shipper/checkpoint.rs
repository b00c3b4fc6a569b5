//! Checkpoints: only shipped frames are copied; the last ones under a brief write lock.

use std::time::SystemTime;

use tokio::time::Instant;

use super::cursor::NO_WAL;
use super::{LOCKED_UPLOAD_TIMEOUT, Shipper, SyncOutcome, UPLOAD_TIMEOUT};
use crate::replicate::error::ReplicateError;
use crate::replicate::wal::WAL_HEADER_SIZE;

/// How far the locked step of a checkpoint got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheckpointOutcome {
    /// Every frame is in the database file: the app's next write restarts the WAL.
    Complete,
    /// Frames are left in the WAL (readers held older pages, or shipping took too long).
    Incomplete,
}

impl Shipper {
    /// Checkpoints once the WAL is large (see the module docs): with the app's writer held
    /// off by a write lock, ship the last frames, then copy every frame into the database
    /// file. The app's next write then restarts the WAL from its beginning.
    pub(super) fn maybe_checkpoint(&mut self) -> Result<(), ReplicateError> {
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
            while self.sync(UPLOAD_TIMEOUT)? == SyncOutcome::ShipAgain {}
        }
        if let Err(e) = self.locker.execute_batch("BEGIN IMMEDIATE") {
            tracing::debug!(error = %e, "write lock for the checkpoint not available; trying later");
            self.next_checkpoint_frames = frames + self.opts.checkpoint_frames.div_ceil(4);
            return Ok(());
        }
        let locked_at = Instant::now();
        let result = self.checkpoint_locked();
        if let Err(e) = self.locker.execute_batch("ROLLBACK") {
            tracing::error!(error = %e, "releasing the checkpoint write lock failed");
        }
        tracing::debug!(held = ?locked_at.elapsed(), frames, "checkpoint write lock released");
        if result? == CheckpointOutcome::Incomplete {
            // Readers held older pages back; try again after some more frames.
            self.next_checkpoint_frames = frames + self.opts.checkpoint_frames.div_ceil(4);
        }
        Ok(())
    }

    /// `PRAGMA wal_checkpoint(PASSIVE)`: (busy, frames in the WAL, frames copied).
    fn passive_checkpoint(&self) -> Result<(i64, i64, i64), ReplicateError> {
        self.checkpointer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| ReplicateError::sqlite("checkpoint", e))
    }

    /// The part of a checkpoint that runs under the write lock: ships the last frames (each
    /// upload bounded by `LOCKED_UPLOAD_TIMEOUT`, the app's writer is waiting), then copies
    /// every frame into the database file.
    fn checkpoint_locked(&mut self) -> Result<CheckpointOutcome, ReplicateError> {
        let deadline = Instant::now() + LOCKED_UPLOAD_TIMEOUT;
        while self.sync(LOCKED_UPLOAD_TIMEOUT)? == SyncOutcome::ShipAgain {
            if Instant::now() > deadline {
                return Ok(CheckpointOutcome::Incomplete);
            }
        }
        let Some(pos) = self.pos else {
            return Ok(CheckpointOutcome::Incomplete);
        };
        if pos.wal == NO_WAL {
            return Ok(CheckpointOutcome::Incomplete);
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
        Ok(if complete { CheckpointOutcome::Complete } else { CheckpointOutcome::Incomplete })
    }
}
