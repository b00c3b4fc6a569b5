//! An in-process bucket with faults drawn from a seed, for the failover simulation
//! (`tests/simulation/`): the same protocol code as production runs against it, on tokio's
//! paused clock, and a seed replays a run exactly.
//!
//! The faults are the ones real buckets produce and real test servers cannot produce on demand:
//! latency, an error before anything happened, a timeout, a success whose answer is lost (the
//! write *did* happen), a conditional write that checks and writes in two steps (s3s-fs does;
//! S3 and MinIO are atomic), and a node cut off from the bucket. Each node gets its own
//! [`MemoryClient`] on one shared bucket, so faults and partitions are per node.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Object, ObjectClient, ObjectMeta, PutCondition, PutOutcome, StorageError};

/// How often each fault happens, per operation. All zero is a perfect bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    pub seed: u64,
    /// Each operation takes up to this long (uniform).
    pub max_latency: Duration,
    /// The operation fails before touching the bucket.
    pub error_rate: f64,
    /// The operation hangs for `timeout`, then fails without touching the bucket.
    pub timeout_rate: f64,
    pub timeout: Duration,
    /// A write or delete happens, but its answer is lost (the caller sees an error).
    pub lost_answer_rate: f64,
    /// `If-Match` puts check, wait up to `max_latency`, then write (not atomic), as some
    /// S3-compatible test servers do; the lease reads its writes back for them. Create-only
    /// puts stay atomic: the shipper's fencing (one writer per TXID) needs them to be, as AWS
    /// S3, MinIO and R2 make them.
    pub non_atomic_if_match: bool,
}

impl FaultPlan {
    /// No faults at all.
    pub fn none(seed: u64) -> FaultPlan {
        FaultPlan {
            seed,
            max_latency: Duration::ZERO,
            error_rate: 0.0,
            timeout_rate: 0.0,
            timeout: Duration::from_secs(1),
            lost_answer_rate: 0.0,
            non_atomic_if_match: false,
        }
    }

    /// A schedule drawn from `seed` itself: every seed gets its own mix of rates, so a soak over
    /// many seeds covers gentle and hostile buckets alike.
    pub fn drawn_from(seed: u64) -> FaultPlan {
        let mut r = StdRng::seed_from_u64(seed ^ 0x5eed_fa17);
        FaultPlan {
            seed,
            max_latency: Duration::from_millis(r.random_range(0..=200)),
            error_rate: r.random_range(0.0..0.15),
            timeout_rate: r.random_range(0.0..0.05),
            timeout: Duration::from_millis(r.random_range(500..=3_000)),
            lost_answer_rate: r.random_range(0.0..0.10),
            non_atomic_if_match: r.random_bool(0.5),
        }
    }
}

#[derive(Debug, Clone)]
struct Stored {
    bytes: Bytes,
    etag: String,
    last_modified: DateTime<Utc>,
}

#[derive(Debug)]
struct Bucket {
    objects: BTreeMap<String, Stored>,
    versions: u64,
    rng: StdRng,
    plan: FaultPlan,
    partitioned: HashSet<String>,
    /// Wall-clock stamp of the simulation's start; LastModified advances with tokio's clock.
    epoch: (DateTime<Utc>, tokio::time::Instant),
}

/// The shared bucket; [`MemoryClient::node`] hands out per-node clients.
#[derive(Debug, Clone)]
pub struct MemoryClient {
    bucket: Arc<Mutex<Bucket>>,
    node: String,
}

enum Fate {
    Fine,
    Fail,
    Hang(Duration),
    LoseAnswer,
}

impl MemoryClient {
    /// An empty bucket with `plan`'s faults. Create it inside the runtime whose clock it follows.
    pub fn new(plan: FaultPlan) -> MemoryClient {
        let bucket = Bucket {
            objects: BTreeMap::new(),
            versions: 0,
            rng: StdRng::seed_from_u64(plan.seed),
            plan,
            partitioned: HashSet::new(),
            epoch: (DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default(), tokio::time::Instant::now()),
        };
        MemoryClient { bucket: Arc::new(Mutex::new(bucket)), node: String::new() }
    }

    /// A client of the same bucket for `node` (faults and partitions are per client name).
    pub fn node(&self, node: &str) -> MemoryClient {
        MemoryClient { bucket: self.bucket.clone(), node: node.to_string() }
    }

    /// Cuts `node` off from the bucket (every operation fails) or reconnects it.
    pub fn partition(&self, node: &str, cut: bool) {
        let mut b = self.bucket.lock();
        if cut {
            b.partitioned.insert(node.to_string());
        } else {
            b.partitioned.remove(node);
        }
    }

    /// Turns every fault off (partitions stay): the simulation's healing phase.
    pub fn calm(&self) {
        let mut b = self.bucket.lock();
        let seed = b.plan.seed;
        b.plan = FaultPlan::none(seed);
    }

    /// Every key with its bytes, for the checker (no faults).
    pub fn snapshot(&self) -> BTreeMap<String, Bytes> {
        self.bucket.lock().objects.iter().map(|(k, v)| (k.clone(), v.bytes.clone())).collect()
    }

    /// Draws this operation's latency and fate.
    fn draw(&self, writes: bool) -> (Duration, Fate) {
        let mut b = self.bucket.lock();
        let Bucket { rng, plan, partitioned, .. } = &mut *b;
        let latency = if plan.max_latency.is_zero() {
            Duration::ZERO
        } else {
            Duration::from_micros(rng.random_range(0..=plan.max_latency.as_micros() as u64))
        };
        // Draw error first: the draws (and so the replay) do not depend on the partition.
        let failed = rng.random_bool(plan.error_rate);
        let fate = if failed || partitioned.contains(&self.node) {
            Fate::Fail
        } else if rng.random_bool(plan.timeout_rate) {
            Fate::Hang(plan.timeout)
        } else if writes && rng.random_bool(plan.lost_answer_rate) {
            Fate::LoseAnswer
        } else {
            Fate::Fine
        };
        (latency, fate)
    }

    /// Waits out the drawn latency; the error to return instead of doing anything, if any.
    async fn enter(&self, op: &str, key: &str, writes: bool) -> Result<bool, StorageError> {
        let (latency, fate) = self.draw(writes);
        tokio::time::sleep(latency).await;
        match fate {
            Fate::Fine => Ok(false),
            Fate::LoseAnswer => Ok(true),
            Fate::Fail => Err(StorageError::Failed(format!("injected fault: {op} {key} failed"))),
            Fate::Hang(t) => {
                tokio::time::sleep(t).await;
                Err(StorageError::Failed(format!("injected fault: {op} {key} timed out after {t:?}")))
            }
        }
    }

    fn lost(op: &str, key: &str) -> StorageError {
        StorageError::Failed(format!("injected fault: the answer to {op} {key} was lost"))
    }
}

impl Bucket {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.epoch.1);
        self.epoch.0 + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }

    fn holds(&self, key: &str, condition: &PutCondition) -> bool {
        match condition {
            PutCondition::Overwrite => true,
            PutCondition::Create => !self.objects.contains_key(key),
            PutCondition::IfMatch(etag) => self.objects.get(key).is_some_and(|o| &o.etag == etag),
        }
    }

    fn store(&mut self, key: &str, bytes: Bytes) -> String {
        self.versions += 1;
        let etag = format!("\"v{}\"", self.versions);
        let last_modified = self.now();
        self.objects.insert(key.to_string(), Stored { bytes, etag: etag.clone(), last_modified });
        etag
    }
}

fn not_found(key: &str) -> StorageError {
    StorageError::NotFound(format!("no object {key}"))
}

#[async_trait::async_trait]
impl ObjectClient for MemoryClient {
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StorageError> {
        self.enter("list", prefix, false).await?;
        let dir = format!("{}/", prefix.trim_end_matches('/'));
        let b = self.bucket.lock();
        Ok(b.objects
            .range(dir.clone()..)
            .take_while(|(k, _)| k.starts_with(&dir))
            .map(|(k, o)| ObjectMeta { key: k.clone(), size: o.bytes.len() as u64, last_modified: o.last_modified })
            .collect())
    }

    async fn get(&self, key: &str) -> Result<Object, StorageError> {
        self.enter("GET", key, false).await?;
        let b = self.bucket.lock();
        let o = b.objects.get(key).ok_or_else(|| not_found(key))?;
        Ok(Object { bytes: o.bytes.clone(), etag: Some(o.etag.clone()) })
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        self.enter("ranged GET", key, false).await?;
        let b = self.bucket.lock();
        let o = b.objects.get(key).ok_or_else(|| not_found(key))?;
        let len = o.bytes.len() as u64;
        Ok(o.bytes.slice(range.start.min(len) as usize..range.end.min(len) as usize))
    }

    async fn put(
        &self,
        key: &str,
        data: Bytes,
        condition: PutCondition,
        _metadata: &[(&'static str, String)],
    ) -> Result<PutOutcome, StorageError> {
        let lose_answer = self.enter("PUT", key, true).await?;
        let non_atomic = self.bucket.lock().plan.non_atomic_if_match;
        if non_atomic && matches!(condition, PutCondition::IfMatch(_)) {
            // Check, let others run, then write: two racing conditional puts may both "succeed".
            if !self.bucket.lock().holds(key, &condition) {
                return Ok(PutOutcome::PreconditionFailed);
            }
            let (pause, _) = self.draw(false);
            tokio::time::sleep(pause).await;
        } else if !self.bucket.lock().holds(key, &condition) {
            return Ok(PutOutcome::PreconditionFailed);
        }
        let etag = self.bucket.lock().store(key, data);
        if lose_answer {
            return Err(Self::lost("PUT", key));
        }
        Ok(PutOutcome::Stored { etag: Some(etag) })
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let lose_answer = self.enter("DELETE", key, true).await?;
        self.bucket.lock().objects.remove(key);
        if lose_answer {
            return Err(Self::lost("DELETE", key));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_perfect_bucket_honours_conditions_and_lists_by_prefix() {
        let c = MemoryClient::new(FaultPlan::none(1)).node("a");
        let created = c.put("db/lease.json", Bytes::from_static(b"1"), PutCondition::Create, &[]).await.unwrap();
        let PutOutcome::Stored { etag: Some(etag) } = created else { panic!("{created:?}") };
        let again = c.put("db/lease.json", Bytes::from_static(b"2"), PutCondition::Create, &[]).await.unwrap();
        assert_eq!(again, PutOutcome::PreconditionFailed);
        let stale = c.put("db/lease.json", Bytes::from_static(b"2"), PutCondition::IfMatch("\"v0\"".into()), &[]);
        assert_eq!(stale.await.unwrap(), PutOutcome::PreconditionFailed);
        let replaced = c.put("db/lease.json", Bytes::from_static(b"3"), PutCondition::IfMatch(etag), &[]);
        assert!(matches!(replaced.await.unwrap(), PutOutcome::Stored { .. }));
        c.put("db/0000/a.ltx", Bytes::from_static(b"xyz"), PutCondition::Overwrite, &[]).await.unwrap();
        c.put("dbx/0000/b.ltx", Bytes::from_static(b"x"), PutCondition::Overwrite, &[]).await.unwrap();
        let listed: Vec<_> = c.list("db/0000").await.unwrap().into_iter().map(|m| (m.key, m.size)).collect();
        assert_eq!(listed, vec![("db/0000/a.ltx".to_string(), 3)]);
        assert_eq!(&c.get_range("db/0000/a.ltx", 1..9).await.unwrap()[..], b"yz");
        assert_eq!(&c.get("db/lease.json").await.unwrap().bytes[..], b"3");
        c.delete("db/0000/a.ltx").await.unwrap();
        c.delete("db/0000/a.ltx").await.unwrap();
        assert!(matches!(c.get("db/0000/a.ltx").await, Err(StorageError::NotFound(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_partitioned_node_fails_while_the_others_go_on_and_a_lost_answer_still_wrote() {
        let bucket = MemoryClient::new(FaultPlan::none(2));
        let (a, b) = (bucket.node("a"), bucket.node("b"));
        bucket.partition("a", true);
        assert!(a.put("k", Bytes::from_static(b"a"), PutCondition::Overwrite, &[]).await.is_err());
        assert!(b.put("k", Bytes::from_static(b"b"), PutCondition::Overwrite, &[]).await.is_ok());
        bucket.partition("a", false);
        assert_eq!(&a.get("k").await.unwrap().bytes[..], b"b");

        let lossy = MemoryClient::new(FaultPlan { lost_answer_rate: 1.0, ..FaultPlan::none(3) }).node("a");
        assert!(lossy.put("k", Bytes::from_static(b"x"), PutCondition::Create, &[]).await.is_err());
        assert_eq!(lossy.snapshot().get("k").map(|b| &b[..]), Some(&b"x"[..]), "the write happened");
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_seed_draws_the_same_faults() {
        async fn outcomes(seed: u64) -> Vec<bool> {
            let c = MemoryClient::new(FaultPlan { error_rate: 0.5, ..FaultPlan::none(seed) }).node("a");
            let mut out = Vec::new();
            for i in 0..64 {
                out.push(c.put(&format!("k{i}"), Bytes::new(), PutCondition::Overwrite, &[]).await.is_ok());
            }
            out
        }
        assert_eq!(outcomes(7).await, outcomes(7).await);
        assert_ne!(outcomes(7).await, outcomes(8).await);
    }
}
