//! State the shipper shares with the handle: what is durable in S3 and health numbers for
//! `/metrics` and `/readyz`.

use std::time::{Instant, SystemTime};

use parking_lot::Mutex;
use tokio::sync::watch;

use super::Txid;
use crate::db::CommitSeq;

/// A point-in-time view of replication, for metrics and readiness.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicationStatus {
    /// Highest Litestream TXID this node stored in S3 (0 before the first upload).
    pub txid: Txid,
    /// Highest commit sequence known durable in S3.
    pub shipped_seq: CommitSeq,
    /// Latest commit sequence the writer published.
    pub commit_seq: CommitSeq,
    pub last_upload_at: Option<SystemTime>,
    /// LTX files stored since start.
    pub uploads: u64,
    /// Seconds since replication was last caught up, 0 when nothing is waiting.
    pub lag_seconds: f64,
    /// Failed sync attempts since start (each is retried with backoff).
    pub upload_errors: u64,
    /// The most recent failure; cleared by the next successful upload.
    pub last_error: Option<String>,
    pub last_snapshot_at: Option<SystemTime>,
    pub last_snapshot_txid: Txid,
    pub last_compaction_at: Option<SystemTime>,
    pub last_checkpoint_at: Option<SystemTime>,
    /// Checkpoints wait for the shipper: more is unshipped than a checkpoint stages in memory
    /// (`ReplicatorOptions::staged_at_most`), so the WAL grows until the bucket catches up.
    pub checkpoints_waiting: bool,
    /// Frames in the current WAL generation that are already in S3.
    pub wal_frames: u64,
    /// Another writer owns the bucket's history; this node stopped shipping.
    pub fenced: bool,
    /// The shipper thread is running.
    pub running: bool,
}

/// Mutable part, behind a mutex.
#[derive(Debug)]
pub(crate) struct Inner {
    pub txid: Txid,
    pub shipped_seq: CommitSeq,
    pub last_upload_at: Option<SystemTime>,
    /// LTX files stored since start.
    pub uploads: u64,
    /// Start of the last sync that shipped everything committed before it.
    pub caught_up_at: Instant,
    pub upload_errors: u64,
    pub last_error: Option<String>,
    pub last_snapshot_at: Option<SystemTime>,
    pub last_snapshot_txid: Txid,
    pub last_compaction_at: Option<SystemTime>,
    pub last_checkpoint_at: Option<SystemTime>,
    pub checkpoints_waiting: bool,
    pub wal_frames: u64,
    pub fenced: bool,
    pub running: bool,
}

pub(crate) struct Shared {
    pub inner: Mutex<Inner>,
    pub shipped: watch::Sender<CommitSeq>,
    /// Flips to true when another writer fenced this node, waking every waiter.
    pub fenced: watch::Sender<bool>,
    /// Set by [`super::ReplicatorHandle::abandon`]: upload nothing more, not even a final sync.
    pub abandoned: std::sync::atomic::AtomicBool,
}

impl Shared {
    pub fn new() -> Shared {
        Shared {
            inner: Mutex::new(Inner {
                txid: Txid::ZERO,
                shipped_seq: CommitSeq::default(),
                last_upload_at: None,
                uploads: 0,
                caught_up_at: Instant::now(),
                upload_errors: 0,
                last_error: None,
                last_snapshot_at: None,
                last_snapshot_txid: Txid::ZERO,
                last_compaction_at: None,
                last_checkpoint_at: None,
                checkpoints_waiting: false,
                wal_frames: 0,
                fenced: false,
                running: true,
            }),
            shipped: watch::Sender::new(CommitSeq::default()),
            fenced: watch::Sender::new(false),
            abandoned: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Records that every commit up to `seq`, as of the sync that started at `started`, is in S3.
    pub fn publish(&self, seq: CommitSeq, started: Instant) {
        {
            let mut i = self.inner.lock();
            if seq >= i.shipped_seq {
                i.shipped_seq = seq;
                i.caught_up_at = started;
            }
        }
        self.shipped.send_if_modified(|v| {
            if seq > *v {
                *v = seq;
                true
            } else {
                false
            }
        });
    }

    pub fn set_fenced(&self) {
        self.inner.lock().fenced = true;
        self.fenced.send_replace(true);
    }

    pub fn is_abandoned(&self) -> bool {
        self.abandoned.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn record_error(&self, e: &impl std::fmt::Display) {
        let mut i = self.inner.lock();
        i.upload_errors += 1;
        i.last_error = Some(e.to_string());
    }

    pub fn snapshot(&self, commit_seq: CommitSeq) -> ReplicationStatus {
        let i = self.inner.lock();
        let lag = if commit_seq > i.shipped_seq { i.caught_up_at.elapsed().as_secs_f64() } else { 0.0 };
        ReplicationStatus {
            txid: i.txid,
            shipped_seq: i.shipped_seq,
            commit_seq,
            last_upload_at: i.last_upload_at,
            uploads: i.uploads,
            lag_seconds: lag,
            upload_errors: i.upload_errors,
            last_error: i.last_error.clone(),
            last_snapshot_at: i.last_snapshot_at,
            last_snapshot_txid: i.last_snapshot_txid,
            last_compaction_at: i.last_compaction_at,
            last_checkpoint_at: i.last_checkpoint_at,
            checkpoints_waiting: i.checkpoints_waiting,
            wal_frames: i.wal_frames,
            fenced: i.fenced,
            running: i.running,
        }
    }
}
