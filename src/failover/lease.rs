//! The leadership lease: one small JSON object, `<prefix>/lease.json`, next to the LTX files.
//!
//! Every change is a conditional write, so S3 serialises the nodes: the lease is created with
//! `If-None-Match: *` and replaced (renewed, taken over, released, handed over) only with
//! `If-Match: <the ETag the writer read>`. Two nodes can never both believe a write of theirs
//! replaced the same version. Litestream ignores the object: its restore lists only
//! `<prefix>/<level:04x>/` (and `<prefix>/generations/` for v0.3), and so does ours.
//!
//! ## Time
//! No wall clock is compared across machines. The holder counts its validity from the moment it
//! *sent* its last successful renewal, on its own monotonic clock: `sent + ttl - margin`. Another
//! node counts expiry from the moment it first *saw* a version (its ETag) unchanged, on its own
//! monotonic clock: `first_seen + ttl`. Since the version was written after it was sent and seen
//! after it was written, the holder always stops before anyone may take over; the margin covers
//! clock-rate differences and the time between a check and the action it guards.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::replicate::storage::{self, ObjectClient, PutCondition, PutOutcome, StorageError, Tuning};
use crate::replicate::{ReplicatorOptions, Txid};

/// Pause between taking the lease and reading it back (see [`LeaseStore::acquire`]).
const ACQUIRE_SETTLE: Duration = Duration::from_millis(100);

/// The lease object's name below the replication prefix.
pub const LEASE_NAME: &str = "lease.json";

/// What the lease object holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// `failover.node_id` of the node that holds (or last held) the lease.
    pub holder: String,
    /// Random per process: tells a node's restart from the process that wrote the lease.
    pub instance: String,
    /// Leadership term: +1 on every change of holder. The barrier commit records it.
    pub term: u64,
    /// Renewal counter within a term: makes every renewal a distinct object version (ETag), and
    /// lets a holder recognise its own renewal when the response was lost.
    pub seq: u64,
    /// The holder's TTL; other nodes wait this long on an unchanged version before taking over.
    pub ttl_ms: u64,
    /// The newest TXID the holder knew to be in the bucket when it wrote the lease (a release
    /// carries the final one: the successor catches up to at least this TXID).
    pub txid: Txid,
    /// The holder gave the lease up (clean shutdown or planned handover): no need to wait.
    #[serde(default)]
    pub released: bool,
    /// `mysetlist promote` asks the holder to hand over to this node.
    #[serde(default)]
    pub handover_to: Option<String>,
    /// Wall-clock time of the write, for operators reading the object (never used for decisions).
    #[serde(default)]
    pub written_at: String,
}

impl Lease {
    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms)
    }

    /// Whether `node` may take the lease at once, without waiting for it to expire: it was
    /// released to anyone or to `node`, or it still names `node` (a restarted holder).
    pub fn claimable_by(&self, node: &str) -> bool {
        if self.released { self.handover_to.as_deref().is_none_or(|t| t == node) } else { self.holder == node }
    }

    /// A copy stamped with the current wall-clock time.
    pub fn stamped(mut self) -> Lease {
        self.written_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self
    }
}

/// The lease as read, with the version (ETag) a conditional replace must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub lease: Lease,
    pub etag: String,
}

/// The result of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Stored; the new version's ETag.
    Stored(String),
    /// The precondition failed: someone else wrote (or created) the lease first.
    Conflict,
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("lease {key}: {op} failed: {reason}")]
    Unreachable { key: String, op: &'static str, reason: String },
    #[error("lease {key} is not a valid lease object: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("lease store: {0}")]
    Config(String),
}

/// Reads and conditionally writes the lease object. Its client is tuned with timeouts far below
/// the TTL (and every operation is bounded here too): a renewal that hangs must fail while the
/// holder can still act on the failure.
#[derive(Clone)]
pub struct LeaseStore {
    client: Arc<dyn ObjectClient>,
    key: String,
    op_timeout: Duration,
}

impl std::fmt::Debug for LeaseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseStore").field("key", &self.key).finish()
    }
}

/// The per-request bound for lease operations with this TTL.
pub fn op_timeout(ttl: Duration) -> Duration {
    (ttl / 4).clamp(Duration::from_millis(200), Duration::from_secs(5))
}

impl LeaseStore {
    /// The lease of the bucket and prefix in `opts` (endpoint, region and credentials as for
    /// replication).
    pub fn new(opts: &ReplicatorOptions, ttl: Duration) -> Result<LeaseStore, LeaseError> {
        let (_, prefix) = opts.bucket_and_prefix().map_err(|e| LeaseError::Config(e.to_string()))?;
        let op_timeout = op_timeout(ttl);
        let client =
            storage::connect(opts, Tuning::Lease { op_timeout }).map_err(|e| LeaseError::Config(e.to_string()))?;
        let key = if prefix.is_empty() { LEASE_NAME.to_string() } else { format!("{prefix}/{LEASE_NAME}") };
        Ok(LeaseStore { client, key, op_timeout })
    }

    /// The object key, e.g. `db/lease.json`.
    pub fn key(&self) -> &str {
        &self.key
    }

    fn unreachable(&self, op: &'static str, reason: impl ToString) -> LeaseError {
        LeaseError::Unreachable { key: self.key.clone(), op, reason: reason.to_string() }
    }

    async fn bounded<T>(
        &self,
        op: &'static str,
        fut: impl std::future::Future<Output = Result<T, StorageError>>,
    ) -> Result<Result<T, StorageError>, LeaseError> {
        tokio::time::timeout(self.op_timeout, fut)
            .await
            .map_err(|_| self.unreachable(op, format!("no answer within {:?}", self.op_timeout)))
    }

    /// The current lease, or None when there is none.
    pub async fn read(&self) -> Result<Option<Observed>, LeaseError> {
        let got = match self.bounded("GET", self.client.get(&self.key)).await? {
            Ok(g) => g,
            Err(StorageError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(self.unreachable("GET", e)),
        };
        let etag = got.etag;
        let lease: Lease = serde_json::from_slice(&got.bytes)
            .map_err(|e| LeaseError::Corrupt { key: self.key.clone(), reason: e.to_string() })?;
        let etag = etag.ok_or_else(|| LeaseError::Corrupt {
            key: self.key.clone(),
            reason: "the S3 server sent no ETag (conditional writes need one)".into(),
        })?;
        Ok(Some(Observed { lease, etag }))
    }

    /// Creates the lease if there is none (`If-None-Match: *`).
    pub async fn create(&self, lease: &Lease) -> Result<Written, LeaseError> {
        self.put(PutCondition::Create, lease).await
    }

    /// Replaces the version `etag` (`If-Match`).
    pub async fn replace(&self, etag: &str, lease: &Lease) -> Result<Written, LeaseError> {
        self.put(PutCondition::IfMatch(etag.to_string()), lease).await
    }

    /// Takes the lease: `create` when `etag` is None, else `replace`, then reads it back after a
    /// short pause. S3 and MinIO check a condition and write atomically; s3s-fs (0.14) checks,
    /// then writes, so two takeovers racing within milliseconds could both "succeed" there, the
    /// later write winning. Reading back after the racing write has landed tells the loser.
    pub async fn acquire(&self, etag: Option<&str>, lease: &Lease) -> Result<Written, LeaseError> {
        let written = match etag {
            Some(etag) => self.replace(etag, lease).await?,
            None => self.create(lease).await?,
        };
        if let Written::Stored(_) = written {
            tokio::time::sleep(ACQUIRE_SETTLE).await;
            return Ok(match self.read().await? {
                Some(o) if o.lease == *lease => Written::Stored(o.etag),
                _ => Written::Conflict,
            });
        }
        Ok(written)
    }

    async fn put(&self, condition: PutCondition, lease: &Lease) -> Result<Written, LeaseError> {
        let body = Bytes::from(serde_json::to_vec_pretty(lease).expect("a lease serialises"));
        match self.bounded("conditional PUT", self.client.put(&self.key, body, condition, &[])).await? {
            Ok(PutOutcome::Stored { etag: Some(etag) }) => Ok(Written::Stored(etag)),
            // Without an ETag in the answer, read the version back; it must be ours.
            Ok(PutOutcome::Stored { etag: None }) => match self.read().await? {
                Some(o) if o.lease == *lease => Ok(Written::Stored(o.etag)),
                _ => Ok(Written::Conflict),
            },
            Ok(PutOutcome::PreconditionFailed) => Ok(Written::Conflict),
            Err(e) => Err(self.unreachable("conditional PUT", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_json_round_trips_and_tolerates_missing_optional_fields() {
        let l = Lease {
            holder: "a".into(),
            instance: "i".into(),
            term: 3,
            seq: 9,
            ttl_ms: 10_000,
            txid: Txid(42),
            released: false,
            handover_to: Some("b".into()),
            written_at: String::new(),
        }
        .stamped();
        let back: Lease = serde_json::from_slice(&serde_json::to_vec(&l).unwrap()).unwrap();
        assert_eq!(back, l);
        let minimal: Lease =
            serde_json::from_str(r#"{"holder":"a","instance":"i","term":1,"seq":0,"ttl_ms":5000,"txid":7}"#).unwrap();
        assert!(!minimal.released && minimal.handover_to.is_none());
        assert_eq!(minimal.ttl(), Duration::from_secs(5));
    }

    #[test]
    fn lease_json_keeps_the_txid_a_plain_number() {
        // A lease written before TXIDs had a type of their own: other nodes (old and new) read it.
        let old = r#"{"holder":"a","instance":"i","term":2,"seq":5,"ttl_ms":5000,"txid":1234,"released":true,"handover_to":null,"written_at":"2026-01-01T00:00:00Z"}"#;
        let lease: Lease = serde_json::from_str(old).unwrap();
        assert_eq!(lease.txid, Txid(1234));
        assert_eq!(serde_json::to_string(&lease).unwrap(), old);
    }

    #[test]
    fn operations_are_bounded_well_below_the_ttl() {
        assert_eq!(op_timeout(Duration::from_secs(10)), Duration::from_millis(2500));
        assert_eq!(op_timeout(Duration::from_millis(400)), Duration::from_millis(200));
        assert_eq!(op_timeout(Duration::from_secs(600)), Duration::from_secs(5));
    }
}
