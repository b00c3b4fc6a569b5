//! The Prometheus registry and the handles subsystems use to report.
//!
//! Two kinds of metrics live here:
//! - *pushed* ones, updated by whoever knows the value through a handle: [`HttpMetrics`] (the web
//!   layer), [`BackupMetrics`], [`RateLimitMetrics`]. Handles are cheap clones sharing the same
//!   atomics.
//! - *pulled* ones, read at scrape time from their source: votes, live connections, the database
//!   writer, file sizes, the process ([`super::collectors`]); certificates, failover and
//!   replication from the subsystem's own status ([`TlsMetrics`], [`FailoverMetrics`],
//!   [`ReplicationMetrics`], encoded by `subsystems`).
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
mod subsystems;
#[cfg(test)]
mod tests;

pub use gauges::{GaugeMap, OptionalGauge};
pub use subsystems::{CertificateFacts, CertificateSource, FailoverFacts, FailoverSource, ShippingFacts};

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

/// Replication as failover (which runs the shipper) reports it, read at scrape time.
#[derive(Clone, Default)]
pub struct ReplicationMetrics {
    source: FailoverSlot,
}

impl std::fmt::Debug for ReplicationMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplicationMetrics")
    }
}

impl ReplicationMetrics {
    /// Age of the newest committed transaction not yet stored in S3; 0 when caught up or not
    /// shipping.
    pub fn lag_seconds(&self) -> f64 {
        self.source.facts().map_or(0.0, |f| f.replication_lag_seconds)
    }
    /// Failed upload attempts since start.
    pub fn upload_errors(&self) -> u64 {
        self.source.facts().map_or(0, |f| f.upload_errors)
    }
    /// Unix time of the last stored LTX file.
    pub fn last_upload(&self) -> Option<f64> {
        self.source.facts()?.last_upload.map(|t| t as f64)
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
}

/// The served certificates, read from the ACME client (src/tls) at scrape time.
#[derive(Clone, Default)]
pub struct TlsMetrics {
    source: Arc<parking_lot::RwLock<Option<CertificateSource>>>,
}

impl std::fmt::Debug for TlsMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsMetrics")
    }
}

impl TlsMetrics {
    /// From now on read the certificates' facts from `source` (the composition root passes the certificate
    /// manager's status, see `super::sources`).
    pub fn read_from(&self, source: CertificateSource) {
        *self.source.write() = Some(source);
    }
    /// The facts now; nothing served and no order made while no source is set.
    pub fn facts(&self) -> CertificateFacts {
        self.source.read().as_ref().map(|read| read()).unwrap_or_default()
    }
    /// (domain, expiry unix time) for every certificate served.
    pub fn expiries(&self) -> Vec<(String, i64)> {
        self.facts().expiries
    }
}

/// Where failover's facts are read from (set once failover runs).
#[derive(Clone, Default)]
struct FailoverSlot(Arc<parking_lot::RwLock<Option<FailoverSource>>>);

impl FailoverSlot {
    fn facts(&self) -> Option<FailoverFacts> {
        self.0.read().as_ref().and_then(|read| read())
    }
}

/// The lease and role, read from failover at scrape time; the configured role without failover.
#[derive(Clone)]
pub struct FailoverMetrics {
    source: FailoverSlot,
    configured_role: Arc<parking_lot::Mutex<Option<String>>>,
}

impl std::fmt::Debug for FailoverMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FailoverMetrics")
    }
}

impl FailoverMetrics {
    fn new(source: FailoverSlot) -> Self {
        Self { source, configured_role: Arc::default() }
    }
    /// From now on read failover and replication from `source` (the composition root passes the running
    /// failover's status, see `super::sources`). Only when failover runs: the lease gauges'
    /// presence says "this node takes part".
    pub fn read_from(&self, source: FailoverSource) {
        *self.source.0.write() = Some(source);
    }
    /// "primary" or "standby" as configured (the composition root sets it; failover's own view wins once set).
    pub fn set_role(&self, role: &str) {
        *self.configured_role.lock() = Some(role.to_owned());
    }
    pub fn facts(&self) -> Option<FailoverFacts> {
        self.source.facts()
    }
    pub fn is_leader(&self) -> Option<bool> {
        Some(self.facts()?.leader)
    }
    /// "primary" or "standby" (exported as `mysetlist_role{role="…"} 1`).
    pub fn role(&self) -> Option<String> {
        match self.facts() {
            Some(f) => Some(if f.leader { "primary" } else { "standby" }.to_owned()),
            None => self.configured_role.lock().clone(),
        }
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

        let failover_source = FailoverSlot::default();
        let replication = ReplicationMetrics { source: failover_source.clone() };
        let failover = FailoverMetrics::new(failover_source);
        registry.register_collector(Box::new(subsystems::FailoverCollector(failover.clone())));

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

        let tls = TlsMetrics::default();
        registry.register_collector(Box::new(subsystems::TlsCollector(tls.clone())));

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
