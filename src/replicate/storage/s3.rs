//! [`ObjectClient`] over S3 (and S3-compatible servers), the only place an S3 client is built.
//!
//! Client choice: `object_store` 0.12 (the `aws` feature) rather than `rust-s3`. It does
//! everything replication needs: path-style requests against a custom endpoint
//! (`with_virtual_hosted_style_request(false)` + `with_endpoint`), multipart uploads
//! (`put_multipart_opts` / `WriteMultipart`), retries with exponential backoff on 5xx,
//! throttling and connection errors (`RetryConfig`), ranged GETs, and conditional PUTs
//! (`PutMode::Create` sends `If-None-Match: *`, `PutMode::Update` sends `If-Match`, a 412
//! comes back as `AlreadyExists` / `Precondition`). It is maintained by the Apache Arrow
//! project, uses reqwest with rustls (no OpenSSL, good for the static binary). One limit: a
//! create-only *multipart* upload is not exposed, so conditional puts are single PUTs (S3
//! accepts up to 5 GiB in one PUT); large unconditional uploads (snapshots, compactions) go in
//! parts.

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, BackoffConfig, ClientOptions, GetOptions, ObjectStore, PutMode,
    PutMultipartOptions, PutOptions, PutPayload, RetryConfig, UpdateVersion, WriteMultipart,
};

use super::{Object, ObjectClient, ObjectMeta, PutCondition, PutOutcome, StorageError};
use crate::replicate::error::ReplicateError;
use crate::replicate::options::ReplicatorOptions;

/// Objects at least this large are uploaded in parts.
const MULTIPART_THRESHOLD: usize = 16 * 1024 * 1024;
const PART_SIZE: usize = 8 * 1024 * 1024;

/// What the client is for, which sets its timeouts and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tuning {
    /// Replication, restore and verify: large objects, patient retries.
    Bulk,
    /// The leadership lease: every request bounded far below the TTL, so a renewal that hangs
    /// fails while the holder can still act on the failure.
    Lease { op_timeout: Duration },
}

/// An S3 bucket.
pub struct S3Client {
    inner: AmazonS3,
    bucket: String,
}

impl std::fmt::Debug for S3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Client").field("bucket", &self.bucket).finish()
    }
}

impl S3Client {
    /// The bucket of `opts.url` at `opts.endpoint` (AWS when none), with `opts`' region,
    /// addressing style and credentials (the `AWS_*` environment when none are set).
    pub fn build(opts: &ReplicatorOptions, tuning: Tuning) -> Result<S3Client, ReplicateError> {
        let (bucket, _) = opts.bucket_and_prefix()?;
        let (retry, timeout, connect_timeout) = match tuning {
            Tuning::Bulk => (
                RetryConfig {
                    backoff: BackoffConfig {
                        init_backoff: Duration::from_millis(100),
                        max_backoff: Duration::from_secs(2),
                        base: 2.0,
                    },
                    max_retries: 3,
                    retry_timeout: Duration::from_secs(20),
                },
                Duration::from_secs(60),
                Duration::from_secs(5),
            ),
            Tuning::Lease { op_timeout } => (
                RetryConfig {
                    backoff: BackoffConfig {
                        init_backoff: Duration::from_millis(50),
                        max_backoff: Duration::from_millis(500),
                        base: 2.0,
                    },
                    max_retries: 2,
                    retry_timeout: op_timeout,
                },
                op_timeout,
                op_timeout.min(Duration::from_secs(2)),
            ),
        };
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_region(&opts.region)
            .with_virtual_hosted_style_request(!opts.force_path_style)
            .with_retry(retry);
        let mut client = ClientOptions::new().with_timeout(timeout).with_connect_timeout(connect_timeout);
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
        Ok(S3Client { inner, bucket })
    }
}

fn storage_error(e: object_store::Error) -> StorageError {
    match e {
        object_store::Error::NotFound { .. } => StorageError::NotFound(e.to_string()),
        e => StorageError::Failed(e.to_string()),
    }
}

fn attributes(metadata: &[(&'static str, String)]) -> Attributes {
    let mut attributes = Attributes::new();
    for (name, value) in metadata {
        attributes.insert(Attribute::Metadata((*name).into()), AttributeValue::from(value.clone()));
    }
    attributes
}

#[async_trait::async_trait]
impl ObjectClient for S3Client {
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StorageError> {
        let metas: Vec<_> = self.inner.list(Some(&Path::from(prefix))).try_collect().await.map_err(storage_error)?;
        Ok(metas
            .into_iter()
            .map(|m| ObjectMeta { key: m.location.to_string(), size: m.size, last_modified: m.last_modified })
            .collect())
    }

    async fn get(&self, key: &str) -> Result<Object, StorageError> {
        let got = self.inner.get_opts(&Path::from(key), GetOptions::default()).await.map_err(storage_error)?;
        let etag = got.meta.e_tag.clone();
        let bytes = got.bytes().await.map_err(storage_error)?;
        Ok(Object { bytes, etag })
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        self.inner.get_range(&Path::from(key), range).await.map_err(storage_error)
    }

    async fn put(
        &self,
        key: &str,
        data: Bytes,
        condition: PutCondition,
        metadata: &[(&'static str, String)],
    ) -> Result<PutOutcome, StorageError> {
        let path = Path::from(key);
        let attributes = attributes(metadata);
        if condition == PutCondition::Overwrite && data.len() >= MULTIPART_THRESHOLD {
            let opts = PutMultipartOptions { attributes, ..PutMultipartOptions::default() };
            let upload = self.inner.put_multipart_opts(&path, opts).await.map_err(storage_error)?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            let mut rest = data;
            while !rest.is_empty() {
                w.wait_for_capacity(4).await.map_err(storage_error)?;
                let chunk = rest.split_to(rest.len().min(PART_SIZE));
                w.put(chunk);
            }
            let done = w.finish().await.map_err(storage_error)?;
            return Ok(PutOutcome::Stored { etag: done.e_tag });
        }
        let mode = match condition {
            PutCondition::Overwrite => PutMode::Overwrite,
            PutCondition::Create => PutMode::Create,
            PutCondition::IfMatch(etag) => PutMode::Update(UpdateVersion { e_tag: Some(etag), version: None }),
        };
        let opts = PutOptions { mode, attributes, ..PutOptions::default() };
        match self.inner.put_opts(&path, PutPayload::from(data), opts).await {
            Ok(r) => Ok(PutOutcome::Stored { etag: r.e_tag }),
            Err(object_store::Error::AlreadyExists { .. }) | Err(object_store::Error::Precondition { .. }) => {
                Ok(PutOutcome::PreconditionFailed)
            }
            Err(e) => Err(storage_error(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.inner.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage_error(e)),
        }
    }
}
