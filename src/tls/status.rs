//! What the certificate manager reports: the worker's running [`Progress`] and the
//! [`CertStatus`] snapshot that readiness, metrics and alerts read.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What `/readyz`, `/metrics` and alerts need to know about the certificate.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CertStatus {
    pub has_certificate: bool,
    pub not_after: Option<DateTime<Utc>>,
    /// Negative once expired.
    pub seconds_to_expiry: Option<i64>,
    /// When the next order is due (renewal, or the next retry after a failure).
    pub next_renewal_at: Option<DateTime<Utc>>,
    /// The last attempt's error; cleared by a success.
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    /// Certificates obtained since start (0 when the stored one is still good).
    pub issued_total: u64,
    pub failures_total: u64,
    /// Hex serial number of the served certificate.
    pub serial: Option<String>,
    /// Whether the CA's renewal information (RFC 9773) sets the schedule.
    pub renewal_info: bool,
    /// Whether this node orders and renews. False on a follower in a failover cluster: it serves
    /// the certificate its leader stored (and so has no `next_renewal_at`).
    pub orders: bool,
}

impl CertStatus {
    pub(crate) fn from_progress(progress: &Progress, now: DateTime<Utc>) -> Self {
        Self {
            has_certificate: progress.not_after.is_some(),
            not_after: progress.not_after,
            seconds_to_expiry: progress.not_after.map(|t| (t - now).num_seconds()),
            next_renewal_at: progress.next_renewal_at,
            last_error: progress.last_error.clone(),
            consecutive_failures: progress.consecutive_failures,
            issued_total: progress.issued_total,
            failures_total: progress.failures_total,
            serial: progress.serial.clone(),
            renewal_info: progress.renewal_info,
            orders: progress.orders,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Progress {
    pub(crate) not_after: Option<DateTime<Utc>>,
    pub(crate) serial: Option<String>,
    pub(crate) next_renewal_at: Option<DateTime<Utc>>,
    pub(crate) last_error: Option<String>,
    pub(crate) consecutive_failures: u32,
    pub(crate) issued_total: u64,
    pub(crate) failures_total: u64,
    pub(crate) renewal_info: bool,
    pub(crate) orders: bool,
}
