//! The simulated cluster: nodes that start, crash, stop cleanly and restart on their own data
//! directories, each with its own client of the one in-memory bucket.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mysetlist::config::Role;
use mysetlist::db::{Database, DbOptions};
use mysetlist::failover::{self, Failover, FailoverConfig};
use mysetlist::replicate::{AckMode, MemoryClient, ReplicatorOptions};

pub const LEASE_TTL: Duration = Duration::from_secs(2);
pub const SYNC_INTERVAL: Duration = Duration::from_millis(200);
pub const BUCKET_URL: &str = "s3://sim-bucket/db";

/// A node that runs.
#[derive(Clone)]
pub struct Live {
    pub db: Database,
    pub failover: Arc<Failover>,
}

pub enum NodeState {
    Down,
    Starting(tokio::task::JoinHandle<anyhow::Result<Live>>),
    Up(Live),
}

pub struct Node {
    pub id: String,
    pub cfg: FailoverConfig,
    pub state: NodeState,
    /// +1 on every start: reads are monotonic within one incarnation (one process).
    pub incarnation: u32,
}

/// Replication options for `client` (the node's own view of the bucket).
pub fn options(client: MemoryClient, ack: AckMode) -> ReplicatorOptions {
    let mut o = ReplicatorOptions::new(BUCKET_URL);
    o.client = Some(Arc::new(client));
    o.sync_interval = SYNC_INTERVAL;
    o.ack = ack;
    o
}

impl Node {
    pub fn new(id: &str, role: Role, dir: PathBuf, bucket: &MemoryClient, ack: AckMode) -> Node {
        let cfg = FailoverConfig {
            node_id: id.to_string(),
            role,
            lease_ttl: LEASE_TTL,
            replication: options(bucket.node(id), ack),
            db_path: dir.join(id).join("mysetlist.db"),
            replicated_ack_timeout: (ack == AckMode::Replicated).then_some(Duration::from_secs(3)),
            restore_if_missing: true,
        };
        Node { id: id.to_string(), cfg, state: NodeState::Down, incarnation: 0 }
    }

    /// Starts the node in the background (boot may wait for the bucket or for a leader).
    pub fn start(&mut self) {
        let cfg = self.cfg.clone();
        self.incarnation += 1;
        self.state = NodeState::Starting(tokio::spawn(async move {
            let booted = failover::boot(&cfg).await?;
            let opts = DbOptions { readers: 2, external_checkpoints: true, ..DbOptions::new(&cfg.db_path) };
            let db = if booted.is_leader() { Database::open(&opts)? } else { Database::open_follower(&opts)? };
            let failover = Failover::start(cfg, booted, db.clone())?;
            Ok(Live { db, failover })
        }));
    }

    /// Moves a finished start to `Up` (or `Down` when it failed, as systemd would see it).
    pub async fn poll_start(&mut self) -> Option<String> {
        let NodeState::Starting(task) = &self.state else { return None };
        if !task.is_finished() {
            return None;
        }
        let NodeState::Starting(task) = std::mem::replace(&mut self.state, NodeState::Down) else { unreachable!() };
        match task.await {
            Ok(Ok(live)) => {
                self.state = NodeState::Up(live);
                None
            }
            Ok(Err(e)) => Some(format!("{} did not start: {e:#}", self.id)),
            Err(e) => Some(format!("{} start task failed: {e}", self.id)),
        }
    }

    pub fn live(&self) -> Option<&Live> {
        match &self.state {
            NodeState::Up(l) => Some(l),
            _ => None,
        }
    }

    pub fn accepting(&self) -> bool {
        self.live().is_some_and(|l| l.failover.accepting_writes())
    }

    /// Kills the node (see [`Failover::crash`]).
    pub async fn crash(&mut self) {
        match std::mem::replace(&mut self.state, NodeState::Down) {
            NodeState::Up(l) => l.failover.crash(&l.db).await,
            NodeState::Starting(task) => {
                task.abort();
                if let Ok(Ok(l)) = task.await {
                    l.failover.crash(&l.db).await;
                }
            }
            NodeState::Down => {}
        }
    }

    /// Stops the node cleanly (a leader hands its lease over).
    pub async fn stop(&mut self) {
        match std::mem::replace(&mut self.state, NodeState::Down) {
            NodeState::Up(l) => l.failover.shutdown(&l.db).await,
            other => {
                self.state = other;
                self.crash().await;
            }
        }
    }
}
