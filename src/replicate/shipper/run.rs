//! The shipper's command loop: wakes, runs a round, backs off on errors, makes the final sync.

use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::{
    Command, FINAL_SYNC_BUDGET, MAX_BACKOFF_LOCAL, MAX_BACKOFF_REPLICATED, MIN_SYNC_INTERVAL, ShippedDigest, Shipper,
    SyncOutcome, UPLOAD_TIMEOUT, WAL_BYTES_PER_ROUND,
};
use crate::replicate::error::ReplicateError;
use crate::replicate::options::AckMode;

/// Which kind of round `cycle` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// A round of the running loop: ship, then snapshot and checkpoint when due.
    Running,
    /// The final sync on shutdown: ship only.
    Final,
}

impl Shipper {
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
                    _ = tokio::time::sleep_until(next_sync) => Wake::Tick,
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
            match self.cycle(Round::Running) {
                Ok(outcome) => {
                    backoff = Duration::ZERO;
                    next_sync = match outcome {
                        SyncOutcome::ShipAgain => Instant::now(),
                        SyncOutcome::CaughtUp => Instant::now() + self.next_interval(),
                    };
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
        tracing::info!(txid = %self.txid, "replication stopped");
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
            match self.cycle(Round::Final) {
                Ok(SyncOutcome::ShipAgain) => continue,
                Ok(SyncOutcome::CaughtUp) => return,
                Err(e) => {
                    self.shared.record_error(&e);
                    if Instant::now() + delay > deadline || matches!(e, ReplicateError::Fenced { .. }) {
                        // Unshipped commits stay in the local WAL, or (a staged checkpoint file)
                        // in the database file: the next start ships them, or a full snapshot.
                        tracing::error!(error = %e, "final replication sync failed; the next start ships what is missing");
                        return;
                    }
                    std::thread::sleep(delay);
                    delay *= 2;
                }
            }
        }
    }

    /// The wait before the next round (see [`round_interval`]).
    fn next_interval(&self) -> Duration {
        round_interval(self.opts.sync_interval, self.pos.map_or(0, |p| p.wal.offset))
    }

    /// One round: connect to the bucket if needed, ship, snapshot, checkpoint. Snapshots and
    /// checkpoints wait while another sync must follow at once, and are skipped by the final round.
    fn cycle(&mut self, round: Round) -> Result<SyncOutcome, ReplicateError> {
        if !self.initialized {
            self.init()?;
        }
        let outcome = self.sync(UPLOAD_TIMEOUT)?;
        if outcome == SyncOutcome::ShipAgain || round == Round::Final {
            return Ok(outcome);
        }
        self.maybe_snapshot();
        self.maybe_checkpoint()?;
        Ok(SyncOutcome::CaughtUp)
    }
}

/// The wait before the next round: `sync_interval`, shorter when the last round's WAL generation
/// (`round_bytes`, the WAL restarts once per round because each round checkpoints) passed
/// [`WAL_BYTES_PER_ROUND`]. A round whose WAL passes the `journal_size_limit` (64 MiB) makes each
/// restart truncate the file, and the commit doing it waited 25-100 ms on the file system
/// (5,000 votes/s in groups of one or two write ~100 MB of WAL a second).
fn round_interval(sync_interval: Duration, round_bytes: u64) -> Duration {
    if round_bytes <= WAL_BYTES_PER_ROUND {
        return sync_interval;
    }
    let share = WAL_BYTES_PER_ROUND as f64 / round_bytes as f64;
    sync_interval.mul_f64(share).max(MIN_SYNC_INTERVAL).min(sync_interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_come_sooner_in_proportion_to_the_wal_they_fill() {
        let second = Duration::from_secs(1);
        assert_eq!(round_interval(second, 0), second);
        assert_eq!(round_interval(second, WAL_BYTES_PER_ROUND), second);
        assert_eq!(round_interval(second, 4 * WAL_BYTES_PER_ROUND), Duration::from_millis(250));
        // Never busier than MIN_SYNC_INTERVAL, never lazier than the configured interval.
        assert_eq!(round_interval(second, 1000 * WAL_BYTES_PER_ROUND), MIN_SYNC_INTERVAL);
        let fast = Duration::from_millis(10);
        assert_eq!(round_interval(fast, 4 * WAL_BYTES_PER_ROUND), fast);
    }
}
