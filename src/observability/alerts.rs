//! Built-in alerts, evaluated in-process every [`EVALUATE_EVERY`], so a single node without
//! Prometheus still tells its operator when something is wrong. The rules and their bounds are
//! `health::thresholds`; each evaluation judges one [`HealthInputs`] snapshot into a
//! `health::Report` and raises an alert for each failing check that has one (table below). A
//! condition that holds for its `hold_for` fires, and the engine posts to
//! `alerts.webhook_url` once when it fires and once when it resolves. While it keeps firing nothing
//! is re-sent (except for the Alertmanager format, which needs a refresh; see `webhook`).
//!
//! | alert | condition |
//! |---|---|
//! | MySetlistReplicationLagging | replication lag above max(60 s, 10 × sync_interval) for 5 min |
//! | MySetlistBackupVerifyFailed | the last backup verification failed (replication on) |
//! | MySetlistBackupVerifyStale | no successful verification for 2 × verify_interval + 1 h (replication on) |
//! | MySetlistCertificateExpiresSoon | a served certificate expires in under 7 days |
//! | MySetlistHighErrorRate | over 1 % of requests answered 5xx in the last 5 minutes (≥ 20 requests) |
//! | MySetlistDiskAlmostFull | under 10 % of the data directory's filesystem available |
//! | MySetlistWriterStalled | the writer has worked on one group, or had writes queued without committing, for 30 s |

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;

use super::metrics::GaugeMap;
use super::webhook::{Notification, Notifier, Status};
use crate::health::report::{Check, HealthInputs, Level, Rule, evaluate};
use crate::health::thresholds::REPLICATION_LAG_HOLD_SECS;

pub const EVALUATE_EVERY: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// A rule's condition that holds right now.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub alert: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub severity: Severity,
    pub summary: String,
    pub description: &'static str,
    /// Seconds the condition must hold before the alert fires.
    pub hold_for: i64,
    pub value: f64,
}

impl Condition {
    /// Identity of the alert instance: name plus labels.
    pub fn key(&self) -> String {
        let mut k = self.alert.to_owned();
        for (name, value) in &self.labels {
            k.push_str(&format!("{{{name}={value}}}"));
        }
        k
    }
}

/// The alert a failing check raises (None: the rule is shown on the status page only), as
/// (name, description, hold_for).
fn alert_for(rule: Rule) -> Option<(&'static str, &'static str, i64)> {
    Some(match rule {
        Rule::ReplicationLag => (
            "MySetlistReplicationLagging",
            "Committed writes are not reaching S3; a disk loss now would lose them. \
             Check S3 reachability and credentials.",
            REPLICATION_LAG_HOLD_SECS,
        ),
        Rule::BackupVerifyFailed => (
            "MySetlistBackupVerifyFailed",
            "A restore from S3 did not pass its checks. Run `mysetlist backup verify` and read its output.",
            0,
        ),
        Rule::BackupVerifyStale => (
            "MySetlistBackupVerifyStale",
            "Nobody knows whether the backup restores. Run `mysetlist backup verify`.",
            0,
        ),
        Rule::CertificateExpiry => (
            "MySetlistCertificateExpiresSoon",
            "Renewal starts 30 days before expiry and has not succeeded. \
             Check ports 80/443 and the ACME log lines.",
            0,
        ),
        Rule::ErrorRateRecent => {
            ("MySetlistHighErrorRate", "Internal causes are in the server's log (level error).", 0)
        }
        Rule::DiskSpace => (
            "MySetlistDiskAlmostFull",
            "SQLite stops accepting writes when the disk is full. Free space or grow the volume.",
            0,
        ),
        Rule::WriterStalled => (
            "MySetlistWriterStalled",
            "Writes (votes, sign-ups) hang. Check disk latency and the log; \
             with ack = replicated, check S3.",
            0,
        ),
        Rule::ErrorRateHour | Rule::WriterQueue | Rule::FailedCommits | Rule::Job | Rule::Readiness => return None,
    })
}

fn condition(c: &Check) -> Option<Condition> {
    let (alert, description, hold_for) = alert_for(c.rule)?;
    let labels = match (&c.subject, c.rule) {
        (Some(domain), Rule::CertificateExpiry) => vec![("domain", domain.clone())],
        _ => vec![],
    };
    let severity = match c.level {
        Level::Ok => return None,
        Level::Warn => Severity::Warning,
        Level::Fail => Severity::Critical,
    };
    Some(Condition { alert, labels, severity, summary: c.reason.clone(), description, hold_for, value: c.value })
}

/// The alerts the failing checks of one snapshot raise.
pub fn conditions(i: &HealthInputs) -> Vec<Condition> {
    evaluate(i).failing().filter_map(condition).collect()
}

#[derive(Debug, Clone)]
struct Tracked {
    condition: Condition,
    pending_since: i64,
    firing_since: Option<i64>,
    /// Last successful notification (firing); None: not delivered yet, retried next evaluation.
    notified_at: Option<i64>,
}

/// An alert for the status page.
#[derive(Debug, Clone)]
pub struct ActiveAlert {
    pub alert: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub severity: Severity,
    pub summary: String,
    pub since: i64,
    /// False while the condition holds but not yet for its `hold_for`.
    pub firing: bool,
}

/// What one evaluation did (for logs and tests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    pub fired: Vec<String>,
    pub resolved: Vec<String>,
    /// Notifications delivered to the webhook.
    pub sent: usize,
    pub failed: usize,
}

pub struct AlertEngine {
    notifier: Option<Notifier>,
    tracked: Mutex<BTreeMap<String, Tracked>>,
    /// Serialises evaluations (the periodic loop and manual calls).
    running: tokio::sync::Mutex<()>,
    firing_gauge: GaugeMap,
}

impl AlertEngine {
    pub fn new(notifier: Option<Notifier>, firing_gauge: GaugeMap) -> Self {
        Self { notifier, tracked: Mutex::default(), running: tokio::sync::Mutex::new(()), firing_gauge }
    }

    /// Conditions that hold now, firing or pending, most severe first.
    pub fn active(&self) -> Vec<ActiveAlert> {
        let mut v: Vec<ActiveAlert> = self
            .tracked
            .lock()
            .values()
            .map(|t| ActiveAlert {
                alert: t.condition.alert,
                labels: t.condition.labels.clone(),
                severity: t.condition.severity,
                summary: t.condition.summary.clone(),
                since: t.firing_since.unwrap_or(t.pending_since),
                firing: t.firing_since.is_some(),
            })
            .collect();
        v.sort_by_key(|a| (a.severity != Severity::Critical, !a.firing, a.alert));
        v
    }

    /// Applies one snapshot: starts, fires, resolves alerts and posts the notifications.
    pub async fn evaluate(&self, inputs: &HealthInputs) -> Evaluation {
        let _one_at_a_time = self.running.lock().await;
        let now = inputs.now;
        let current: BTreeMap<String, Condition> = conditions(inputs).into_iter().map(|c| (c.key(), c)).collect();
        let mut outbox: Vec<(String, Notification)> = Vec::new();
        let mut eval = Evaluation::default();
        {
            let mut tracked = self.tracked.lock();
            // Resolved: tracked but no longer true.
            let gone: Vec<String> = tracked.keys().filter(|k| !current.contains_key(*k)).cloned().collect();
            for key in gone {
                let t = tracked.remove(&key).expect("key listed above");
                if let Some(since) = t.firing_since {
                    eval.resolved.push(key.clone());
                    if t.notified_at.is_some() {
                        outbox.push((key, notification(&t.condition, Status::Resolved, since, Some(now))));
                    }
                }
            }
            for (key, condition) in current {
                let t = tracked.entry(key.clone()).or_insert_with(|| Tracked {
                    condition: condition.clone(),
                    pending_since: now,
                    firing_since: None,
                    notified_at: None,
                });
                t.condition = condition;
                if t.firing_since.is_none() && now - t.pending_since >= t.condition.hold_for {
                    t.firing_since = Some(now);
                    eval.fired.push(key.clone());
                }
                let Some(since) = t.firing_since else { continue };
                let refresh = self.notifier.as_ref().and_then(Notifier::refresh_every);
                let due = match (t.notified_at, refresh) {
                    (None, _) => true,
                    (Some(at), Some(every)) => now - at >= every,
                    (Some(_), None) => false,
                };
                if due {
                    outbox.push((key, notification(&t.condition, Status::Firing, since, None)));
                }
            }
            self.firing_gauge.replace_all(
                tracked.values().filter(|t| t.firing_since.is_some()).map(|t| (t.condition.alert.to_owned(), 1.0)),
            );
        }
        for key in &eval.fired {
            tracing::warn!(alert = %key, "alert firing");
        }
        for key in &eval.resolved {
            tracing::info!(alert = %key, "alert resolved");
        }
        let Some(notifier) = &self.notifier else { return eval };
        for (key, n) in outbox {
            match notifier.send(&n).await {
                Ok(()) => {
                    eval.sent += 1;
                    if n.status == Status::Firing
                        && let Some(t) = self.tracked.lock().get_mut(&key)
                    {
                        t.notified_at = Some(now);
                    }
                }
                Err(e) => {
                    eval.failed += 1;
                    // A firing notice is retried at the next evaluation; a lost "resolved" is only logged.
                    tracing::error!(alert = %key, status = n.status.as_str(), error = %e, "alert webhook failed");
                }
            }
        }
        eval
    }
}

fn notification(c: &Condition, status: Status, starts_at: i64, ends_at: Option<i64>) -> Notification {
    Notification {
        status,
        alert: c.alert.to_owned(),
        labels: c.labels.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
        severity: c.severity,
        summary: c.summary.clone(),
        description: c.description.to_owned(),
        value: c.value,
        starts_at,
        ends_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::db::files::DiskSpace;
    use crate::health::report::RequestCounts;

    fn base() -> HealthInputs {
        HealthInputs { now: 1_000_000, backup_max_age: 13 * 3600, started_at: 1_000_000 - 60, ..Default::default() }
    }

    fn names(i: &HealthInputs) -> Vec<&'static str> {
        conditions(i).iter().map(|c| c.alert).collect()
    }

    #[test]
    fn healthy_inputs_raise_nothing() {
        assert!(names(&base()).is_empty());
        let replicated = HealthInputs { replication_enabled: true, backup_last_success: Some(999_000), ..base() };
        assert!(names(&replicated).is_empty());
    }

    #[test]
    fn each_rule_has_its_trigger() {
        let i = HealthInputs { replication_lag_seconds: 61.0, ..base() };
        assert_eq!(names(&i), ["MySetlistReplicationLagging"]);

        let i = HealthInputs { replication_enabled: true, backup_last_run_ok: Some(false), ..base() };
        assert_eq!(names(&i), ["MySetlistBackupVerifyFailed"]);

        let i = HealthInputs { replication_enabled: true, started_at: 1_000_000 - 14 * 3600, ..base() };
        assert_eq!(names(&i), ["MySetlistBackupVerifyStale"]);

        let i = HealthInputs { certificates: vec![("a.example".into(), 1_000_000 + 6 * 86_400)], ..base() };
        let c = conditions(&i);
        assert_eq!((c[0].alert, c[0].labels[0].1.as_str()), ("MySetlistCertificateExpiresSoon", "a.example"));
        let i = HealthInputs { certificates: vec![("a.example".into(), 1_000_000 + 30 * 86_400)], ..base() };
        assert!(names(&i).is_empty());

        let recent = RequestCounts { requests: 100, server_errors: 2 };
        assert_eq!(names(&HealthInputs { recent, ..base() }), ["MySetlistHighErrorRate"]);
        let hour_only = HealthInputs { last_hour: recent, ..base() };
        assert!(names(&hour_only).is_empty(), "the hour's rate is for the status page");
        let few = RequestCounts { requests: 10, server_errors: 5 };
        assert!(names(&HealthInputs { recent: few, ..base() }).is_empty(), "too few requests to judge");

        let disk = Some(DiskSpace { total: 1000, available: 50 });
        assert_eq!(names(&HealthInputs { disk, ..base() }), ["MySetlistDiskAlmostFull"]);

        let i = HealthInputs { writer_busy_for: Some(31.0), ..base() };
        assert_eq!(names(&i), ["MySetlistWriterStalled"]);
        let i = HealthInputs { writer_no_progress_for: Some(45.0), ..base() };
        assert_eq!(names(&i), ["MySetlistWriterStalled"]);
    }

    #[tokio::test]
    async fn fires_after_hold_and_resolves_once() {
        let engine = AlertEngine::new(None, GaugeMap::new("alert"));
        let lagging = HealthInputs { replication_lag_seconds: 600.0, ..base() };
        assert!(engine.evaluate(&lagging).await.fired.is_empty(), "pending during the hold");
        assert!(!engine.active()[0].firing);
        let later = HealthInputs { now: lagging.now + REPLICATION_LAG_HOLD_SECS, ..lagging.clone() };
        assert_eq!(engine.evaluate(&later).await.fired, ["MySetlistReplicationLagging"]);
        let again = HealthInputs { now: later.now + 15, ..lagging.clone() };
        assert_eq!(engine.evaluate(&again).await, Evaluation::default(), "no repeat while firing");
        let healthy = HealthInputs { now: again.now + 15, ..base() };
        assert_eq!(engine.evaluate(&healthy).await.resolved, ["MySetlistReplicationLagging"]);
        assert!(engine.active().is_empty());
    }
}
