//! The replica bucket in Litestream's key layout, over any [`ObjectClient`]:
//! `<prefix>/<level:04x>/<min:016x>-<max:016x>.ltx`, each object carrying the metadata
//! `x-amz-meta-litestream-timestamp` (the LTX header timestamp, RFC 3339). Retries of reads
//! live here, so they are the same against every client.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

use super::error::ReplicateError;
use super::ltx;
use super::options::ReplicatorOptions;
use super::storage::{self, ObjectClient, PutCondition, PutOutcome, StorageError, Tuning};

/// Highest level; Litestream keeps snapshots at level 9.
pub const SNAPSHOT_LEVEL: u32 = 9;
const TIMESTAMP_METADATA: &str = "litestream-timestamp";
/// Downloads are split into ranged GETs of this size, each retried on its own.
const RANGE_SIZE: u64 = 8 * 1024 * 1024;
const GET_ATTEMPTS: u32 = 4;

/// One LTX object in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub level: u32,
    pub min_txid: u64,
    pub max_txid: u64,
    pub size: u64,
    /// The object's LastModified (or the LTX header timestamp when it was read).
    pub created_at: DateTime<Utc>,
    pub key: String,
}

/// What a create-only upload found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    Created,
    AlreadyExists,
}

/// The replica bucket and key prefix.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectClient>,
    prefix: String,
    /// `s3://bucket/prefix` for messages.
    display: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("url", &self.display).finish()
    }
}

fn s3_err(op: &'static str, key: &str) -> impl FnOnce(StorageError) -> ReplicateError {
    let key = key.to_string();
    move |source| ReplicateError::S3 { op, key, source }
}

pub fn format_timestamp(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default().to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl Store {
    pub fn new(opts: &ReplicatorOptions) -> Result<Store, ReplicateError> {
        let (bucket, prefix) = opts.bucket_and_prefix()?;
        let inner = storage::connect(opts, Tuning::Bulk)?;
        Ok(Store { inner, display: format!("s3://{bucket}/{prefix}"), prefix })
    }

    pub fn url(&self) -> &str {
        &self.display
    }

    /// The bucket key of `sub` below the prefix.
    pub fn key(&self, sub: &str) -> String {
        if self.prefix.is_empty() { sub.to_string() } else { format!("{}/{sub}", self.prefix) }
    }

    pub fn ltx_key(&self, level: u32, min_txid: u64, max_txid: u64) -> String {
        self.key(&format!("{level:04x}/{}", ltx::file_name(min_txid, max_txid)))
    }

    /// LTX files of one level, sorted by TXID range; other objects are ignored.
    pub async fn list_level(&self, level: u32) -> Result<Vec<FileInfo>, ReplicateError> {
        let dir = self.key(&format!("{level:04x}"));
        let metas = self.inner.list(&dir).await.map_err(s3_err("list", &dir))?;
        let mut out: Vec<FileInfo> = metas
            .into_iter()
            .filter_map(|m| {
                let key = m.key;
                let name = key.strip_prefix(&dir)?.strip_prefix('/')?;
                let (min_txid, max_txid) = ltx::parse_file_name(name)?;
                Some(FileInfo { level, min_txid, max_txid, size: m.size, created_at: m.last_modified, key })
            })
            .collect();
        out.sort_by_key(|f| (f.min_txid, f.max_txid));
        Ok(out)
    }

    /// Every LTX file of levels 0..=9.
    pub async fn list_all(&self) -> Result<Vec<FileInfo>, ReplicateError> {
        let mut lists = Vec::with_capacity(SNAPSHOT_LEVEL as usize + 1);
        for level in 0..=SNAPSHOT_LEVEL {
            lists.push(self.list_level(level));
        }
        let levels = futures_util::future::try_join_all(lists).await?;
        Ok(levels.into_iter().flatten().collect())
    }

    fn metadata(timestamp_ms: i64) -> [(&'static str, String); 1] {
        [(TIMESTAMP_METADATA, format_timestamp(timestamp_ms))]
    }

    /// Uploads an L0 file only if its key does not exist yet (`If-None-Match: *`), so that a
    /// deposed primary can never overwrite the history written by its successor.
    pub async fn put_create(&self, key: &str, data: Bytes, timestamp_ms: i64) -> Result<CreateOutcome, ReplicateError> {
        let metadata = Self::metadata(timestamp_ms);
        match self
            .inner
            .put(key, data, PutCondition::Create, &metadata)
            .await
            .map_err(s3_err("create-only PUT", key))?
        {
            PutOutcome::Stored { .. } => Ok(CreateOutcome::Created),
            PutOutcome::PreconditionFailed => Ok(CreateOutcome::AlreadyExists),
        }
    }

    /// Uploads (or replaces) a snapshot or compaction (in parts when it is large, on S3).
    pub async fn put(&self, key: &str, data: Bytes, timestamp_ms: i64) -> Result<(), ReplicateError> {
        let metadata = Self::metadata(timestamp_ms);
        self.inner.put(key, data, PutCondition::Overwrite, &metadata).await.map_err(s3_err("PUT", key))?;
        Ok(())
    }

    /// One ranged GET, retried with backoff on anything but "not found".
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, ReplicateError> {
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match self.inner.get_range(key, range.clone()).await {
                Ok(b) if b.len() as u64 == range.end - range.start => return Ok(b),
                Ok(b) => {
                    return Err(ReplicateError::corrupt(
                        key,
                        format!("ranged GET {range:?} returned {} bytes (object shorter than listed?)", b.len()),
                    ));
                }
                Err(e @ StorageError::NotFound(_)) => {
                    return Err(s3_err("GET", key)(e));
                }
                Err(e) if attempt >= GET_ATTEMPTS => return Err(s3_err("GET", key)(e)),
                Err(e) => {
                    tracing::warn!(key, attempt, error = %e, "ranged GET failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
            }
        }
    }

    /// Downloads a whole object of known size in ranged GETs, reporting bytes as they arrive.
    pub async fn get_all(
        &self,
        key: &str,
        size: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<Vec<u8>, ReplicateError> {
        if size <= RANGE_SIZE {
            let b = self.get_whole(key).await?;
            if b.len() as u64 != size {
                return Err(ReplicateError::corrupt(
                    key,
                    format!("object has {} bytes, the listing said {size}", b.len()),
                ));
            }
            progress(size);
            return Ok(b.to_vec());
        }
        let mut out = Vec::with_capacity(size as usize);
        let mut start = 0;
        while start < size {
            let end = (start + RANGE_SIZE).min(size);
            let chunk = self.get_range(key, start..end).await?;
            out.extend_from_slice(&chunk);
            progress(chunk.len() as u64);
            start = end;
        }
        Ok(out)
    }

    /// One whole-object GET, retried like [`Store::get_range`].
    async fn get_whole(&self, key: &str) -> Result<Bytes, ReplicateError> {
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match self.inner.get(key).await {
                Ok(o) => return Ok(o.bytes),
                Err(e @ StorageError::NotFound(_)) => return Err(s3_err("GET", key)(e)),
                Err(e) if attempt >= GET_ATTEMPTS => return Err(s3_err("GET", key)(e)),
                Err(e) => {
                    tracing::warn!(key, attempt, error = %e, "GET failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
            }
        }
    }

    /// Downloads an object whose size is not known (v0.3 files).
    pub async fn get(&self, key: &str) -> Result<Bytes, ReplicateError> {
        Ok(self.inner.get(key).await.map_err(s3_err("GET", key))?.bytes)
    }

    /// Deletes objects one by one; objects already gone are fine.
    pub async fn delete(&self, keys: &[String]) -> Result<(), ReplicateError> {
        for key in keys {
            self.inner.delete(key).await.map_err(s3_err("DELETE", key))?;
        }
        Ok(())
    }

    /// All objects below `sub` (recursive), as (key, size, last modified).
    pub async fn list_objects(&self, sub: &str) -> Result<Vec<(String, u64, DateTime<Utc>)>, ReplicateError> {
        let dir = self.key(sub);
        let metas = self.inner.list(&dir).await.map_err(s3_err("list", &dir))?;
        Ok(metas.into_iter().map(|m| (m.key, m.size, m.last_modified)).collect())
    }
}
