//! Password policy and hashing (argon2id with the argon2 crate's defaults: m=19 MiB, t=2, p=1,
//! OWASP's recommended minimum). Hashing runs on a blocking thread, never on the writer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use tokio::sync::Semaphore;

use super::DomainError;

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 256;
const COMMON: &str = include_str!("../../assets/data/common-passwords.txt");

pub fn check_policy(password: &str, email: &str) -> Result<(), DomainError> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(DomainError::invalid("password", format!("must be at least {MIN_LEN} characters")));
    }
    if n > MAX_LEN {
        return Err(DomainError::invalid("password", format!("must be at most {MAX_LEN} characters")));
    }
    let lower = password.to_lowercase();
    if COMMON.lines().any(|common| common == lower) {
        return Err(DomainError::invalid("password", "is too common; choose another"));
    }
    if !email.is_empty() && lower == email.to_lowercase() {
        return Err(DomainError::invalid("password", "must not be your email address"));
    }
    Ok(())
}

/// Argon2 work in a bounded pool. Every hash (sign-up) and every verification (sign-in, erasure) takes
/// a permit first; at most `workers` run at once, each holding 19 MiB, so memory stays bounded
/// whatever the mix of requests: 64 parallel erasure attempts once drove the process from 67 MB to
/// 995 MB. A caller waits at most `wait` for a permit, then gets `Unavailable` (503 + Retry-After).
/// Rejected alternative: an unbounded `spawn_blocking` per request, whose memory grows with the
/// number of requests in flight (tokio's blocking pool allows 512 threads).
pub struct PasswordPool {
    permits: Arc<Semaphore>,
    workers: usize,
    wait: Duration,
    stats: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    hashes: AtomicU64,
    verifications: AtomicU64,
    busy_refusals: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// What the pool has done since start (for tests and monitoring).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordStats {
    pub workers: usize,
    pub hashes: u64,
    /// Argon2 verifications run, the dummy ones included.
    pub verifications: u64,
    /// Requests refused because no worker became free within the wait.
    pub busy_refusals: u64,
    /// The most argon2 computations ever running at the same time.
    pub max_in_flight: usize,
}

impl PasswordPool {
    /// `workers` 0: one per core.
    pub fn new(workers: u32, wait: Duration) -> Self {
        let workers = match workers {
            0 => std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            n => n as usize,
        };
        Self { permits: Arc::new(Semaphore::new(workers)), workers, wait, stats: Arc::default() }
    }

    pub fn stats(&self) -> PasswordStats {
        let s = &self.stats;
        PasswordStats {
            workers: self.workers,
            hashes: s.hashes.load(Ordering::Relaxed),
            verifications: s.verifications.load(Ordering::Relaxed),
            busy_refusals: s.busy_refusals.load(Ordering::Relaxed),
            max_in_flight: s.max_in_flight.load(Ordering::Relaxed),
        }
    }

    /// Runs `work` on a blocking thread once a permit is held; the permit goes with the work, so a
    /// request that gives up early does not free a worker that is still computing.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, DomainError> {
        let acquired = if self.wait.is_zero() {
            self.permits.clone().try_acquire_owned().ok()
        } else {
            tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await.ok().and_then(Result::ok)
        };
        let Some(permit) = acquired else {
            self.stats.busy_refusals.fetch_add(1, Ordering::Relaxed);
            return Err(DomainError::Unavailable {
                reason: "too many password checks at once".into(),
                retry_after_secs: 1,
                refusal: None,
            });
        };
        let stats = self.stats.clone();
        tokio::task::spawn_blocking(move || {
            let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let out = work();
            stats.in_flight.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            out
        })
        .await
        .map_err(|e| DomainError::Internal(e.into()))
    }

    pub async fn hash(&self, password: String) -> Result<String, DomainError> {
        let stats = self.stats.clone();
        self.run(move || {
            stats.hashes.fetch_add(1, Ordering::Relaxed);
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| DomainError::Internal(anyhow::anyhow!("argon2: {e}")))
        })
        .await?
    }

    /// Verifies in constant time. Exactly one argon2 verification runs whatever is stored: an empty
    /// or malformed hash (an unknown email, a demo fan, an erased account) is replaced by a dummy
    /// hash and never matches, so timing does not tell these accounts apart.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, DomainError> {
        let stats = self.stats.clone();
        self.run(move || {
            stats.verifications.fetch_add(1, Ordering::Relaxed);
            let usable = stored.as_deref().and_then(|s| PasswordHash::new(s).ok());
            let dummy = PasswordHash::new(DUMMY_HASH).expect("the dummy hash parses");
            let matches =
                Argon2::default().verify_password(password.as_bytes(), usable.as_ref().unwrap_or(&dummy)).is_ok();
            matches && usable.is_some()
        })
        .await
    }
}

/// A hash to verify against when there is no usable one, so timing does not reveal that.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2zPbdC4F3AiyR4uV1Gd1pDo7mV2Ua3Q0tQH8y0Z9Fqg";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(check_policy("short", "").is_err());
        assert!(check_policy("password123", "").is_err());
        assert!(check_policy("fan@example.org", "fan@example.org").is_err());
        assert!(check_policy("correct horse battery", "fan@example.org").is_ok());
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let pool = PasswordPool::new(2, Duration::from_secs(30));
        let h = pool.hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(pool.verify("correct horse battery".into(), Some(h.clone())).await.unwrap());
        assert!(!pool.verify("wrong horse battery".into(), Some(h)).await.unwrap());
        assert!(!pool.verify("x".into(), Some(String::new())).await.unwrap());
        assert!(!pool.verify("x".into(), None).await.unwrap());
        let s = pool.stats();
        assert_eq!((s.hashes, s.verifications), (1, 4), "one argon2 run per check, the dummy ones included");
    }

    #[test]
    fn the_dummy_hash_is_a_real_argon2id_hash() {
        let h = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(h.algorithm.as_str(), "argon2id");
        assert_eq!(h.hash.map(|o| o.len()), Some(32));
    }
}
