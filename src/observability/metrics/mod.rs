//! The Prometheus registry and the handles subsystems use to report.
//!
//! Two kinds of metrics live here:
//! - *pushed* ones, updated by whoever knows the value through a handle: [`HttpMetrics`] (the web
//!   layer), [`ReplicationMetrics`], [`BackupMetrics`], [`TlsMetrics`], [`FailoverMetrics`],
//!   [`RateLimitMetrics`]. Handles are cheap clones sharing the same atomics.
//! - *pulled* ones, read at scrape time from their source by [`super::collectors`]: votes, live
//!   connections, the database writer, file sizes, the process.
//!
//! Gauges that only make sense once their subsystem has reported (last backup verification, lease
//! holder) are absent from /metrics until set, so that a node without replication does not look like
//! one whose backups never verify.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use super::latency::LatencyHistogram;

/// Buckets of `mysetlist_http_request_duration_seconds`.
const HTTP_BUCKETS: [f64; 13] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

mod gauges;
#[cfg(test)]
mod tests;

pub use gauges::{GaugeMap, OptionalGauge};

type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: String,
}

/// Request counts and latencies; fed by the web layer's metrics middleware.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    /// Totals and a fine-grained latency histogram for the in-process time series (percentiles).
    totals: Arc<HttpTotals>,
}

#[derive(Debug, Default)]
pub struct HttpTotals {
    pub requests: AtomicU64,
    pub server_errors: AtomicU64,
    pub latency: LatencyHistogram,
}

/// Decrements the in-flight gauge when the request ends, however it ends.
pub struct InFlight(Gauge);
impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other", // arbitrary methods must not create label values
    }
}

impl HttpMetrics {
    fn new() -> Self {
        Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(|| Histogram::new(HTTP_BUCKETS)),
            in_flight: Gauge::default(),
            totals: Arc::default(),
        }
    }

    pub fn start(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// One answered request. `route` must be a template (bounded set of values), never a raw path.
    pub fn record(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let method = method_label(method);
        self.requests.get_or_create(&RequestLabels { route: route.to_owned(), method, status }).inc();
        let secs = elapsed.as_secs_f64();
        self.duration.get_or_create(&RouteLabels { route: route.to_owned() }).observe(secs);
        self.totals.requests.fetch_add(1, Ordering::Relaxed);
        if status >= 500 {
            self.totals.server_errors.fetch_add(1, Ordering::Relaxed);
        }
        self.totals.latency.observe(secs);
    }

    pub fn totals(&self) -> &HttpTotals {
        &self.totals
    }

    pub fn in_flight(&self) -> i64 {
        self.in_flight.get()
    }
}

/// Reported by the replication shipper (src/replicate).
#[derive(Clone, Debug, Default)]
pub struct ReplicationMetrics {
    lag_seconds: FloatGauge,
    uploads: Counter,
    upload_errors: Counter,
    last_upload: OptionalGauge,
    txid: OptionalGauge,
    commits_behind: OptionalGauge,
    last_snapshot: OptionalGauge,
}

impl ReplicationMetrics {
    /// Age of the newest committed transaction not yet stored in S3; 0 when caught up.
    pub fn set_lag(&self, lag: Duration) {
        self.lag_seconds.set(lag.as_secs_f64());
    }
    /// An LTX file was stored (`at_unix`: when).
    pub fn upload_succeeded(&self, at_unix: i64) {
        self.uploads.inc();
        self.last_upload.set(at_unix as f64);
    }
    /// An upload attempt failed (count every attempt, before any retry).
    pub fn upload_failed(&self) {
        self.upload_errors.inc();
    }
    pub fn lag_seconds(&self) -> f64 {
        self.lag_seconds.get()
    }
    pub fn upload_errors(&self) -> u64 {
        self.upload_errors.get()
    }
    pub fn last_upload(&self) -> Option<f64> {
        self.last_upload.get()
    }
    /// While this node ships: the newest TXID it stored in S3, the commits not yet there, and when
    /// the last snapshot was stored (`None` before the first one since start).
    pub fn set_shipping(&self, txid: u64, commits_behind: u64, last_snapshot_unix: Option<i64>) {
        self.txid.set(txid as f64);
        self.commits_behind.set(commits_behind as f64);
        if let Some(t) = last_snapshot_unix {
            self.last_snapshot.set(t as f64);
        }
    }
    /// This node does not ship (a standby): the shipping gauges disappear.
    pub fn clear_shipping(&self) {
        self.txid.clear();
        self.commits_behind.clear();
        self.last_snapshot.clear();
    }
    pub fn commits_behind(&self) -> Option<u64> {
        self.commits_behind.get().map(|v| v as u64)
    }
}

/// Reported by the scheduled `backup verify` job.
#[derive(Clone, Debug, Default)]
pub struct BackupMetrics {
    last_success: OptionalGauge,
    last_run: OptionalGauge,
    last_run_ok: OptionalGauge,
    failures: Counter,
}

impl BackupMetrics {
    pub fn verify_succeeded(&self, at_unix: i64) {
        self.last_success.set(at_unix as f64);
        self.last_run.set(at_unix as f64);
        self.last_run_ok.set(1.0);
    }
    pub fn verify_failed(&self, at_unix: i64) {
        self.last_run.set(at_unix as f64);
        self.last_run_ok.set(0.0);
        self.failures.inc();
    }
    /// At start, restore the last known success (e.g. from table job_runs) without counting a run.
    pub fn restore_last_success(&self, at_unix: i64) {
        if self.last_success.get().is_none_or(|v| v < at_unix as f64) {
            self.last_success.set(at_unix as f64);
        }
    }
    pub fn last_success(&self) -> Option<i64> {
        self.last_success.get().map(|v| v as i64)
    }
    /// Outcome of the last verification this process ran, if any.
    pub fn last_run_ok(&self) -> Option<bool> {
        self.last_run_ok.get().map(|v| v >= 1.0)
    }
    pub fn last_run(&self) -> Option<i64> {
        self.last_run.get().map(|v| v as i64)
    }
}

/// Reported by the ACME client (src/tls).
#[derive(Clone, Debug)]
pub struct TlsMetrics {
    expiry: GaugeMap,
    renewals: Counter,
    renewal_failures: Counter,
}

impl TlsMetrics {
    fn new() -> Self {
        Self { expiry: GaugeMap::new("domain"), renewals: Counter::default(), renewal_failures: Counter::default() }
    }
    /// The certificate now served for `domain` expires at `not_after_unix`.
    pub fn set_certificate_expiry(&self, domain: &str, not_after_unix: i64) {
        self.expiry.set(domain, not_after_unix as f64);
    }
    pub fn certificate_renewed(&self) {
        self.renewals.inc();
    }
    pub fn renewal_failed(&self) {
        self.renewal_failures.inc();
    }
    /// (domain, expiry unix time) for every certificate reported.
    pub fn expiries(&self) -> Vec<(String, i64)> {
        self.expiry.entries().into_iter().map(|(d, v)| (d, v as i64)).collect()
    }
}

/// Reported by failover (lease holder) and startup (role).
#[derive(Clone, Debug)]
pub struct FailoverMetrics {
    is_leader: OptionalGauge,
    role: GaugeMap,
    lease_errors: Counter,
    txid: OptionalGauge,
    lag: OptionalGauge,
}

impl FailoverMetrics {
    fn new() -> Self {
        Self {
            is_leader: OptionalGauge::default(),
            role: GaugeMap::new("role"),
            lease_errors: Counter::default(),
            txid: OptionalGauge::default(),
            lag: OptionalGauge::default(),
        }
    }
    /// Follower: seconds since it last knew its copy was the bucket's newest; 0 on the leader.
    pub fn set_lag(&self, lag: std::time::Duration) {
        self.lag.set(lag.as_secs_f64());
    }
    /// Only call this when failover runs: the gauge's presence says "this node takes part".
    pub fn set_leader(&self, leader: bool) {
        self.is_leader.set(if leader { 1.0 } else { 0.0 });
    }
    /// "primary" or "standby" (exported as `mysetlist_role{role="…"} 1`).
    pub fn set_role(&self, role: &str) {
        self.role.replace_all([(role.to_owned(), 1.0)]);
    }
    /// A lease renewal or takeover attempt failed.
    pub fn lease_error(&self) {
        self.lease_errors.inc();
    }
    pub fn lease_errors(&self) -> u64 {
        self.lease_errors.get()
    }
    /// Leader: the newest TXID stored in S3. Standby: the TXID its copy holds.
    pub fn set_txid(&self, txid: u64) {
        self.txid.set(txid as f64);
    }
    pub fn txid(&self) -> Option<u64> {
        self.txid.get().map(|v| v as u64)
    }
    pub fn is_leader(&self) -> Option<bool> {
        self.is_leader.get().map(|v| v >= 1.0)
    }
    pub fn role(&self) -> Option<String> {
        self.role.entries().into_iter().next().map(|(r, _)| r)
    }
}

/// Reported by whatever enforces rate limits (HTTP middleware, login throttling).
#[derive(Clone, Debug, Default)]
pub struct RateLimitMetrics {
    rejections: Family<LimitLabels, Counter>,
    total: Arc<AtomicU64>,
}

impl RateLimitMetrics {
    /// A request was refused by the named limit (a fixed name such as "votes", "login", "signup").
    pub fn rejected(&self, limit: &str) {
        self.rejections.get_or_create(&LimitLabels { limit: limit.to_owned() }).inc();
        self.total.fetch_add(1, Ordering::Relaxed);
    }
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

/// Every metric of the process. Build once with [`Metrics::new`]; encode with [`Metrics::encode`].
pub struct Metrics {
    registry: Registry,
    pub http: HttpMetrics,
    pub replication: ReplicationMetrics,
    pub backup: BackupMetrics,
    pub tls: TlsMetrics,
    pub failover: FailoverMetrics,
    pub rate_limits: RateLimitMetrics,
    /// `mysetlist_alerts_firing{alert}`: 1 per firing built-in alert (set by the alert engine).
    pub alerts_firing: GaugeMap,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// `collectors`: sources read at scrape time (see `super::collectors`).
    pub fn new(collectors: Vec<Box<dyn prometheus_client::collector::Collector>>) -> Self {
        let mut registry = Registry::default();
        let http = HttpMetrics::new();
        registry.register("mysetlist_http_requests", "HTTP requests answered", http.requests.clone());
        registry.register(
            "mysetlist_http_request_duration_seconds",
            "Time to answer an HTTP request",
            http.duration.clone(),
        );
        registry.register("mysetlist_http_requests_in_flight", "HTTP requests being answered", http.in_flight.clone());

        let replication = ReplicationMetrics::default();
        registry.register(
            "mysetlist_replication_lag_seconds",
            "Age of the newest committed transaction not yet stored in S3 (0 when caught up)",
            replication.lag_seconds.clone(),
        );
        registry.register("mysetlist_replication_uploads", "LTX files stored in S3", replication.uploads.clone());
        registry.register(
            "mysetlist_replication_upload_errors",
            "Failed S3 uploads (every attempt, before retry)",
            replication.upload_errors.clone(),
        );
        registry.register(
            "mysetlist_replication_last_upload_timestamp_seconds",
            "Unix time of the last stored LTX file",
            replication.last_upload.clone(),
        );
        registry.register(
            "mysetlist_replication_txid",
            "Newest TXID this node stored in S3 (only while it ships)",
            replication.txid.clone(),
        );
        registry.register(
            "mysetlist_replication_commits_behind",
            "Committed transactions not yet stored in S3 (only while this node ships)",
            replication.commits_behind.clone(),
        );
        registry.register(
            "mysetlist_replication_last_snapshot_timestamp_seconds",
            "Unix time of the last full snapshot stored in S3 (once one was stored since start)",
            replication.last_snapshot.clone(),
        );

        let backup = BackupMetrics::default();
        registry.register(
            "mysetlist_backup_verify_last_success_timestamp_seconds",
            "Unix time of the last successful backup verification",
            backup.last_success.clone(),
        );
        registry.register(
            "mysetlist_backup_verify_last_run_timestamp_seconds",
            "Unix time of the last backup verification, successful or not",
            backup.last_run.clone(),
        );
        registry.register(
            "mysetlist_backup_verify_last_run_ok",
            "1 if the last backup verification succeeded, 0 if it failed",
            backup.last_run_ok.clone(),
        );
        registry.register("mysetlist_backup_verify_failures", "Failed backup verifications", backup.failures.clone());

        let tls = TlsMetrics::new();
        registry.register(
            "mysetlist_tls_certificate_expiry_timestamp_seconds",
            "Unix time the served certificate expires",
            tls.expiry.clone(),
        );
        registry.register(
            "mysetlist_tls_certificate_renewals",
            "Certificates obtained over ACME",
            tls.renewals.clone(),
        );
        registry.register(
            "mysetlist_tls_certificate_renewal_failures",
            "Failed ACME orders",
            tls.renewal_failures.clone(),
        );

        let failover = FailoverMetrics::new();
        registry.register(
            "mysetlist_failover_is_leader",
            "1 while this node holds the S3 lease, 0 otherwise (only with failover)",
            failover.is_leader.clone(),
        );
        registry.register("mysetlist_role", "The role this node runs in (value 1)", failover.role.clone());
        registry.register(
            "mysetlist_failover_lease_errors",
            "Failed failover operations: lease reads and renewals, takeovers, applying LTX files",
            failover.lease_errors.clone(),
        );
        registry.register(
            "mysetlist_failover_txid",
            "Leader: newest TXID stored in S3; standby: the TXID its copy holds (only with failover)",
            failover.txid.clone(),
        );
        registry.register(
            "mysetlist_failover_lag_seconds",
            "Follower: seconds since its copy was last known to be the bucket's newest; 0 on the leader (only with failover)",
            failover.lag.clone(),
        );

        let rate_limits = RateLimitMetrics::default();
        registry.register(
            "mysetlist_rate_limit_rejections",
            "Requests refused by a rate limit, by limit",
            rate_limits.rejections.clone(),
        );

        let alerts_firing = GaugeMap::new("alert");
        registry.register(
            "mysetlist_alerts_firing",
            "Built-in alerts currently firing (value 1)",
            alerts_firing.clone(),
        );

        let build = Info::new(vec![
            ("version", env!("CARGO_PKG_VERSION")),
            ("profile", if cfg!(debug_assertions) { "debug" } else { "release" }),
        ]);
        registry.register("mysetlist_build", "Version of the running binary", build);

        for c in collectors {
            registry.register_collector(c);
        }
        Self { registry, http, replication, backup, tls, failover, rate_limits, alerts_firing }
    }

    /// The OpenMetrics text exposition (ends with `# EOF`).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
