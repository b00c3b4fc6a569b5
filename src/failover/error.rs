//! What can go wrong in failover, as the callers (start-up, `mysetlist promote`) and the
//! controller's status see it. Replication and lease errors are kept as sources.

use std::path::PathBuf;
use std::time::Duration;

use super::lease::LeaseError;
use crate::replicate::ReplicateError;

#[derive(Debug, thiserror::Error)]
pub enum FailoverError {
    #[error("gave up after {waited:?}: the bucket {url} is unreachable or holds no backup to follow")]
    BucketUnavailable { url: String, waited: Duration },

    #[error(
        "another running node renews the lease under failover.node_id = {node_id:?}; give every node its own node_id"
    )]
    NodeIdInUse { node_id: String },

    #[error("cannot restore the bucket's newest state to follow it")]
    RestoreToFollow(#[source] ReplicateError),

    #[error("restore_if_missing: cannot restore the database")]
    RestoreIfMissing(#[source] ReplicateError),

    #[error("cannot create the data directory {path}")]
    DataDir { path: PathBuf, source: std::io::Error },

    /// A planned hand-over did not happen in time (`mysetlist promote`).
    #[error(
        "{node} did not take the lease over within {waited:?}. Is `mysetlist serve` running on this node with this \
         configuration (same replication.url and failover.node_id = {node:?})? The leader ({leader}) keeps leading \
         if it could not ship its last commits."
    )]
    PromoteTimedOut { node: String, waited: Duration, leader: String },

    #[error("{key} does not exist: no node leads this bucket yet (start a node with role = \"primary\")")]
    NoLease { key: String },

    /// A conditional write of the lease found another version: another node took it over.
    #[error("the lease changed (taken over?)")]
    LeaseChanged,

    #[error("this node does not lead")]
    NotLeading,

    #[error(transparent)]
    Lease(#[from] LeaseError),

    #[error(transparent)]
    Replication(#[from] ReplicateError),
}
