//! Monitoring of the running server: Prometheus metrics (served by `http::metrics` on /metrics), an
//! in-process minute time series for the admin status pages, and built-in alerts posted to a webhook.
//!
//! Startup builds one [`Observability`] and hands it to the web layer and the subsystems it starts.
//! This module reads the domain (vote counters, live connections, and through `Domain`'s
//! `db_facts` the writer statistics, file sizes, disk space, integrity and job runs) and the
//! subsystems' own status; nothing here imports `http`.
//!
//! # Health
//!
//! Every threshold is in `health::thresholds`; [`Observability::report`] judges the current
//! status into a `health::Report` that the alert engine ([`alerts`]) and the technical status page
//! read (`/readyz` runs the registered readiness checks through the same `health::report`).
//!
//! # How other subsystems report
//!
//! Subsystems that keep their own status are read at scrape time (and whenever the alert engine
//! or the status page looks); none of them knows Prometheus, and nothing copies their status
//! into counters in between:
//!
//! - Failover and the replication shipper (`src/failover`, `src/replicate`): the composition root (`app`) calls
//!   `obs.metrics.failover.read_from(sources::failover(&failover))`; role, lease, followed TXID,
//!   replication lag, shipping state, and the uploads and errors failover totals over every
//!   replicator it ran ([`metrics::FailoverFacts`]). Without failover the configured role is shown.
//! - ACME (`src/tls`): `obs.metrics.tls.read_from(sources::certificates(&certs))`; expiry per
//!   domain and the manager's order totals ([`metrics::CertificateFacts`]).
//!
//! Others push through a cloned handle from `obs.metrics` (cheap clones over shared atomics):
//!
//! - Backup verification job, `obs.metrics.backup` ([`metrics::BackupMetrics`]):
//!   `verify_succeeded(unix_now)` / `verify_failed(unix_now)`; at start, `restore_last_success(t)`
//!   from the job_runs table so "stale" survives restarts.
//! - Rate limiting, `obs.metrics.rate_limits` ([`metrics::RateLimitMetrics`]): `rejected("votes")` (a
//!   fixed limit name) per refused request; `http::rate_limit` reports the per-address limits and
//!   the 429s the domain answers behind them (see there for the names). Vote refusals are also in
//!   `mysetlist_votes_rejected_total{reason="rate_limited"}`.
//! - Readiness: not here; register a `health::ReadinessCheck` with `AppState::add_readiness_check`.
//!
//! # Metric names
//!
//! HTTP: `mysetlist_http_requests_total{route,method,status}`,
//! `mysetlist_http_request_duration_seconds{route}` (histogram), `mysetlist_http_requests_in_flight`.
//! Votes: `mysetlist_votes_total`, `mysetlist_votes_retracted_total`,
//! `mysetlist_votes_rejected_total{reason}`; live: `mysetlist_sse_connections`,
//! `mysetlist_live_rankings_unchanged_total`.
//! Database: `mysetlist_db_writer_queue_depth`, `mysetlist_db_writer_last_batch_size`,
//! `mysetlist_db_writer_busy_seconds`, `mysetlist_db_commits_total`, `mysetlist_db_writes_total`,
//! `mysetlist_db_commit_failures_total`, `mysetlist_db_commit_duration_seconds` (histogram),
//! `mysetlist_db_size_bytes`, `mysetlist_db_wal_size_bytes`, `mysetlist_disk_size_bytes`,
//! `mysetlist_disk_available_bytes`.
//! Read from other subsystems or reported by them: `mysetlist_replication_lag_seconds`, `mysetlist_replication_uploads_total`,
//! `mysetlist_replication_upload_errors_total`, `mysetlist_replication_last_upload_timestamp_seconds`,
//! `mysetlist_replication_txid`, `mysetlist_replication_commits_behind`,
//! `mysetlist_replication_last_snapshot_timestamp_seconds`,
//! `mysetlist_backup_verify_last_success_timestamp_seconds`,
//! `mysetlist_backup_verify_last_run_timestamp_seconds`, `mysetlist_backup_verify_last_run_ok`,
//! `mysetlist_backup_verify_failures_total`, `mysetlist_tls_certificate_expiry_timestamp_seconds{domain}`,
//! `mysetlist_tls_certificate_renewals_total`, `mysetlist_tls_certificate_renewal_failures_total`,
//! `mysetlist_failover_is_leader`, `mysetlist_role{role}`, `mysetlist_failover_lease_errors_total`,
//! `mysetlist_rate_limit_rejections_total{limit}`.
//! Scheduled jobs (read from table job_runs at scrape time, labelled `name` since Prometheus owns
//! `job`): `mysetlist_job_last_run_timestamp_seconds{name}`, `mysetlist_job_last_success_timestamp_seconds{name}`,
//! `mysetlist_job_last_run_ok{name}`, `mysetlist_job_consecutive_failures{name}`.
//! Alerts: `mysetlist_alerts_firing{alert}`. Build: `mysetlist_build_info{version,profile}`.
//! Process: `process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`, `process_threads`,
//! `process_start_time_seconds`.

pub(crate) mod alerts;
mod collectors;
pub(crate) mod connections;
pub(crate) mod latency;
pub(crate) mod metrics;
pub(crate) mod process;
pub(crate) mod sources;
pub(crate) mod timeseries;
pub(crate) mod webhook;

pub use metrics::{CertificateFacts, FailoverFacts, ShippingFacts};

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::config::{Config, Role};
use crate::db::jobs::{JobOutcome, JobRun};
use crate::domain::Domain;
use crate::health::report::{HealthInputs, Report, RequestCounts, evaluate};
use crate::health::thresholds::{self, ERROR_RATE_WINDOW_MINUTES};
use alerts::{AlertEngine, Evaluation};
use metrics::Metrics;
use timeseries::{Cumulative, Gauges, MinutePoint, TimeSeries, Window};
use webhook::{Notifier, Origin};

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The commit count the writer had when first seen with writes queued (writer-stalled rule).
#[derive(Debug, Default)]
struct WriterProgress {
    commits: u64,
    since: i64,
}

pub struct Observability {
    pub metrics: Arc<Metrics>,
    /// The connection loop's counters (app::server writes them).
    pub connections: Arc<connections::ConnectionStats>,
    /// job_runs as of the last scrape, shared with the jobs collector.
    job_runs: Arc<Mutex<Vec<crate::db::jobs::JobRun>>>,
    pub series: TimeSeries,
    pub alerts: AlertEngine,
    domain: Arc<Domain>,
    config: Arc<Config>,
    started_at: i64,
    writer_progress: Mutex<WriterProgress>,
}

/// The node's name in alerts: failover.node_id, else the host name.
fn instance_name(config: &Config) -> String {
    let id = config.settings.failover.node_id.trim();
    if !id.is_empty() {
        return id.to_owned();
    }
    Some(crate::failover::host_name()).filter(|h| !h.is_empty()).unwrap_or_else(|| "mysetlist".into())
}

/// Link to the technical status page for notifications.
fn status_link(config: &Config) -> Option<String> {
    let base = if !config.settings.public_url.is_empty() {
        config.settings.public_url.trim_end_matches('/').to_owned()
    } else {
        format!("https://{}", config.settings.domain.first()?)
    };
    Some(format!("{base}/admin/status/technical"))
}

impl Observability {
    pub fn new(domain: Arc<Domain>) -> anyhow::Result<Arc<Self>> {
        let config = domain.config.clone();
        let jobs = collectors::JobsCollector::default();
        let job_runs = jobs.runs.clone();
        let connections = Arc::new(connections::ConnectionStats::default());
        let metrics = Arc::new(Metrics::new(vec![
            Box::new(collectors::AppCollector { domain: domain.clone(), connections: connections.clone() }),
            Box::new(collectors::ProcessCollector),
            Box::new(jobs),
        ]));
        metrics.failover.set_role(match config.settings.role {
            Role::Primary => "primary",
            Role::Standby => "standby",
        });
        let alerts_cfg = &config.settings.alerts;
        let notifier = if alerts_cfg.webhook_url.is_empty() {
            None
        } else {
            let origin = Origin { instance: instance_name(&config), link: status_link(&config) };
            Some(Notifier::new(alerts_cfg.webhook_url.expose(), alerts_cfg.webhook_format, origin)?)
        };
        let alerts = AlertEngine::new(notifier, metrics.alerts_firing.clone());
        let started_at = crate::db::now();
        Ok(Arc::new(Self {
            metrics,
            connections,
            job_runs,
            series: TimeSeries::default(),
            alerts,
            domain,
            config,
            started_at,
            writer_progress: Mutex::new(WriterProgress { commits: 0, since: started_at }),
        }))
    }

    /// The OpenMetrics exposition for /metrics: reads table job_runs, then encodes every metric.
    /// Should the read fail, the jobs' metrics of the previous scrape are served.
    pub async fn render_metrics(&self) -> String {
        match self.domain.all_job_runs().await {
            Ok(runs) => *self.job_runs.lock() = runs,
            Err(e) => tracing::warn!(error = %e, "cannot read job_runs for /metrics"),
        }
        self.metrics.encode()
    }

    pub fn started_at(&self) -> i64 {
        self.started_at
    }

    /// Counters for the time series, read now.
    pub fn cumulative(&self) -> Cumulative {
        let http = self.metrics.http.totals();
        let events = &self.domain.vote_events;
        Cumulative {
            requests: http.requests.load(Ordering::Relaxed),
            server_errors: http.server_errors.load(Ordering::Relaxed),
            latency: http.latency.snapshot(),
            votes: events.toggles(),
            vote_rejections: events.rejected_total(),
            commits: self.domain.writer_stats().commits,
            cpu_seconds: process::read().map(|p| p.cpu_seconds).unwrap_or(0.0),
            rate_limited: self.metrics.rate_limits.total(),
            upload_errors: self.metrics.replication.upload_errors(),
        }
    }

    /// Gauges for the time series and the status page, read now.
    pub fn gauges(&self) -> Gauges {
        let sizes = self.domain.db_file_sizes();
        let disk = self.domain.disk_space().unwrap_or_default();
        Gauges {
            sse_connections: self.domain.hub.watchers() as u64,
            queue_depth: self.domain.writer_stats().queue_depth,
            replication_lag: self.metrics.replication.lag_seconds(),
            db_bytes: sizes.db,
            wal_bytes: sizes.wal,
            disk_available: disk.available,
            disk_total: disk.total,
            resident_bytes: process::read().map(|p| p.resident_bytes).unwrap_or(0),
        }
    }

    /// Adds a sample to the minute series (the background task calls this once a minute).
    pub fn sample(&self, now: i64) {
        self.series.record(now, self.cumulative(), self.gauges());
    }

    /// The last day of the minute series plus the current, not yet sampled minute.
    pub fn recent_points(&self, now: i64) -> Vec<MinutePoint> {
        let mut points = self.series.since(now - 24 * 3600);
        points.push(self.series.unsampled(now, &self.cumulative(), self.gauges()));
        points
    }

    /// The subsystems' status at `now` (unix seconds), for [`evaluate`]. `points`: the minute
    /// series ([`Self::recent_points`]) the request windows are cut from; `jobs`: the scheduled
    /// jobs' last runs.
    pub fn health_inputs(&self, now: i64, points: &[MinutePoint], jobs: &[JobRun]) -> HealthInputs {
        let settings = &self.config.settings;
        let repl = &settings.replication;
        let w = self.domain.writer_stats();
        let writer_no_progress_for = {
            let mut p = self.writer_progress.lock();
            if w.commits != p.commits || w.queue_depth == 0 {
                *p = WriterProgress { commits: w.commits, since: now };
            }
            (w.queue_depth > 0).then(|| (now - p.since) as f64)
        };
        let writer_busy_for = w.busy_since_unix_ms.map(|ms| ((now * 1000 - ms as i64).max(0)) as f64 / 1000.0);
        HealthInputs {
            now,
            replication_enabled: self.config.replication_enabled(),
            replication_lag_seconds: self.metrics.replication.lag_seconds(),
            replication_lag_bound: thresholds::replication_lag_bound(repl.sync_interval),
            backup_last_success: self.metrics.backup.last_success(),
            backup_last_run_ok: self.metrics.backup.last_run_ok(),
            backup_max_age: thresholds::backup_max_age(repl.verify_interval),
            started_at: self.started_at,
            certificates: self.metrics.tls.expiries(),
            recent: last_minutes(points, now, ERROR_RATE_WINDOW_MINUTES),
            last_hour: last_minutes(points, now, 60),
            disk: self.domain.disk_space(),
            writer_busy_for,
            writer_no_progress_for,
            writer_queue_depth: w.queue_depth,
            failed_commits: w.failed_commits,
            jobs: jobs.iter().map(|j| (j.job.clone(), j.last_outcome == Some(JobOutcome::Failed))).collect(),
        }
    }

    /// The node's health at `now`, judged by `health::thresholds`: what the status page marks and
    /// the alerts fire on.
    pub fn report(&self, now: i64, points: &[MinutePoint], jobs: &[JobRun]) -> Report {
        evaluate(&self.health_inputs(now, points, jobs))
    }

    /// Evaluates the alert rules as of `now` and posts notifications. The background task calls it
    /// every [`alerts::EVALUATE_EVERY`] with the current time.
    pub async fn evaluate_alerts_at(&self, now: i64) -> Evaluation {
        let points = self.recent_points(now);
        let jobs = self.job_runs.lock().clone();
        let inputs = self.health_inputs(now, &points, &jobs);
        self.alerts.evaluate(&inputs).await
    }

    /// Starts the minute sampler and the alert loop; they stop when the returned value is dropped.
    pub fn spawn_background(self: &Arc<Self>) -> BackgroundTasks {
        let sampler = {
            let obs = Arc::downgrade(self);
            tokio::spawn(async move {
                loop {
                    // Sample just after each minute boundary so a point covers one whole minute.
                    let ms_into_minute = unix_ms() % 60_000;
                    tokio::time::sleep(Duration::from_millis(60_000 - ms_into_minute + 50)).await;
                    let Some(obs) = obs.upgrade() else { return };
                    obs.sample(crate::db::now());
                }
            })
        };
        let alerting = {
            let obs = Arc::downgrade(self);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(alerts::EVALUATE_EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await; // the first tick is immediate; give the server a moment first
                loop {
                    tick.tick().await;
                    let Some(obs) = obs.upgrade() else { return };
                    obs.evaluate_alerts_at(crate::db::now()).await;
                }
            })
        };
        BackgroundTasks(vec![sampler, alerting])
    }
}

/// Requests in the last `minutes` minute points up to `now`'s minute (the current one included).
pub fn last_minutes(points: &[MinutePoint], now: i64, minutes: i64) -> RequestCounts {
    let minute = now.div_euclid(60) * 60;
    let w = Window::of(&points.iter().filter(|p| p.minute > minute - minutes * 60).cloned().collect::<Vec<_>>());
    RequestCounts { requests: w.requests, server_errors: w.server_errors }
}

/// Background tasks that end when this is dropped.
pub struct BackgroundTasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}
