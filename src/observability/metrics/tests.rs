use super::*;

#[test]
fn optional_gauges_appear_once_set() {
    let m = Metrics::new(Vec::new());
    assert!(!m.encode().contains("mysetlist_failover_is_leader "));
    assert!(!m.encode().contains("mysetlist_backup_verify_last_success_timestamp_seconds "));
    m.failover.read_from(Arc::new(|| Some(FailoverFacts { leader: true, ..Default::default() })));
    m.backup.verify_succeeded(1_700_000_000);
    m.tls.read_from(Arc::new(|| CertificateFacts {
        expiries: vec![("example.org".into(), 1_800_000_000)],
        renewals: 1,
        failures: 2,
    }));
    let text = m.encode();
    assert!(text.contains("mysetlist_failover_is_leader 1"), "{text}");
    assert!(text.contains("mysetlist_backup_verify_last_success_timestamp_seconds 1700000000"), "{text}");
    assert!(
        text.contains("mysetlist_tls_certificate_expiry_timestamp_seconds{domain=\"example.org\"} 1800000000"),
        "{text}"
    );
    assert!(text.contains("mysetlist_tls_certificate_renewals_total 1\n"), "{text}");
    assert!(text.contains("mysetlist_tls_certificate_renewal_failures_total 2\n"), "{text}");
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn http_requests_by_route_method_status() {
    let m = Metrics::new(Vec::new());
    m.http.record("/shows/:id", "GET", 200, Duration::from_millis(3));
    m.http.record("/shows/:id", "BREW", 500, Duration::from_millis(3));
    let text = m.encode();
    assert!(
        text.contains("mysetlist_http_requests_total{route=\"/shows/:id\",method=\"GET\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("method=\"other\",status=\"500\"} 1"), "{text}");
    assert!(
        text.contains("mysetlist_http_request_duration_seconds_bucket{le=\"0.005\",route=\"/shows/:id\"} 2"),
        "{text}"
    );
    assert_eq!(m.http.totals().server_errors.load(Ordering::Relaxed), 1);
}
