//! Where the metrics of subsystems that keep their own status are read from at scrape time (see
//! `metrics::subsystems`); `tls` and `failover` know nothing of Prometheus.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::failover::{Failover, NodeRole};
use crate::tls::CertManagerHandle;

use super::metrics::{CertificateFacts, CertificateSource, FailoverFacts, FailoverSource, ShippingFacts};

/// The certificate manager's status: one certificate covers every configured name.
pub fn certificates(certs: &CertManagerHandle) -> CertificateSource {
    let certs = certs.clone();
    Arc::new(move || {
        let s = certs.status();
        let expiries = match s.not_after {
            Some(t) => certs.domains().iter().map(|d| (d.clone(), t.timestamp())).collect(),
            None => Vec::new(),
        };
        CertificateFacts { expiries, renewals: s.issued_total, failures: s.failures_total }
    })
}

/// Failover's status and its replicators' totals; None once failover stopped.
pub fn failover(failover: &Arc<Failover>) -> FailoverSource {
    let weak = Arc::downgrade(failover);
    Arc::new(move || {
        let f = weak.upgrade()?;
        let s = f.status();
        let totals = f.replication_totals();
        let shipping = f.replicator().map(|r| r.status());
        Some(FailoverFacts {
            leader: s.role == NodeRole::Leader && s.accepting_writes,
            txid: s.txid.get(),
            follower_lag: s.lag.unwrap_or_default(),
            lease_errors: s.errors,
            replication_lag_seconds: shipping.as_ref().map_or(0.0, |rs| rs.lag_seconds.max(0.0)),
            shipping: shipping.map(|rs| ShippingFacts {
                txid: rs.txid.get(),
                commits_behind: rs.commit_seq.get().saturating_sub(rs.shipped_seq.get()),
                last_snapshot: rs.last_snapshot_at.map(unix_seconds),
            }),
            uploads: totals.uploads,
            upload_errors: totals.upload_errors,
            last_upload: totals.last_upload_at.map(unix_seconds),
        })
    })
}

fn unix_seconds(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
