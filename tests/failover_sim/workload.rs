//! The client: acknowledged writes `n = 1, 2, 3…`, one at a time, each retried (idempotently,
//! with the same `n`) on whichever node accepts writes until one acknowledges it.

use std::sync::Arc;
use std::time::Duration;

use mysetlist::db::{Database, DbError};
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;

use super::cluster::Live;

/// One acknowledged write.
#[derive(Debug, Clone)]
pub struct Acked {
    pub n: i64,
    pub node: String,
    /// Since when the node accepted writes when it acknowledged `n` (wall clock, set as it starts
    /// accepting): one value per leadership, the same through the commits it acknowledged.
    pub leading_since: Option<std::time::SystemTime>,
    pub at: Instant,
}

/// The nodes the client can reach, as the harness last published them.
pub type Reachable = Arc<Mutex<Vec<(String, Option<Live>)>>>;

pub struct Workload {
    pub acked: Arc<Mutex<Vec<Acked>>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const RETRY_PAUSE: Duration = Duration::from_millis(50);

pub async fn write(db: &Database, n: i64, node: &str) -> Result<(), DbError> {
    let node = node.to_string();
    db.write(move |c| {
        c.execute_batch("CREATE TABLE IF NOT EXISTS sim_writes (n INTEGER PRIMARY KEY, node TEXT NOT NULL)")?;
        c.execute("INSERT OR IGNORE INTO sim_writes (n, node) VALUES (?1, ?2)", rusqlite::params![n, node])?;
        Ok::<(), DbError>(())
    })
    .await
}

/// The highest acknowledged write this node's readers see: the highest `n` whose row was written
/// by the node that acknowledged `n` (`acked[n - 1]`). A row with the same `n` from a node that
/// committed it but never acknowledged it (a leader that lost the lease before shipping it; the
/// client then retried `n` elsewhere) is not the acknowledged write, and may rightly vanish when
/// that node re-syncs. 0 before any, -1 when the read itself failed (database closing).
pub async fn highest_acknowledged(db: &Database, acked: &[Acked]) -> i64 {
    let top = db
        .read(|c| {
            let exists: bool =
                c.query_row("SELECT count(*) > 0 FROM sqlite_master WHERE name = 'sim_writes'", [], |r| r.get(0))?;
            if !exists {
                return Ok::<Vec<(i64, String)>, DbError>(Vec::new());
            }
            // Unacknowledged rows sit only on top (the client sends one write at a time).
            let mut st = c.prepare("SELECT n, node FROM sim_writes ORDER BY n DESC LIMIT 50")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await;
    let Ok(top) = top else { return -1 };
    top.iter()
        .find(|(n, node)| usize::try_from(*n - 1).ok().and_then(|i| acked.get(i)).is_some_and(|a| a.node == *node))
        .map_or(0, |(n, _)| *n)
}

impl Workload {
    pub fn start(reachable: Reachable) -> Workload {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = watch::channel(false);
        let log = acked.clone();
        let task = tokio::spawn(async move {
            let mut n = 1;
            while !*stopped.borrow() {
                let target = reachable.lock().iter().find_map(|(id, l)| {
                    l.as_ref().filter(|l| l.failover.accepting_writes()).map(|l| (id.clone(), l.clone()))
                });
                let acknowledged = match &target {
                    Some((id, l)) => {
                        matches!(tokio::time::timeout(ATTEMPT_TIMEOUT, write(&l.db, n, id)).await, Ok(Ok(())))
                    }
                    None => false,
                };
                if let (true, Some((node, l))) = (acknowledged, target) {
                    let leading_since = l.failover.status().leading_since;
                    log.lock().push(Acked { n, node, leading_since, at: Instant::now() });
                    n += 1;
                } else {
                    tokio::select! {
                        _ = stopped.changed() => {}
                        _ = tokio::time::sleep(RETRY_PAUSE) => {}
                    }
                }
            }
        });
        Workload { acked, stop, task }
    }

    pub fn acked(&self) -> Vec<Acked> {
        self.acked.lock().clone()
    }

    pub async fn stop(self) -> Vec<Acked> {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.acked.lock().clone()
    }
}
