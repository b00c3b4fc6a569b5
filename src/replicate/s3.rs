//! Object store access for the replica bucket, in Litestream's key layout:
//! `<prefix>/<level:04x>/<min:016x>-<max:016x>.ltx`, each object carrying the metadata
//! `x-amz-meta-litestream-timestamp` (the LTX header timestamp, RFC 3339).
//!
//! Client choice: `object_store` 0.12 (the `aws` feature) rather than `rust-s3`. It does
//! everything replication needs: path-style requests against a custom endpoint
//! (`with_virtual_hosted_style_request(false)` + `with_endpoint`), multipart uploads
//! (`put_multipart_opts` / `WriteMultipart`), retries with exponential backoff on 5xx,
//! throttling and connection errors (`RetryConfig`), ranged GETs, and conditional PUTs
//! (`PutMode::Create` sends `If-None-Match: *`, `PutMode::Update` sends `If-Match`, a 412
//! comes back as `AlreadyExists` / `Precondition`). It is maintained by the Apache Arrow
//! project, uses reqwest with rustls (no OpenSSL, good for the static binary) and was already
//! a dependency. One limit: a create-only *multipart* upload is not exposed, so create-only
//! L0 files are single PUTs (S3 accepts up to 5 GiB in one PUT); large snapshots and
//! compactions, which may overwrite, use multipart.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, BackoffConfig, ClientOptions, ObjectStore, PutMode, PutMultipartOptions,
    PutOptions, PutPayload, RetryConfig, WriteMultipart,
};

use super::error::ReplicateError;
use super::ltx;
use super::options::ReplicatorOptions;

/// Highest level; Litestream keeps snapshots at level 9.
pub const SNAPSHOT_LEVEL: u32 = 9;
const TIMESTAMP_METADATA: &str = "litestream-timestamp";
/// Objects at least this large are uploaded in parts.
const MULTIPART_THRESHOLD: usize = 16 * 1024 * 1024;
const PART_SIZE: usize = 8 * 1024 * 1024;
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
    inner: Arc<AmazonS3>,
    prefix: String,
    /// `s3://bucket/prefix` for messages.
    display: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("url", &self.display).finish()
    }
}

fn s3_err(op: &'static str, key: &str) -> impl FnOnce(object_store::Error) -> ReplicateError {
    let key = key.to_string();
    move |source| ReplicateError::S3 { op, key, source }
}

pub fn format_timestamp(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default().to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl Store {
    pub fn new(opts: &ReplicatorOptions) -> Result<Store, ReplicateError> {
        let (bucket, prefix) = opts.bucket_and_prefix()?;
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_region(&opts.region)
            .with_virtual_hosted_style_request(!opts.force_path_style)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: 3,
                retry_timeout: Duration::from_secs(20),
            });
        let mut client =
            ClientOptions::new().with_timeout(Duration::from_secs(60)).with_connect_timeout(Duration::from_secs(5));
        if let Some(endpoint) = opts.endpoint.as_deref().filter(|e| !e.is_empty()) {
            b = b.with_endpoint(endpoint);
            if endpoint.starts_with("http://") {
                client = client.with_allow_http(true);
            }
        }
        if let (Some(id), Some(secret)) = (&opts.access_key_id, &opts.secret_access_key) {
            b = b.with_access_key_id(id).with_secret_access_key(secret);
        }
        let inner = b
            .with_client_options(client)
            .build()
            .map_err(|e| ReplicateError::Config(format!("S3 client for {}: {e}", opts.url)))?;
        Ok(Store { inner: Arc::new(inner), display: format!("s3://{bucket}/{prefix}"), prefix })
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
        let metas: Vec<_> =
            self.inner.list(Some(&Path::from(dir.as_str()))).try_collect().await.map_err(s3_err("list", &dir))?;
        let mut out: Vec<FileInfo> = metas
            .into_iter()
            .filter_map(|m| {
                let key = m.location.to_string();
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

    fn put_options(mode: PutMode, timestamp_ms: i64) -> PutOptions {
        let mut attributes = Attributes::new();
        attributes.insert(
            Attribute::Metadata(TIMESTAMP_METADATA.into()),
            AttributeValue::from(format_timestamp(timestamp_ms)),
        );
        PutOptions { mode, attributes, ..PutOptions::default() }
    }

    /// Uploads an L0 file only if its key does not exist yet (`If-None-Match: *`), so that a
    /// deposed primary can never overwrite the history written by its successor.
    pub async fn put_create(&self, key: &str, data: Bytes, timestamp_ms: i64) -> Result<CreateOutcome, ReplicateError> {
        let opts = Self::put_options(PutMode::Create, timestamp_ms);
        match self.inner.put_opts(&Path::from(key), PutPayload::from(data), opts).await {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(object_store::Error::AlreadyExists { .. }) | Err(object_store::Error::Precondition { .. }) => {
                Ok(CreateOutcome::AlreadyExists)
            }
            Err(e) => Err(s3_err("create-only PUT", key)(e)),
        }
    }

    /// Uploads (or replaces) a snapshot or compaction, in parts when it is large.
    pub async fn put(&self, key: &str, data: Bytes, timestamp_ms: i64) -> Result<(), ReplicateError> {
        let path = Path::from(key);
        if data.len() < MULTIPART_THRESHOLD {
            let opts = Self::put_options(PutMode::Overwrite, timestamp_ms);
            self.inner.put_opts(&path, PutPayload::from(data), opts).await.map_err(s3_err("PUT", key))?;
            return Ok(());
        }
        let opts = PutMultipartOptions {
            attributes: Self::put_options(PutMode::Overwrite, timestamp_ms).attributes,
            ..PutMultipartOptions::default()
        };
        let upload = self.inner.put_multipart_opts(&path, opts).await.map_err(s3_err("multipart start", key))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut rest = data;
        while !rest.is_empty() {
            w.wait_for_capacity(4).await.map_err(s3_err("multipart part", key))?;
            let chunk = rest.split_to(rest.len().min(PART_SIZE));
            w.put(chunk);
        }
        w.finish().await.map_err(s3_err("multipart complete", key))?;
        Ok(())
    }

    /// One ranged GET, retried with backoff on anything but "not found".
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, ReplicateError> {
        let path = Path::from(key);
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match self.inner.get_range(&path, range.clone()).await {
                Ok(b) if b.len() as u64 == range.end - range.start => return Ok(b),
                Ok(b) => {
                    return Err(ReplicateError::corrupt(
                        key,
                        format!("ranged GET {range:?} returned {} bytes (object shorter than listed?)", b.len()),
                    ));
                }
                Err(e @ object_store::Error::NotFound { .. }) => {
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

    /// Downloads an object whose size is not known (v0.3 files).
    pub async fn get(&self, key: &str) -> Result<Bytes, ReplicateError> {
        let r = self.inner.get(&Path::from(key)).await.map_err(s3_err("GET", key))?;
        r.bytes().await.map_err(s3_err("GET", key))
    }

    /// Deletes objects one by one; objects already gone are fine.
    pub async fn delete(&self, keys: &[String]) -> Result<(), ReplicateError> {
        for key in keys {
            match self.inner.delete(&Path::from(key.as_str())).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(s3_err("DELETE", key)(e)),
            }
        }
        Ok(())
    }

    /// All objects below `sub` (recursive), as (key, size, last modified).
    pub async fn list_objects(&self, sub: &str) -> Result<Vec<(String, u64, DateTime<Utc>)>, ReplicateError> {
        let dir = self.key(sub);
        let metas: Vec<_> =
            self.inner.list(Some(&Path::from(dir.as_str()))).try_collect().await.map_err(s3_err("list", &dir))?;
        Ok(metas.into_iter().map(|m| (m.location.to_string(), m.size, m.last_modified)).collect())
    }
}
