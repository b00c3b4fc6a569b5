//! The one interface through which replication, restore, follow mode and the leadership lease
//! reach the bucket: seven operations on whole keys (list, get, ranged get, put, create-only put,
//! put-if-match, delete), nothing about LTX or levels. [`Store`](super::bucket::Store) lays
//! Litestream's key layout on top; the lease is one more object beside it.
//!
//! Two implementations: [`S3Client`] (the only place an S3 client is built, for every caller)
//! and [`MemoryClient`], an in-process bucket with a seeded fault schedule that the failover
//! simulation runs the protocol against. Keeping the seam this narrow is what lets the same
//! code run against real S3 servers in production and tests, and against faults no real server
//! produces on demand (a success whose answer is lost, a non-atomic conditional write).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};

mod memory;
mod s3;

pub use memory::{FaultPlan, MemoryClient};
pub use s3::{S3Client, Tuning};

use super::error::ReplicateError;
use super::options::ReplicatorOptions;

/// One object as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

/// A whole object as read, with its version (ETag) where the server sends one.
#[derive(Debug, Clone)]
pub struct Object {
    pub bytes: Bytes,
    pub etag: Option<String>,
}

/// When a put may replace what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutCondition {
    /// Always.
    Overwrite,
    /// Only if the key does not exist (`If-None-Match: *`).
    Create,
    /// Only if the stored version is this ETag (`If-Match`).
    IfMatch(String),
}

/// What a put did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored; the new version's ETag where the server sent one.
    Stored { etag: Option<String> },
    /// The condition did not hold; nothing was written.
    PreconditionFailed,
}

/// Why an operation failed. `NotFound` is the only kind callers branch on; everything else is
/// "the bucket did not do it" (network, server error, timeout) and is retried or reported.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    Failed(String),
}

/// The bucket, as replication and the lease use it. Keys are full keys (prefix included).
#[async_trait::async_trait]
pub trait ObjectClient: Send + Sync + fmt::Debug {
    /// Every object whose key starts with `prefix/` (recursive), in no particular order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StorageError>;
    async fn get(&self, key: &str) -> Result<Object, StorageError>;
    /// Bytes `range` of the object; fewer when the object is shorter.
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError>;
    /// Stores `data` under `key` when `condition` holds, with user metadata (`x-amz-meta-*`).
    async fn put(
        &self,
        key: &str,
        data: Bytes,
        condition: PutCondition,
        metadata: &[(&'static str, String)],
    ) -> Result<PutOutcome, StorageError>;
    /// Deletes `key`; a key already gone is not an error.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
}

/// The client for `opts`: the one it carries (the simulation's in-memory bucket), or S3 at its
/// URL and endpoint, tuned for `tuning`.
pub fn connect(opts: &ReplicatorOptions, tuning: Tuning) -> Result<Arc<dyn ObjectClient>, ReplicateError> {
    match &opts.client {
        Some(client) => Ok(client.clone()),
        None => Ok(Arc::new(S3Client::build(opts, tuning)?)),
    }
}
