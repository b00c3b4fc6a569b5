//! Rate limits (`[rate_limit]`). The domain applies the per-account ones, where the account is known:
//! password checks (sign-in and erasure) per account and address, with a ceiling ten times higher per
//! account from all addresses (a brute force spread over many addresses still stops, while a guesser
//! elsewhere cannot lock the owner out below that ceiling), and votes per voter. The web layer applies
//! the per-address ones with the same [`KeyedLimiter`].
//!
//! Each limit is a GCRA bucket (governor): `n` per period with bursts of up to `n`, refilling
//! smoothly. A limit of 0 switches that limit off.

use std::hash::Hash;
use std::net::IpAddr;
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

/// The part of an address one client controls: the whole IPv4 address, the /64 of an IPv6 one.
pub fn network_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::from(octets)
        }
    }
}

/// How many times more password checks one account may get from all addresses together than from one.
pub const ACCOUNT_CEILING_FACTOR: u32 = 10;

pub(super) struct AccountLimits {
    /// Password checks per (account, client network), successful or not: `logins_per_minute`.
    pub password_checks: KeyedLimiter<(String, IpAddr)>,
    /// Password checks per account from everywhere: `ACCOUNT_CEILING_FACTOR` times as many.
    pub account_password_checks: KeyedLimiter<String>,
    /// Vote requests per voter (`u<id>` or the anonymous device key).
    pub votes: KeyedLimiter<String>,
    /// Content reports per user.
    pub reports: KeyedLimiter<i64>,
}

impl AccountLimits {
    /// Takes one password check for `account` from `ip`: the per-address bucket first, so that a
    /// guesser refused there does not drain the account's ceiling. Every check is counted before the
    /// verification, successful or not: counting only failures, after the fact, would let any number
    /// of parallel guesses pass the check and reach argon2 before the first failure was counted.
    pub fn password_check(&self, account: &str, ip: IpAddr) -> Result<(), DomainError> {
        self.password_checks.check(&(account.to_owned(), network_key(ip)))?;
        self.account_password_checks.check(&account.to_owned())
    }

    pub fn new(s: &RateLimitSettings) -> Self {
        Self {
            password_checks: KeyedLimiter::per_minute(s.logins_per_minute),
            account_password_checks: KeyedLimiter::per_minute(
                s.logins_per_minute.saturating_mul(ACCOUNT_CEILING_FACTOR),
            ),
            votes: KeyedLimiter::per_minute(s.votes_per_minute),
            reports: KeyedLimiter::per_hour(s.reports_per_hour),
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
    fn password_checks_are_limited_per_account_and_address_under_a_ceiling_per_account() {
        let s = RateLimitSettings { logins_per_minute: 2, ..Default::default() };
        let limits = AccountLimits::new(&s);
        let guesser: IpAddr = "203.0.113.9".parse().unwrap();
        limits.password_check("fan@example.org", guesser).unwrap();
        limits.password_check("fan@example.org", guesser).unwrap();
        assert!(limits.password_check("fan@example.org", guesser).is_err(), "third from the same address");
        // The owner elsewhere still gets in, and so do others from the guesser's address.
        limits.password_check("fan@example.org", "198.51.100.1".parse().unwrap()).unwrap();
        limits.password_check("other@example.org", guesser).unwrap();
        // The /64 of an IPv6 client is one address.
        limits.password_check("v6@example.org", "2001:db8::1".parse().unwrap()).unwrap();
        limits.password_check("v6@example.org", "2001:db8::2".parse().unwrap()).unwrap();
        assert!(limits.password_check("v6@example.org", "2001:db8::3".parse().unwrap()).is_err());
        // Ten times the limit per account from everywhere: 3 used, 17 more, then refused.
        for i in 0..17 {
            limits.password_check("fan@example.org", IpAddr::from([192, 0, 2, i])).unwrap();
        }
        assert!(limits.password_check("fan@example.org", "192.0.2.200".parse().unwrap()).is_err());
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
