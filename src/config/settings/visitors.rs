//! What visitors may do and how often: anonymous voting, rate limits and session lifetimes.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VotingSettings {
    pub anonymous: bool,
    pub anonymous_votes_per_show: u32,
    pub anonymous_votes_per_day: u32,
}
impl Default for VotingSettings {
    fn default() -> Self {
        Self { anonymous: false, anonymous_votes_per_show: 10, anonymous_votes_per_day: 50 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    pub votes_per_minute: u32,
    pub signups_per_hour: u32,
    pub logins_per_minute: u32,
    pub search_per_minute: u32,
    /// Content reports per user.
    pub reports_per_hour: u32,
    /// "Forgot password?" requests, per email address and per client address alike.
    pub password_resets_per_hour: u32,
    /// Password hashes and verifications running at once (each holds 19 MiB); 0: one per core.
    pub password_workers: u32,
    /// How long a password check waits for a free worker before the request gets 503.
    #[serde(with = "humantime_serde")]
    pub password_wait: Duration,
}
impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            votes_per_minute: 120,
            signups_per_hour: 10,
            logins_per_minute: 10,
            search_per_minute: 120,
            reports_per_hour: 20,
            password_resets_per_hour: 5,
            password_workers: 0,
            password_wait: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub absolute_timeout: Duration,
}
impl Default for SessionSettings {
    fn default() -> Self {
        Self { idle_timeout: Duration::from_secs(14 * 86_400), absolute_timeout: Duration::from_secs(90 * 86_400) }
    }
}
