//! Bridges the failover machinery to the scheduler: its "primary" signal. (Failover's metrics are
//! read from its status at scrape time, see `observability::sources`.)

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::failover::Failover;

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
