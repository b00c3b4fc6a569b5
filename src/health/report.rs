//! One evaluation of the node's health: [`evaluate`] judges a [`HealthInputs`] snapshot by the
//! rules in [`super::thresholds`], [`readiness`] runs the registered readiness checks; both give
//! [`Check`]s. The alert engine turns failing checks into alerts, the technical status page marks
//! them, `/readyz` answers 503 with the failing readiness checks.

use std::time::Duration;

use super::ReadinessCheck;
use super::thresholds as t;
use crate::db::files::DiskSpace;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    pub fn is_ok(self) -> bool {
        self == Level::Ok
    }
}

/// Which rule judged a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    ReplicationLag,
    BackupVerifyFailed,
    BackupVerifyStale,
    /// One per served domain (the check's `subject`).
    CertificateExpiry,
    /// 5xx share over the last [`t::ERROR_RATE_WINDOW_MINUTES`] minutes.
    ErrorRateRecent,
    /// 5xx share over the last hour.
    ErrorRateHour,
    DiskSpace,
    WriterStalled,
    WriterQueue,
    FailedCommits,
    /// One per scheduled job (the check's `subject`).
    Job,
    /// A registered [`ReadinessCheck`] (its name in `subject`).
    Readiness,
}

/// One judged condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub rule: Rule,
    /// The domain, job or readiness check the rule judged; None for node-wide rules.
    pub subject: Option<String>,
    pub level: Level,
    /// The measured value (seconds, share, count), in the unit the rule compares.
    pub value: f64,
    /// What is wrong, for people (empty when ok).
    pub reason: String,
}

/// Requests and 5xx answers in a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub requests: u64,
    pub server_errors: u64,
}

impl RequestCounts {
    pub fn error_ratio(self) -> Option<f64> {
        (self.requests > 0).then(|| self.server_errors as f64 / self.requests as f64)
    }
}

/// The subsystems' status, gathered at one instant (`now`, unix seconds).
#[derive(Debug, Clone)]
pub struct HealthInputs {
    pub now: i64,
    pub replication_enabled: bool,
    pub replication_lag_seconds: f64,
    pub replication_lag_bound: Duration,
    pub backup_last_success: Option<i64>,
    pub backup_last_run_ok: Option<bool>,
    /// Age beyond which the last successful verification counts as stale.
    pub backup_max_age: i64,
    /// When this process started: the reference for "stale" before any verification succeeded.
    pub started_at: i64,
    /// (domain, expiry unix time).
    pub certificates: Vec<(String, i64)>,
    /// The last [`t::ERROR_RATE_WINDOW_MINUTES`] minutes of requests.
    pub recent: RequestCounts,
    pub last_hour: RequestCounts,
    pub disk: Option<DiskSpace>,
    /// Seconds the writer has been working on its current group.
    pub writer_busy_for: Option<f64>,
    /// Seconds writes have been queued without a commit.
    pub writer_no_progress_for: Option<f64>,
    pub writer_queue_depth: u64,
    pub failed_commits: u64,
    /// (job, whether its last run failed).
    pub jobs: Vec<(String, bool)>,
}

impl Default for HealthInputs {
    fn default() -> Self {
        Self {
            now: 0,
            replication_enabled: false,
            replication_lag_seconds: 0.0,
            replication_lag_bound: t::REPLICATION_LAG_MIN_BOUND,
            backup_last_success: None,
            backup_last_run_ok: None,
            backup_max_age: 0,
            started_at: 0,
            certificates: Vec::new(),
            recent: RequestCounts::default(),
            last_hour: RequestCounts::default(),
            disk: None,
            writer_busy_for: None,
            writer_no_progress_for: None,
            writer_queue_depth: 0,
            failed_commits: 0,
            jobs: Vec::new(),
        }
    }
}

/// Every check of one evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    /// The checks that are not ok.
    pub fn failing(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.level.is_ok())
    }

    /// The worst level of a rule's checks for `subject` (any subject when None); Ok when absent.
    pub fn level(&self, rule: Rule, subject: Option<&str>) -> Level {
        self.checks
            .iter()
            .filter(|c| c.rule == rule && (subject.is_none() || c.subject.as_deref() == subject))
            .map(|c| c.level)
            .max()
            .unwrap_or(Level::Ok)
    }

    /// True when the rule's check for `subject` is not ok.
    pub fn bad(&self, rule: Rule, subject: Option<&str>) -> bool {
        !self.level(rule, subject).is_ok()
    }
}

fn human_secs(secs: f64) -> String {
    humantime::format_duration(Duration::from_secs(secs.max(0.0) as u64)).to_string()
}

fn check(rule: Rule, level: Level, value: f64, reason: impl FnOnce() -> String) -> Check {
    let reason = if level.is_ok() { String::new() } else { reason() };
    Check { rule, subject: None, level, value, reason }
}

fn error_rate_check(rule: Rule, window: RequestCounts, label: &str) -> Check {
    let ratio = window.error_ratio().unwrap_or(0.0);
    check(rule, t::error_rate(window.requests, window.server_errors), ratio, || {
        format!("{:.1} % of requests failed with 5xx in the last {label}", ratio * 100.0)
    })
}

/// Judges one snapshot by every threshold rule.
pub fn evaluate(i: &HealthInputs) -> Report {
    let mut checks = Vec::new();
    let lag = i.replication_lag_seconds;
    checks.push(check(Rule::ReplicationLag, t::replication_lag(lag, i.replication_lag_bound), lag, || {
        format!("replication is {} behind", human_secs(lag))
    }));
    if i.replication_enabled {
        checks.push(check(Rule::BackupVerifyFailed, t::backup_last_run(i.backup_last_run_ok), 0.0, || {
            "the last backup verification failed".into()
        }));
        let age = i.now - i.backup_last_success.unwrap_or(i.started_at);
        checks.push(check(Rule::BackupVerifyStale, t::backup_age(age, i.backup_max_age), age as f64, || {
            match i.backup_last_success {
                Some(_) => format!("no successful backup verification for {}", human_secs(age as f64)),
                None => format!("no successful backup verification since start ({} ago)", human_secs(age as f64)),
            }
        }));
    }
    for (domain, expiry) in &i.certificates {
        let left = expiry - i.now;
        let mut c = check(Rule::CertificateExpiry, t::certificate(left), left as f64, || {
            format!("the certificate for {domain} expires in {}", human_secs(left as f64))
        });
        c.subject = Some(domain.clone());
        checks.push(c);
    }
    let window = format!("{} minutes", t::ERROR_RATE_WINDOW_MINUTES);
    checks.push(error_rate_check(Rule::ErrorRateRecent, i.recent, &window));
    checks.push(error_rate_check(Rule::ErrorRateHour, i.last_hour, "hour"));
    if let Some(disk) = i.disk
        && disk.total > 0
    {
        let share = disk.available as f64 / disk.total as f64;
        checks.push(check(Rule::DiskSpace, t::disk(share), share, || {
            format!("only {:.1} % of the data directory's disk is available", share * 100.0)
        }));
    }
    let stalled = i.writer_busy_for.into_iter().chain(i.writer_no_progress_for).fold(0.0_f64, f64::max);
    checks.push(check(Rule::WriterStalled, t::writer_stalled(stalled), stalled, || {
        format!("the database writer has not committed for {}", human_secs(stalled))
    }));
    let depth = i.writer_queue_depth;
    checks
        .push(check(Rule::WriterQueue, t::writer_queue(depth), depth as f64, || format!("{depth} writes are queued")));
    let failed = i.failed_commits;
    checks.push(check(Rule::FailedCommits, t::failed_commits(failed), failed as f64, || {
        format!("{failed} group commits failed since start")
    }));
    for (job, last_failed) in &i.jobs {
        let mut c = check(Rule::Job, t::job(*last_failed), f64::from(u8::from(*last_failed)), || {
            format!("the last run of {job} failed")
        });
        c.subject = Some(job.clone());
        checks.push(c);
    }
    Report { checks }
}

/// Runs the registered readiness checks: Fail with the reason, or Ok.
pub fn readiness(registered: &[(&'static str, ReadinessCheck)]) -> Vec<Check> {
    registered
        .iter()
        .map(|(name, ready)| {
            let (level, reason) = match ready() {
                Ok(()) => (Level::Ok, String::new()),
                Err(why) => (Level::Fail, why.to_string()),
            };
            Check { rule: Rule::Readiness, subject: Some((*name).to_owned()), level, value: 0.0, reason }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::health::NotReady;

    fn base() -> HealthInputs {
        HealthInputs { now: 1_000_000, backup_max_age: 13 * 3600, started_at: 1_000_000 - 60, ..Default::default() }
    }

    #[test]
    fn healthy_inputs_fail_nothing() {
        assert_eq!(evaluate(&base()).failing().count(), 0);
        let replicated = HealthInputs { replication_enabled: true, backup_last_success: Some(999_000), ..base() };
        assert_eq!(evaluate(&replicated).failing().count(), 0);
    }

    #[test]
    fn the_same_error_rate_rule_for_both_windows() {
        let handful = RequestCounts { requests: 5, server_errors: 1 };
        let r = evaluate(&HealthInputs { recent: handful, last_hour: handful, ..base() });
        assert!(!r.bad(Rule::ErrorRateRecent, None) && !r.bad(Rule::ErrorRateHour, None));
        let many = RequestCounts { requests: 100, server_errors: 2 };
        let r = evaluate(&HealthInputs { recent: many, last_hour: many, ..base() });
        assert!(r.bad(Rule::ErrorRateRecent, None) && r.bad(Rule::ErrorRateHour, None));
    }

    #[test]
    fn per_subject_checks_keep_their_subject() {
        let i = HealthInputs {
            certificates: vec![("a.example".into(), 1_000_000 + 86_400), ("b.example".into(), 1_000_000 + 30 * 86_400)],
            jobs: vec![("backup".into(), true), ("digest".into(), false)],
            ..base()
        };
        let r = evaluate(&i);
        assert_eq!(r.level(Rule::CertificateExpiry, Some("a.example")), Level::Fail);
        assert_eq!(r.level(Rule::CertificateExpiry, Some("b.example")), Level::Ok);
        assert!(r.bad(Rule::Job, Some("backup")) && !r.bad(Rule::Job, Some("digest")));
    }

    #[test]
    fn readiness_reports_the_reason() {
        let ok: ReadinessCheck = Arc::new(|| Ok(()));
        let full: ReadinessCheck = Arc::new(|| Err(NotReady::StorageFailing));
        let checks = readiness(&[("role", ok), ("storage", full)]);
        assert_eq!(checks[0].level, Level::Ok);
        assert_eq!(checks[1].level, Level::Fail);
        assert_eq!(checks[1].reason, "the disk refuses writes (full, read-only or failing)");
    }
}
