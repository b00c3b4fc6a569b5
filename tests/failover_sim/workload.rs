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

/// The highest `n` this node's readers see (0 before the first write reached it).
pub async fn highest(db: &Database) -> i64 {
    db.read(|c| {
        let exists: bool =
            c.query_row("SELECT count(*) > 0 FROM sqlite_master WHERE name = 'sim_writes'", [], |r| r.get(0))?;
        if !exists {
            return Ok::<i64, DbError>(0);
        }
        Ok(c.query_row("SELECT coalesce(max(n), 0) FROM sim_writes", [], |r| r.get(0))?)
    })
    .await
    .unwrap_or(-1)
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
                    l.as_ref().filter(|l| l.failover.accepting_writes()).map(|l| (id.clone(), l.db.clone()))
                });
                let acknowledged = match &target {
                    Some((id, db)) => {
                        matches!(tokio::time::timeout(ATTEMPT_TIMEOUT, write(db, n, id)).await, Ok(Ok(())))
                    }
                    None => false,
                };
                if acknowledged {
                    let node = target.map(|t| t.0).unwrap_or_default();
                    log.lock().push(Acked { n, node, at: Instant::now() });
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
