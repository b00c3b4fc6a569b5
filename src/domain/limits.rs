//! Rate limits (`[rate_limit]`). The domain applies the per-account ones, where the account is known:
//! sign-in attempts per account (a brute force spread over many addresses still stops) and votes per
//! voter. The web layer applies the per-address ones with the same [`KeyedLimiter`].
//!
//! Each limit is a GCRA bucket (governor): `n` per period with bursts of up to `n`, refilling
//! smoothly. A limit of 0 switches that limit off.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::DomainError;
use crate::config::RateLimitSettings;

/// Every this many checks, buckets that are full again are dropped, so memory follows active keys.
const SWEEP_EVERY: u64 = 4096;

pub struct KeyedLimiter<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    pub fn per_minute(n: u32) -> Self {
        Self::new(NonZeroU32::new(n).map(Quota::per_minute))
    }

    pub fn per_hour(n: u32) -> Self {
        Self::new(NonZeroU32::new(n).map(Quota::per_hour))
    }

    fn new(quota: Option<Quota>) -> Self {
        Self { limiter: quota.map(DefaultKeyedRateLimiter::keyed), checks: AtomicU64::new(0) }
    }

    /// Takes one request from `key`'s bucket, or says how long until one is free again.
    pub fn check(&self, key: &K) -> Result<(), DomainError> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
        }
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            DomainError::RateLimited { retry_after_secs: retry_after(wait) }
        })
    }
}

/// Whole seconds, rounded up, at least 1 (Retry-After has no fractions, and 0 invites a retry storm).
fn retry_after(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

pub(super) struct AccountLimits {
    /// Sign-in attempts per account (the normalised email), successful or not.
    pub logins: KeyedLimiter<String>,
    /// Vote requests per voter (`u<id>` or the anonymous device key).
    pub votes: KeyedLimiter<String>,
}

impl AccountLimits {
    pub fn new(s: &RateLimitSettings) -> Self {
        Self {
            logins: KeyedLimiter::per_minute(s.logins_per_minute),
            votes: KeyedLimiter::per_minute(s.votes_per_minute),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_holds_n_then_refuses_with_a_retry_time() {
        let l = KeyedLimiter::per_minute(3);
        for _ in 0..3 {
            l.check(&"a").unwrap();
        }
        match l.check(&"a") {
            Err(DomainError::RateLimited { retry_after_secs }) => assert!((1..=20).contains(&retry_after_secs)),
            other => panic!("{other:?}"),
        }
        l.check(&"b").expect("keys are independent");
    }

    #[test]
    fn zero_switches_a_limit_off() {
        let l = KeyedLimiter::per_hour(0);
        for _ in 0..10_000 {
            l.check(&1).unwrap();
        }
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after(Duration::ZERO), 1);
        assert_eq!(retry_after(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after(Duration::from_secs(20)), 20);
    }
}
