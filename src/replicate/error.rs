//! The one error type of the replication module. Every variant that concerns an object or a
//! file names it, so an operator can find the culprit from the message alone.

use std::path::PathBuf;
use std::time::Duration;

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

    #[error("commit {seq} not stored in S3 after {waited:?} (replication is behind or S3 is unreachable)")]
    Timeout { seq: u64, waited: Duration },

    #[error("another writer owns the backup: {key} already exists with different content; this node stopped shipping")]
    Fenced { key: String },

    #[error("no backup found: {0}")]
    NoBackup(String),

    #[error("backup is not restorable: {0}")]
    Plan(String),

    #[error("restore target {0} already exists (use force to replace it)")]
    TargetExists(PathBuf),

    #[error("integrity check of {path} failed: {result}")]
    IntegrityCheck { path: PathBuf, result: String },

    #[error("backup verification failed at TXID {txid:016x}: {detail}")]
    VerifyMismatch { txid: u64, detail: String },

    #[error("the replicator is not running")]
    Stopped,
}

impl ReplicateError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ReplicateError::Io { context: context.into(), source }
    }

    pub(crate) fn sqlite(context: impl Into<String>, source: rusqlite::Error) -> Self {
        ReplicateError::Sqlite { context: context.into(), source }
    }

    pub(crate) fn corrupt(key: impl Into<String>, reason: impl ToString) -> Self {
        ReplicateError::CorruptObject { key: key.into(), reason: reason.to_string() }
    }
}
