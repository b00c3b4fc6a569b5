//! Bridges the certificate manager to `/metrics`: the manager keeps its own status (it knows
//! nothing of Prometheus); this polls it and reports the served certificate's expiry per domain and
//! every order obtained or failed since the last poll.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::observability::metrics::Metrics;
use crate::tls::{CertManagerHandle, CertStatus};

const POLL: Duration = Duration::from_secs(1);

/// Reports at once (the stored certificate, if any), then once a second. Ends when the metrics are
/// dropped or the certificate manager stops.
pub fn feed_certificate_metrics(certs: &CertManagerHandle, metrics: &Arc<Metrics>) {
    let certs = certs.clone();
    let weak: Weak<Metrics> = Arc::downgrade(metrics);
    let mut seen = Seen::default();
    if let Some(m) = weak.upgrade() {
        report(&certs.status(), certs.domains(), &m, &mut seen);
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        loop {
            tick.tick().await;
            let Some(m) = weak.upgrade() else { break };
            if certs.is_stopped() {
                break;
            }
            report(&certs.status(), certs.domains(), &m, &mut seen);
        }
    });
}

/// What was reported already, so each poll adds only what is new.
#[derive(Default)]
struct Seen {
    not_after: Option<i64>,
    issued: u64,
    failures: u64,
}

fn report(s: &CertStatus, domains: &[String], metrics: &Metrics, seen: &mut Seen) {
    let not_after = s.not_after.map(|t| t.timestamp());
    if let Some(t) = not_after
        && seen.not_after != not_after
    {
        // One certificate covers every configured name.
        for d in domains {
            metrics.tls.set_certificate_expiry(d, t);
        }
        seen.not_after = not_after;
    }
    for _ in seen.issued..s.issued_total {
        metrics.tls.certificate_renewed();
    }
    seen.issued = seen.issued.max(s.issued_total);
    for _ in seen.failures..s.failures_total {
        metrics.tls.renewal_failed();
    }
    seen.failures = seen.failures.max(s.failures_total);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(not_after: Option<i64>, issued: u64, failures: u64) -> CertStatus {
        CertStatus {
            has_certificate: not_after.is_some(),
            not_after: not_after.and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
            seconds_to_expiry: None,
            next_renewal_at: None,
            last_error: None,
            consecutive_failures: 0,
            issued_total: issued,
            failures_total: failures,
            serial: None,
            renewal_info: false,
            orders: true,
        }
    }

    #[test]
    fn reports_expiry_per_domain_and_only_new_orders() {
        let m = Metrics::new(Vec::new());
        let domains = vec!["a.example".to_owned(), "b.example".to_owned()];
        let mut seen = Seen::default();
        report(&status(None, 0, 1), &domains, &m, &mut seen);
        report(&status(Some(1_800_000_000), 1, 1), &domains, &m, &mut seen);
        report(&status(Some(1_800_000_000), 1, 2), &domains, &m, &mut seen);
        let text = m.encode();
        for d in &domains {
            let line = format!("mysetlist_tls_certificate_expiry_timestamp_seconds{{domain=\"{d}\"}} 1800000000");
            assert!(text.contains(&line), "{text}");
        }
        assert!(text.contains("mysetlist_tls_certificate_renewals_total 1\n"), "{text}");
        assert!(text.contains("mysetlist_tls_certificate_renewal_failures_total 2\n"), "{text}");
    }
}
