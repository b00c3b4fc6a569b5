//! Litestream-compatible replication of the SQLite database to S3 (work in progress).

pub mod apply;
pub mod error;
pub mod listing;
pub mod ltx;
pub mod lz4;
pub mod options;
pub mod plan;
pub mod restore;
pub mod s3;
pub mod v3;
pub mod wal;

pub use error::ReplicateError;
pub use listing::{BackupListing, list};
pub use options::{AckMode, PageEncoding, ReplicatorOptions};
pub use plan::RestoreTarget;
pub use restore::{RestoreProgress, RestoreReport, RestoreSource, restore};
