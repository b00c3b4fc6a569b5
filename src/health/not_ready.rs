//! Why a readiness check refuses traffic; the text is what `/readyz` and the status page show.

use std::time::Duration;

use crate::db::IntegrityError;
use crate::db::files::FilesNotWritable;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotReady {
    #[error("failover stopped")]
    FailoverStopped,
    /// A follower (or a leader whose lease lapsed): `leader` is who holds the lease, if anyone.
    #[error("{role} ({state}): not accepting writes; leader {}, TXID {txid}{}",
        leader.as_deref().unwrap_or("nobody yet"),
        lag.map(|l| format!(", lag {} ms", l.as_millis())).unwrap_or_default())]
    NotAcceptingWrites {
        role: &'static str,
        state: &'static str,
        leader: Option<String>,
        txid: String,
        lag: Option<Duration>,
    },
    #[error("the replication thread is not running")]
    ReplicationStopped,
    #[error("replication is {seconds:.0}s behind")]
    ReplicationBehind { seconds: f64 },
    #[error("no certificate yet (waiting for the one the leader stores)")]
    AwaitingLeaderCertificate,
    #[error("no certificate yet{}", .last_error.as_ref().map(|e| format!(" (last attempt: {e})")).unwrap_or_else(|| " (being obtained)".into()))]
    NoCertificate { last_error: Option<String> },
    #[error("the disk refuses writes (full, read-only or failing)")]
    StorageFailing,
    #[error(transparent)]
    FilesNotWritable(#[from] FilesNotWritable),
    #[error("quick_check: {0}")]
    Integrity(#[from] IntegrityError),
}
