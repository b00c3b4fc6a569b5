//! Every bound the node is judged by, each defined once. Readiness (`/readyz`), the alert engine
//! and the technical status page all judge through these rules (via [`super::report`]), so a value
//! is "bad" in the same place everywhere.

use std::time::Duration;

use super::Level;

/// Replication may fall this far behind before it counts as lagging, however short
/// `sync_interval` is; a long `sync_interval` raises the bound (see [`replication_lag_bound`]).
pub const REPLICATION_LAG_MIN_BOUND: Duration = Duration::from_secs(60);
/// A lag of this many sync intervals is ordinary with a long `sync_interval`.
pub const REPLICATION_LAG_SYNC_INTERVALS: u32 = 10;
/// The lag alert fires once the lag has stayed over its bound this long (seconds).
pub const REPLICATION_LAG_HOLD_SECS: i64 = 300;

/// Share of requests answered 5xx above which the error rate is too high…
pub const ERROR_RATE_MAX: f64 = 0.01;
/// …judged only over at least this many requests: one failure among a handful says nothing.
pub const ERROR_RATE_MIN_REQUESTS: u64 = 20;
/// The window the error-rate alert looks at.
pub const ERROR_RATE_WINDOW_MINUTES: i64 = 5;

/// A served certificate with fewer days left warns (renewal starts 30 days before expiry)…
pub const CERTIFICATE_WARN_DAYS: i64 = 7;
/// …and with fewer than these is critical.
pub const CERTIFICATE_CRITICAL_DAYS: i64 = 3;

/// Share of the data directory's filesystem available below which the disk is almost full…
pub const DISK_WARN_AVAILABLE: f64 = 0.10;
/// …and below which it is critical.
pub const DISK_CRITICAL_AVAILABLE: f64 = 0.03;

/// The writer counts as stalled after working on one group, or holding queued writes without a
/// commit, for longer than this (seconds).
pub const WRITER_STALL_SECS: f64 = 30.0;
/// More writes queued than this means the writer does not keep up.
pub const WRITER_QUEUE_MAX: u64 = 500;

/// `/readyz` gives its write probe this long before the database counts as not writable.
pub const READINESS_WRITE_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Slack on top of two verification intervals before the backup counts as unverified (seconds).
pub const BACKUP_VERIFY_SLACK_SECS: i64 = 3600;

/// The lag bound for a given `replication.sync_interval`: max(60 s, 10 × sync_interval).
pub fn replication_lag_bound(sync_interval: Duration) -> Duration {
    REPLICATION_LAG_MIN_BOUND.max(sync_interval * REPLICATION_LAG_SYNC_INTERVALS)
}

/// Age (seconds) beyond which the last successful backup verification is stale:
/// 2 × verify_interval + 1 h.
pub fn backup_max_age(verify_interval: Duration) -> i64 {
    2 * verify_interval.as_secs() as i64 + BACKUP_VERIFY_SLACK_SECS
}

pub fn replication_lag(lag_seconds: f64, bound: Duration) -> Level {
    if lag_seconds > bound.as_secs_f64() { Level::Fail } else { Level::Ok }
}

/// The share of 5xx answers, judged only once there were [`ERROR_RATE_MIN_REQUESTS`].
pub fn error_rate(requests: u64, server_errors: u64) -> Level {
    if requests < ERROR_RATE_MIN_REQUESTS {
        return Level::Ok;
    }
    if server_errors as f64 / requests as f64 > ERROR_RATE_MAX { Level::Warn } else { Level::Ok }
}

pub fn certificate(seconds_left: i64) -> Level {
    if seconds_left < CERTIFICATE_CRITICAL_DAYS * 86_400 {
        Level::Fail
    } else if seconds_left < CERTIFICATE_WARN_DAYS * 86_400 {
        Level::Warn
    } else {
        Level::Ok
    }
}

/// `available_share`: available / total of the data directory's filesystem.
pub fn disk(available_share: f64) -> Level {
    if available_share < DISK_CRITICAL_AVAILABLE {
        Level::Fail
    } else if available_share < DISK_WARN_AVAILABLE {
        Level::Warn
    } else {
        Level::Ok
    }
}

/// `stalled_for`: the longer of "working on one group" and "queued without a commit" (seconds).
pub fn writer_stalled(stalled_for: f64) -> Level {
    if stalled_for > WRITER_STALL_SECS { Level::Fail } else { Level::Ok }
}

pub fn writer_queue(depth: u64) -> Level {
    if depth > WRITER_QUEUE_MAX { Level::Warn } else { Level::Ok }
}

/// Any failed group commit since start deserves a look (the log has the cause).
pub fn failed_commits(count: u64) -> Level {
    if count > 0 { Level::Warn } else { Level::Ok }
}

/// `age`: seconds since the last successful verification (or since start, before any).
pub fn backup_age(age: i64, max_age: i64) -> Level {
    if age > max_age { Level::Warn } else { Level::Ok }
}

pub fn backup_last_run(ok: Option<bool>) -> Level {
    if ok == Some(false) { Level::Fail } else { Level::Ok }
}

/// A scheduled job whose last run failed.
pub fn job(last_run_failed: bool) -> Level {
    if last_run_failed { Level::Warn } else { Level::Ok }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_bound_is_sixty_seconds_or_ten_sync_intervals() {
        assert_eq!(replication_lag_bound(Duration::from_secs(1)), Duration::from_secs(60));
        assert_eq!(replication_lag_bound(Duration::from_secs(6)), Duration::from_secs(60));
        assert_eq!(replication_lag_bound(Duration::from_secs(10)), Duration::from_secs(100));
    }

    #[test]
    fn lag_just_under_and_over_the_bound() {
        let bound = Duration::from_secs(60);
        assert_eq!(replication_lag(60.0, bound), Level::Ok);
        assert_eq!(replication_lag(60.5, bound), Level::Fail);
        assert_eq!(replication_lag(99.0, Duration::from_secs(100)), Level::Ok);
    }

    #[test]
    fn error_rate_needs_a_minimum_of_requests() {
        assert_eq!(error_rate(5, 1), Level::Ok, "one 5xx among a handful says nothing");
        assert_eq!(error_rate(ERROR_RATE_MIN_REQUESTS - 1, 10), Level::Ok);
        assert_eq!(error_rate(ERROR_RATE_MIN_REQUESTS, 1), Level::Warn, "5 % over the minimum count");
        assert_eq!(error_rate(100, 1), Level::Ok, "exactly 1 % is not over");
        assert_eq!(error_rate(100, 2), Level::Warn);
        assert_eq!(error_rate(0, 0), Level::Ok);
    }

    #[test]
    fn certificate_warns_under_seven_days_and_fails_under_three() {
        let day = 86_400;
        assert_eq!(certificate(7 * day), Level::Ok);
        assert_eq!(certificate(7 * day - 1), Level::Warn);
        assert_eq!(certificate(3 * day), Level::Warn);
        assert_eq!(certificate(3 * day - 1), Level::Fail);
        assert_eq!(certificate(-1), Level::Fail);
    }

    #[test]
    fn disk_warns_under_ten_percent_and_fails_under_three() {
        assert_eq!(disk(0.10), Level::Ok);
        assert_eq!(disk(0.099), Level::Warn);
        assert_eq!(disk(0.03), Level::Warn);
        assert_eq!(disk(0.029), Level::Fail);
    }

    #[test]
    fn writer_rules() {
        assert_eq!(writer_stalled(30.0), Level::Ok);
        assert_eq!(writer_stalled(30.5), Level::Fail);
        assert_eq!(writer_queue(500), Level::Ok);
        assert_eq!(writer_queue(501), Level::Warn);
        assert_eq!(failed_commits(0), Level::Ok);
        assert_eq!(failed_commits(1), Level::Warn);
    }

    #[test]
    fn backup_rules() {
        let max = backup_max_age(Duration::from_secs(6 * 3600));
        assert_eq!(max, 13 * 3600);
        assert_eq!(backup_age(max, max), Level::Ok);
        assert_eq!(backup_age(max + 1, max), Level::Warn);
        assert_eq!(backup_last_run(None), Level::Ok);
        assert_eq!(backup_last_run(Some(true)), Level::Ok);
        assert_eq!(backup_last_run(Some(false)), Level::Fail);
    }

    #[test]
    fn a_failed_job_warns() {
        assert_eq!(job(false), Level::Ok);
        assert_eq!(job(true), Level::Warn);
    }
}
