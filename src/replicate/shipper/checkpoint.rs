//! Checkpoints: only shipped frames are copied, and, under a brief write lock, the last ones once
//! they are read into a staged L0 file that is uploaded after the lock is released.

use std::time::SystemTime;

use tokio::time::Instant;

use super::cursor::NO_WAL;
use super::{Shipper, SyncOutcome, UPLOAD_TIMEOUT};
use crate::replicate::error::ReplicateError;
use crate::replicate::wal::WAL_HEADER_SIZE;

/// Rounds in a row a due checkpoint may wait for the shipper to catch up before it stages
/// whatever is unshipped under the lock, up to `ReplicatorOptions::staged_at_most`.
const POSTPONED_AT_MOST: u32 = 3;

/// Whether a due checkpoint waits for the shipper (more is unshipped than it may stage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    No,
    ForTheBucket,
}

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
    /// off by a write lock, read the last frames into an L0 file, then copy every frame into the
    /// database file; the lock is released before that file is uploaded. The app's next write
    /// then restarts the WAL from its beginning.
    pub(super) fn maybe_checkpoint(&mut self) -> Result<(), ReplicateError> {
        let outcome = self.checkpoint_if_due();
        self.shared.inner.lock().checkpoints_waiting = matches!(outcome, Ok(Waiting::ForTheBucket));
        outcome.map(|_| ())
    }

    fn checkpoint_if_due(&mut self) -> Result<Waiting, ReplicateError> {
        let Some(pos) = self.pos else { return Ok(Waiting::No) };
        if pos.wal == NO_WAL || self.restart_expected {
            return Ok(Waiting::No);
        }
        let frames = (pos.wal.offset - WAL_HEADER_SIZE) / self.frame_size();
        if frames < self.opts.checkpoint_frames.max(self.next_checkpoint_frames) {
            return Ok(Waiting::No);
        }
        // First copy the bulk without blocking anyone: under our read mark only shipped
        // frames are copied. The locked step below then has little left to do.
        self.passive_checkpoint()?;
        // Hold writers off only when little is left to read: the locked step's time grows with
        // what it reads and stages. A few quick syncs usually close the gap that built up during
        // the last one. With a distant bucket they never do (each sync leaves what was written
        // during its round trip, ~4 MB at 100 MB of WAL a second and 40 ms): then up to two
        // checkpoints' worth of frames is staged (8 MiB at the default 1000 frames, read and
        // encoded in tens of milliseconds at most), and after a few postponed rounds whatever is
        // unshipped, up to a bound: past it the bucket takes less than the app writes, and staging
        // would hold the writer and the memory for as long as the gap is large. Then the WAL grows
        // on disk until the shipper catches up (replication lag shows it).
        let small = self.opts.checkpoint_frames.div_ceil(2).max(16) * self.frame_size();
        let staged_at_once = 2 * self.opts.checkpoint_frames.max(16) * self.frame_size();
        let mut attempts = 0;
        loop {
            let unshipped = self.unshipped_bytes()?;
            if unshipped <= small {
                break;
            }
            attempts += 1;
            if attempts > 3 {
                if unshipped <= staged_at_once {
                    break;
                }
                self.checkpoints_postponed = self.checkpoints_postponed.saturating_add(1);
                if self.checkpoints_postponed < POSTPONED_AT_MOST {
                    tracing::debug!(unshipped, "behind the writer; checkpoint postponed");
                    return Ok(Waiting::No);
                }
                if unshipped > self.opts.staged_at_most {
                    if self.checkpoints_postponed == POSTPONED_AT_MOST {
                        tracing::warn!(
                            unshipped,
                            staged_at_most = self.opts.staged_at_most,
                            "the bucket takes less than the app writes; checkpoints wait until it catches up, and the WAL grows meanwhile"
                        );
                    }
                    return Ok(Waiting::ForTheBucket);
                }
                tracing::info!(
                    unshipped,
                    postponed = self.checkpoints_postponed,
                    "the writer keeps ahead of the bucket; staging the gap under the write lock"
                );
                break;
            }
            while self.sync(UPLOAD_TIMEOUT)? == SyncOutcome::ShipAgain {}
        }
        self.checkpoints_postponed = 0;
        if let Err(e) = self.locker.execute_batch("BEGIN IMMEDIATE") {
            tracing::debug!(error = %e, "write lock for the checkpoint not available; trying later");
            self.next_checkpoint_frames = frames + self.opts.checkpoint_frames.div_ceil(4);
            return Ok(Waiting::No);
        }
        let locked_at = Instant::now();
        let result = self.checkpoint_locked();
        if let Err(e) = self.locker.execute_batch("ROLLBACK") {
            tracing::error!(error = %e, "releasing the checkpoint write lock failed");
        }
        tracing::debug!(held = ?locked_at.elapsed(), frames, "checkpoint write lock released");
        match result? {
            CheckpointOutcome::Complete => {
                self.next_checkpoint_frames = 0;
                self.shared.inner.lock().last_checkpoint_at = Some(SystemTime::now());
            }
            // Readers held older pages back; try again after some more frames.
            CheckpointOutcome::Incomplete => {
                self.next_checkpoint_frames = frames + self.opts.checkpoint_frames.div_ceil(4);
            }
        }
        // The last frames, only in memory once the WAL restarts: stored before anything newer
        // (a failed upload is retried by the next sync).
        self.store_staged(UPLOAD_TIMEOUT).map(|()| Waiting::No)
    }

    /// `PRAGMA wal_checkpoint(PASSIVE)`: (busy, frames in the WAL, frames copied).
    fn passive_checkpoint(&self) -> Result<(i64, i64, i64), ReplicateError> {
        self.checkpointer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| ReplicateError::sqlite("checkpoint", e))
    }

    /// The part of a checkpoint that runs under the write lock: reads the last frames into a
    /// staged L0 file (no upload: the app's writer is waiting), then copies every frame into the
    /// database file. A restart of the WAL after that loses nothing: the staged file holds what
    /// the bucket lacks, and it is uploaded before anything newer. If the process dies first, the
    /// next start finds the bucket's position gone from the WAL and ships a full snapshot.
    fn checkpoint_locked(&mut self) -> Result<CheckpointOutcome, ReplicateError> {
        let staged = match self.stage_rest() {
            Ok(staged) => staged,
            // The WAL is not the generation we read (another process reset it): the next sync
            // ships a full snapshot; no checkpoint until then.
            Err(ReplicateError::WalGenerationChanged) => return Ok(CheckpointOutcome::Incomplete),
            Err(e) => return Err(e),
        };
        let Some(pos) = self.pos else {
            return Ok(CheckpointOutcome::Incomplete);
        };
        let read = match &staged {
            Some(s) => s.end_frame(self.frame_size()),
            None => (pos.wal.offset - WAL_HEADER_SIZE) / self.frame_size(),
        };
        // Nothing can commit now, so the read mark may go: every frame is shipped or staged.
        self.end_read();
        let checkpoint = self.passive_checkpoint();
        let (busy, log, done) = match checkpoint {
            Ok(c) => c,
            Err(e) => {
                self.staged = staged;
                return Err(e);
            }
        };
        let complete = busy == 0 && log == done && done as u64 == read;
        tracing::debug!(busy, log, done, read, complete, staged = staged.is_some(), "checkpoint");
        if log as u64 > read {
            // Cannot happen while we hold the write lock; never let it pass silently.
            tracing::error!(log, read, "checkpoint saw frames it had not read; shipping a full snapshot next");
            self.pos = None;
            return Ok(CheckpointOutcome::Incomplete);
        }
        match staged {
            Some(mut s) => {
                s.checkpointed = complete;
                self.staged = Some(s);
            }
            None if complete => self.restart_expected = true,
            None => {}
        }
        Ok(if complete { CheckpointOutcome::Complete } else { CheckpointOutcome::Incomplete })
    }
}
