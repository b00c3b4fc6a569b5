//! Bridges the failover machinery to the rest of the app: the scheduler's "primary" signal and
//! the pushed replication/failover metrics. Failover and replication keep their own status
//! structs (they know nothing of Prometheus); this polls them once a second and reports changes.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;

use crate::failover::{Failover, NodeRole};
use crate::observability::metrics::Metrics;

const POLL: Duration = Duration::from_secs(1);

/// Keeps `primary` equal to "this node accepts writes", so periodic jobs run on the leader only.
/// Ends when the failover machinery is dropped or nobody listens any more.
pub fn follow_leadership(failover: &Arc<Failover>, primary: &watch::Sender<bool>) {
    let weak = Arc::downgrade(failover);
    let primary = primary.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL / 4);
        loop {
            tick.tick().await;
            let Some(f) = weak.upgrade() else { break };
            if primary.is_closed() {
                break;
            }
            let leading = f.accepting_writes();
            primary.send_if_modified(|p| std::mem::replace(p, leading) != leading);
        }
    });
}

/// Reports role, followed TXID, replication lag (seconds and commits), stored TXID, last snapshot,
/// uploads and errors to `/metrics`.
pub fn feed_replication_metrics(failover: &Arc<Failover>, metrics: &Arc<Metrics>) {
    let weak: Weak<Failover> = Arc::downgrade(failover);
    let metrics = metrics.clone();
    tokio::spawn(async move {
        let mut seen = Seen::default();
        let mut tick = tokio::time::interval(POLL);
        loop {
            tick.tick().await;
            let Some(f) = weak.upgrade() else { break };
            report(&f, &metrics, &mut seen);
        }
    });
}

/// Counters already reported, so each poll adds only what is new. A new replicator (after a
/// takeover) starts its own counts at zero.
#[derive(Default)]
struct Seen {
    uploads: u64,
    upload_errors: u64,
    failover_errors: u64,
}

fn report(f: &Failover, metrics: &Metrics, seen: &mut Seen) {
    let s = f.status();
    let leader = s.role == NodeRole::Leader && s.accepting_writes;
    metrics.failover.set_leader(leader);
    metrics.failover.set_role(if leader { "primary" } else { "standby" });
    metrics.failover.set_txid(s.txid.get());
    metrics.failover.set_lag(s.lag.unwrap_or_default());
    for _ in seen.failover_errors..s.errors {
        metrics.failover.lease_error();
    }
    seen.failover_errors = seen.failover_errors.max(s.errors);

    let Some(r) = f.replicator() else {
        metrics.replication.set_lag(Duration::ZERO);
        metrics.replication.clear_shipping();
        seen.uploads = 0;
        seen.upload_errors = 0;
        return;
    };
    let rs = r.status();
    metrics.replication.set_lag(Duration::from_secs_f64(rs.lag_seconds.max(0.0)));
    metrics.replication.set_shipping(
        rs.txid.get(),
        rs.commit_seq.get().saturating_sub(rs.shipped_seq.get()),
        rs.last_snapshot_at.map(unix_seconds),
    );
    if rs.uploads < seen.uploads || rs.upload_errors < seen.upload_errors {
        *seen = Seen { failover_errors: seen.failover_errors, ..Seen::default() };
    }
    if rs.uploads > seen.uploads {
        let at = rs.last_upload_at.map_or_else(crate::db::now, unix_seconds);
        for _ in seen.uploads..rs.uploads {
            metrics.replication.upload_succeeded(at);
        }
        seen.uploads = rs.uploads;
    }
    for _ in seen.upload_errors..rs.upload_errors {
        metrics.replication.upload_failed();
    }
    seen.upload_errors = rs.upload_errors;
}

fn unix_seconds(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
