//! Metrics of subsystems that keep their own status (the ACME client, failover and replication):
//! read from that status at scrape time, so nothing copies it into counters in between. Running
//! totals are the subsystem's own.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::{FailoverMetrics, TlsMetrics};

/// What `/metrics`, alerts and the status page need to know about the served certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateFacts {
    /// (domain, unix time the served certificate expires); empty while none is served.
    pub expiries: Vec<(String, i64)>,
    /// Certificates obtained over ACME since start.
    pub renewals: u64,
    /// Failed ACME orders since start.
    pub failures: u64,
}

pub type CertificateSource = Arc<dyn Fn() -> CertificateFacts + Send + Sync>;

/// `name` without `_total`; the encoder appends it.
fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> std::fmt::Result {
    let c = ConstCounter::new(value);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

/// One gauge family labelled `label`; absent while it has no entry.
fn gauge_family(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    entries: &[(String, f64)],
) -> std::fmt::Result {
    if entries.is_empty() {
        return Ok(());
    }
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (key, value) in entries {
        ConstGauge::new(*value).encode(family.encode_family(&[(label, key.as_str())])?)?;
    }
    Ok(())
}

#[derive(Debug)]
pub struct TlsCollector(pub TlsMetrics);

impl Collector for TlsCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let facts = self.0.facts();
        let expiries: Vec<(String, f64)> = facts.expiries.iter().map(|(d, t)| (d.clone(), *t as f64)).collect();
        gauge_family(
            &mut enc,
            "mysetlist_tls_certificate_expiry_timestamp_seconds",
            "Unix time the served certificate expires",
            "domain",
            &expiries,
        )?;
        counter(&mut enc, "mysetlist_tls_certificate_renewals", "Certificates obtained over ACME", facts.renewals)?;
        counter(&mut enc, "mysetlist_tls_certificate_renewal_failures", "Failed ACME orders", facts.failures)?;
        Ok(())
    }
}

/// What `/metrics`, alerts and the status page need to know about failover and replication.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailoverFacts {
    /// Holds the lease and accepts writes.
    pub leader: bool,
    /// Leader: the newest TXID stored in S3. Standby: the TXID its copy holds.
    pub txid: u64,
    /// Follower: time since its copy was last known to be the bucket's newest; 0 on the leader.
    pub follower_lag: Duration,
    /// Failed failover operations since start.
    pub lease_errors: u64,
    /// Age of the newest committed transaction not yet stored in S3 (0 when not shipping).
    pub replication_lag_seconds: f64,
    /// While this node ships.
    pub shipping: Option<ShippingFacts>,
    /// LTX files stored since start, by every replicator this node ran.
    pub uploads: u64,
    /// Failed upload attempts since start, by every replicator this node ran.
    pub upload_errors: u64,
    /// Unix time of the last stored LTX file.
    pub last_upload: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShippingFacts {
    /// Newest TXID stored in S3.
    pub txid: u64,
    /// Committed transactions not yet stored in S3.
    pub commits_behind: u64,
    /// Unix time of the last full snapshot stored since start.
    pub last_snapshot: Option<i64>,
}

/// None once failover stopped.
pub type FailoverSource = Arc<dyn Fn() -> Option<FailoverFacts> + Send + Sync>;

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, value: Option<f64>) -> std::fmt::Result {
    let Some(value) = value else { return Ok(()) };
    let g = ConstGauge::new(value);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

#[derive(Debug)]
pub struct FailoverCollector(pub FailoverMetrics);

impl Collector for FailoverCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let facts = self.0.facts();
        let f = facts.clone().unwrap_or_default();
        let shipping = f.shipping;
        gauge(
            &mut enc,
            "mysetlist_replication_lag_seconds",
            "Age of the newest committed transaction not yet stored in S3 (0 when caught up)",
            Some(f.replication_lag_seconds),
        )?;
        counter(&mut enc, "mysetlist_replication_uploads", "LTX files stored in S3", f.uploads)?;
        counter(
            &mut enc,
            "mysetlist_replication_upload_errors",
            "Failed S3 uploads (every attempt, before retry)",
            f.upload_errors,
        )?;
        gauge(
            &mut enc,
            "mysetlist_replication_last_upload_timestamp_seconds",
            "Unix time of the last stored LTX file",
            f.last_upload.map(|t| t as f64),
        )?;
        gauge(
            &mut enc,
            "mysetlist_replication_txid",
            "Newest TXID this node stored in S3 (only while it ships)",
            shipping.map(|s| s.txid as f64),
        )?;
        gauge(
            &mut enc,
            "mysetlist_replication_commits_behind",
            "Committed transactions not yet stored in S3 (only while this node ships)",
            shipping.map(|s| s.commits_behind as f64),
        )?;
        gauge(
            &mut enc,
            "mysetlist_replication_last_snapshot_timestamp_seconds",
            "Unix time of the last full snapshot stored in S3 (once one was stored since start)",
            shipping.and_then(|s| s.last_snapshot).map(|t| t as f64),
        )?;
        gauge(
            &mut enc,
            "mysetlist_failover_is_leader",
            "1 while this node holds the S3 lease, 0 otherwise (only with failover)",
            facts.as_ref().map(|f| f64::from(u8::from(f.leader))),
        )?;
        let roles: Vec<(String, f64)> = self.0.role().into_iter().map(|r| (r, 1.0)).collect();
        gauge_family(&mut enc, "mysetlist_role", "The role this node runs in (value 1)", "role", &roles)?;
        counter(
            &mut enc,
            "mysetlist_failover_lease_errors",
            "Failed failover operations: lease reads and renewals, takeovers, applying LTX files",
            f.lease_errors,
        )?;
        gauge(
            &mut enc,
            "mysetlist_failover_txid",
            "Leader: newest TXID stored in S3; standby: the TXID its copy holds (only with failover)",
            facts.as_ref().map(|f| f.txid as f64),
        )?;
        gauge(
            &mut enc,
            "mysetlist_failover_lag_seconds",
            "Follower: seconds since its copy was last known to be the bucket's newest; 0 on the leader (only with failover)",
            facts.as_ref().map(|f| f.follower_lag.as_secs_f64()),
        )?;
        Ok(())
    }
}
