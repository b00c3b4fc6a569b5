//! The one error type of the replication module. Every variant that concerns an object or a
//! file names it, so an operator can find the culprit from the message alone.

use std::path::PathBuf;
use std::time::Duration;

use super::txid::Txid;
use crate::db::CommitSeq;

#[derive(Debug, thiserror::Error)]
pub enum ReplicateError {
    #[error("invalid replication setting: {0}")]
    Config(String),

    #[error("S3 {op} of {key} failed: {source}")]
    S3 {
        op: &'static str,
        key: String,
        #[source]
        source: super::storage::StorageError,
    },

    #[error("backup object {key} is corrupt: {reason}")]
    CorruptObject { key: String, reason: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{context}: {source}")]
    Sqlite {
        context: String,
        #[source]
        source: rusqlite::Error,
    },

    #[error("commit {} not stored in S3 after {waited:?} (replication is behind or S3 is unreachable)", .seq.get())]
    Timeout { seq: CommitSeq, waited: Duration },

    #[error("another writer owns the backup: {key} already exists with different content; this node stopped shipping")]
    Fenced { key: String },

    #[error("no backup found: {0}")]
    NoBackup(String),

    /// The backup's files cannot be restored as they are: TXIDs that do not continue each other,
    /// a restore that does not start with a snapshot, pages or v0.3 WAL segments missing. For a
    /// follower it means the bucket's history does not continue from what it applied (see
    /// [`ReplicateError::needs_resync`]).
    #[error("backup is not restorable: {0}")]
    Plan(String),

    #[error("upload of {key} timed out after {waited:?}")]
    UploadTimeout { key: String, waited: Duration },

    /// A blocking worker task (restore, compaction, verify) panicked or was cancelled.
    #[error("{worker} worker failed: {reason}")]
    WorkerFailed { worker: &'static str, reason: String },

    /// The WAL restarted between the last sync and a read of the shipped state.
    #[error("the WAL changed generation; try again after the next sync")]
    WalGenerationChanged,

    #[error("nothing to compact")]
    NothingToCompact,

    /// Encoding an LTX file (a snapshot, an L0 file, a compaction) failed.
    #[error("building {what} failed: {reason}")]
    LtxEncode { what: String, reason: String },

    /// `verify`: the live database and the backup use different page sizes.
    #[error("live page size {live} differs from the backup's {backup}")]
    PageSizeMismatch { live: u32, backup: u32 },

    #[error("restore target {0} already exists (use force to replace it)")]
    TargetExists(PathBuf),

    #[error("integrity check of {path} failed: {result}")]
    IntegrityCheck { path: PathBuf, result: String },

    #[error("backup verification failed at TXID {txid}: {detail}")]
    VerifyMismatch { txid: Txid, detail: String },

    #[error("the replicator is not running")]
    Stopped,

    /// Readers or another connection kept SQLite busy past a bounded wait; retry later.
    #[error("the database stayed busy: {0}")]
    Busy(String),
}

impl ReplicateError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ReplicateError::Io { context: context.into(), source }
    }

    pub(crate) fn sqlite(context: impl Into<String>, source: rusqlite::Error) -> Self {
        ReplicateError::Sqlite { context: context.into(), source }
    }

    /// Whether a follower must rebuild its copy from the newest snapshot: the bucket's history
    /// does not continue from the TXID it applied (or its files cannot be restored). Every other
    /// error (S3 unreachable, a local I/O or SQLite failure, …) is worth retrying as it is.
    pub fn needs_resync(&self) -> bool {
        matches!(self, ReplicateError::Plan(_))
    }

    pub(crate) fn worker(worker: &'static str, e: tokio::task::JoinError) -> Self {
        ReplicateError::WorkerFailed { worker, reason: e.to_string() }
    }

    pub(crate) fn encode(what: impl Into<String>, e: impl ToString) -> Self {
        ReplicateError::LtxEncode { what: what.into(), reason: e.to_string() }
    }

    pub(crate) fn corrupt(key: impl Into<String>, reason: impl ToString) -> Self {
        ReplicateError::CorruptObject { key: key.into(), reason: reason.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unrestorable_history_needs_a_resync() {
        assert!(ReplicateError::Plan("a gap".into()).needs_resync());
        let others = [
            ReplicateError::UploadTimeout { key: "0000/x.ltx".into(), waited: Duration::from_secs(2) },
            ReplicateError::WorkerFailed { worker: "restore", reason: "task panicked".into() },
            ReplicateError::WalGenerationChanged,
            ReplicateError::NothingToCompact,
            ReplicateError::encode("an LTX file", "bad page"),
            ReplicateError::PageSizeMismatch { live: 4096, backup: 1024 },
            ReplicateError::Stopped,
            ReplicateError::Busy("could not empty the WAL".into()),
        ];
        for e in others {
            assert!(!e.needs_resync(), "{e}");
        }
    }

    #[test]
    fn messages_name_the_problem_and_keep_the_details() {
        let e = ReplicateError::UploadTimeout { key: "0000/x.ltx".into(), waited: Duration::from_secs(2) };
        assert_eq!(e.to_string(), "upload of 0000/x.ltx timed out after 2s");
        let e = ReplicateError::WorkerFailed { worker: "compaction", reason: "task 7 panicked".into() };
        assert_eq!(e.to_string(), "compaction worker failed: task 7 panicked");
        assert_eq!(ReplicateError::encode("an LTX file", "x").to_string(), "building an LTX file failed: x");
        assert_eq!(
            ReplicateError::PageSizeMismatch { live: 4096, backup: 1024 }.to_string(),
            "live page size 4096 differs from the backup's 1024"
        );
    }
}
