//! Litestream-compatible replication of the SQLite database to S3 (work in progress).

pub mod ltx;
pub mod lz4;
