//! Litestream-compatible replication of the SQLite database to S3 (work in progress).

pub mod error;
pub mod ltx;
pub mod lz4;
pub mod options;
pub mod plan;
pub mod s3;
pub mod wal;

pub use error::ReplicateError;
pub use options::{AckMode, PageEncoding, ReplicatorOptions};
pub use plan::RestoreTarget;
