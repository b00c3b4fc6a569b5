//! "This node leads": the signal that gates the scheduler's jobs and, in a cluster, certificate
//! orders. Without replication it is the configured role; with it, failover's view, followed here.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::storage::Storage;
use crate::config::Config;
use crate::failover::Failover;

/// How often failover's view is read: a lease that lapses raises no event, so it is polled.
const POLL: Duration = Duration::from_millis(250);

/// The signal and its sender; the sender must live as long as the application (receivers see its
/// last value, and a dropped sender would read as "never changes again").
pub fn follow(storage: &Storage, config: &Config) -> (watch::Sender<bool>, watch::Receiver<bool>) {
    let (tx, rx) = watch::channel(storage.accepts_writes(config));
    if let Some(f) = &storage.failover {
        keep_following(f, &tx);
    }
    (tx, rx)
}

/// Keeps `leading` equal to "this node accepts writes". Ends when the failover machinery is
/// dropped or nobody listens any more.
fn keep_following(failover: &Arc<Failover>, leading: &watch::Sender<bool>) {
    let weak = Arc::downgrade(failover);
    let leading = leading.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        loop {
            tick.tick().await;
            let Some(f) = weak.upgrade() else { break };
            if leading.is_closed() {
                break;
            }
            let now = f.accepting_writes();
            leading.send_if_modified(|l| std::mem::replace(l, now) != now);
        }
    });
}
