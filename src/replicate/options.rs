//! Settings of the replicator (the `[replication]` section maps onto [`ReplicatorOptions`]).

use std::fmt;
use std::time::Duration;

use super::error::ReplicateError;
pub use super::ltx::PageEncoding;

/// When a write counts as acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckMode {
    /// Acknowledged on local commit; the WAL ships every `sync_interval`.
    #[default]
    Local,
    /// Acknowledged once the LTX file holding the commit is stored in S3; the shipper uploads
    /// as soon as a commit lands.
    Replicated,
}

/// Where and how to replicate. Build with [`ReplicatorOptions::new`] and override fields.
#[derive(Clone)]
pub struct ReplicatorOptions {
    /// `s3://BUCKET/PREFIX`.
    pub url: String,
    /// S3-compatible endpoint such as `http://127.0.0.1:9000`; AWS when `None`.
    pub endpoint: Option<String>,
    pub region: String,
    pub force_path_style: bool,
    /// Credentials; when `None` the `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` environment is used.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// How often the WAL is shipped in local-ack mode.
    pub sync_interval: Duration,
    /// How often a full L9 snapshot is written (aligned to multiples of the interval, like Litestream).
    pub snapshot_interval: Duration,
    /// How long snapshots (and the files only they need) are kept. The newest snapshot and
    /// everything after it are never deleted.
    pub retention: Duration,
    pub ack: AckMode,
    pub page_encoding: PageEncoding,
    /// Compaction intervals of levels 1, 2, 3… (Litestream's defaults: 30s, 5m, 1h).
    pub compaction_intervals: Vec<Duration>,
    /// L0 files stay this long after being compacted into L1 (Litestream: 5m).
    pub l0_retention: Duration,
    /// The shipper checkpoints once the WAL holds this many frames (Litestream: 1000).
    pub checkpoint_frames: u64,
    /// The most a checkpoint stages in memory, under the write lock, once the bucket has fallen
    /// behind for a few rounds (bytes). Past it the checkpoint waits for the shipper to catch up,
    /// and the WAL grows on disk meanwhile: neither the writer's pause nor the memory grows with
    /// the gap. A checkpoint always stages up to two checkpoints' worth of frames (8 MiB at the
    /// default `checkpoint_frames`), whatever this says.
    pub staged_at_most: u64,
    /// The bucket client to use instead of S3 at `url` (the failover simulation's in-memory
    /// bucket); `None` in production.
    pub client: Option<std::sync::Arc<dyn super::storage::ObjectClient>>,
}

impl ReplicatorOptions {
    pub fn new(url: impl Into<String>) -> Self {
        ReplicatorOptions {
            url: url.into(),
            endpoint: None,
            region: "us-east-1".into(),
            force_path_style: false,
            access_key_id: None,
            secret_access_key: None,
            sync_interval: Duration::from_secs(1),
            snapshot_interval: Duration::from_secs(24 * 3600),
            retention: Duration::from_secs(72 * 3600),
            ack: AckMode::Local,
            page_encoding: PageEncoding::Frame,
            compaction_intervals: vec![Duration::from_secs(30), Duration::from_secs(300), Duration::from_secs(3600)],
            l0_retention: Duration::from_secs(300),
            checkpoint_frames: 1000,
            staged_at_most: 64 << 20,
            client: None,
        }
    }

    /// Splits the URL into bucket and key prefix (without slashes at either end).
    pub fn bucket_and_prefix(&self) -> Result<(String, String), ReplicateError> {
        let rest = self.url.strip_prefix("s3://").ok_or_else(|| {
            ReplicateError::Config(format!("replication.url {:?} must look like s3://BUCKET/PREFIX", self.url))
        })?;
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.len() < 3 {
            return Err(ReplicateError::Config(format!("replication.url {:?} has no valid bucket name", self.url)));
        }
        Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
    }

    pub(crate) fn validate(&self) -> Result<(), ReplicateError> {
        self.bucket_and_prefix()?;
        let positive = |name: &str, d: Duration| {
            if d.is_zero() {
                Err(ReplicateError::Config(format!("replication.{name} must be positive")))
            } else {
                Ok(())
            }
        };
        positive("sync_interval", self.sync_interval)?;
        positive("snapshot_interval", self.snapshot_interval)?;
        positive("retention", self.retention)?;
        if self.compaction_intervals.len() > 8 || self.compaction_intervals.iter().any(|d| d.is_zero()) {
            return Err(ReplicateError::Config("compaction intervals must be positive and at most 8 levels".into()));
        }
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            return Err(ReplicateError::Config(
                "replication.access_key_id and replication.secret_access_key must be set together".into(),
            ));
        }
        Ok(())
    }
}

// Hand-written so that the secret never reaches a log line.
impl fmt::Debug for ReplicatorOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplicatorOptions")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("force_path_style", &self.force_path_style)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<redacted>"))
            .field("sync_interval", &self.sync_interval)
            .field("snapshot_interval", &self.snapshot_interval)
            .field("retention", &self.retention)
            .field("ack", &self.ack)
            .field("page_encoding", &self.page_encoding)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parsing() {
        let o = ReplicatorOptions::new("s3://bucket/some/prefix/");
        assert_eq!(o.bucket_and_prefix().unwrap(), ("bucket".into(), "some/prefix".into()));
        let o = ReplicatorOptions::new("s3://bucket");
        assert_eq!(o.bucket_and_prefix().unwrap(), ("bucket".into(), "".into()));
        assert!(ReplicatorOptions::new("http://bucket/x").validate().is_err());
        assert!(ReplicatorOptions::new("s3:///x").validate().is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        let mut o = ReplicatorOptions::new("s3://bucket/p");
        o.secret_access_key = Some("hunter2".into());
        assert!(!format!("{o:?}").contains("hunter2"));
    }
}
