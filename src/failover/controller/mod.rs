//! The per-node state machine (see the module docs of [`super`]): one task, one state at a time,
//! every S3 operation bounded, every step short, so a stop request is served within a step.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use tokio::sync::watch;

mod follow;
mod lead;
mod takeover;

use takeover::migrate;

use super::lease::{Lease, LeaseStore, Observed, Written};
use super::{Boot, Booted, FailoverConfig, FailoverError, FailoverState, NodeRole, Shared};
use crate::config;
use crate::db::{self, Database};
use crate::replicate::follow::{Follower, Progress, Sidecar};
use crate::replicate::{ReplicateError, Replicator, Txid};

/// A follower looks for new LTX files this often.
const FOLLOW_TICK: Duration = Duration::from_millis(250);
/// How often a follower reads the lease while a hand-over to it is pending.
const HANDOVER_POLL: Duration = Duration::from_millis(100);
/// Time a leader's stop or hand-over may spend waiting for its last commits to reach S3.
const FLUSH_BUDGET: Duration = Duration::from_secs(15);

enum State {
    Leader(Box<Leading>),
    /// The copy follows the bucket ([`Node::follower`] knows how far, or that it must re-sync).
    Following,
    Detached,
}

struct Leading {
    /// What this node last wrote to the lease object, and its version.
    lease: Lease,
    etag: String,
    valid_until: Instant,
    next_renew: Instant,
    /// Accept writes once the shipper stored this TXID (the barrier of a takeover).
    barrier: Option<Txid>,
    /// `mysetlist promote` asked to hand over to this node (None = to anyone, on shutdown).
    handover: Option<Option<String>>,
}

pub struct Node {
    cfg: FailoverConfig,
    instance: String,
    shared: Arc<Shared>,
    db: Database,
    lease: LeaseStore,
    follower: Follower,
    state: State,
    /// The lease version a follower watches, and when it first saw it.
    seen: Option<(String, Instant)>,
    last_lease: Option<Observed>,
    next_lease_read: Instant,
}

/// An error message cut to a length that fits a status line.
fn short(e: &impl std::fmt::Display) -> String {
    let s = e.to_string();
    match s.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s,
    }
}

fn record_error(shared: &Shared, what: &str, e: &impl std::fmt::Display) {
    tracing::warn!(error = %e, "{what}");
    let mut s = shared.status.lock();
    s.errors += 1;
    s.last_error = Some(format!("{what}: {}", short(e)));
}

impl Node {
    pub(crate) fn new(
        cfg: FailoverConfig,
        booted: Booted,
        db: Database,
        shared: Arc<Shared>,
    ) -> Result<Node, FailoverError> {
        let Booted { boot, instance, lease } = booted;
        let applied = match &boot {
            Boot::Follower { applied } => Some(*applied),
            _ => None,
        };
        let follower =
            Follower::new(cfg.replication.clone(), &cfg.db_path, applied, follow::progress_hook(shared.clone()))?;
        let mut node = Node {
            cfg,
            instance,
            shared,
            db,
            lease,
            follower,
            state: State::Detached,
            seen: None,
            last_lease: None,
            next_lease_read: Instant::now(),
        };
        match boot {
            Boot::Leader { observed, valid_until } => {
                node.last_lease = Some(observed.clone());
                node.lead_with(observed, valid_until, false)?;
            }
            Boot::Follower { .. } => node.state = State::Following,
            Boot::Detached => node.state = State::Detached,
        }
        node.publish();
        Ok(node)
    }

    /// Stops the follower's database work from outside this node's task ([`Failover::crash`]).
    ///
    /// [`Failover::crash`]: super::Failover::crash
    pub(crate) fn follower_halt(&self) -> crate::replicate::follow::Halt {
        self.follower.halt_handle()
    }

    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) -> Node {
        loop {
            if *stop.borrow() {
                break;
            }
            let wait = match self.state {
                State::Leader(_) => self.lead().await,
                State::Following => self.follow().await,
                State::Detached => self.detached().await,
            };
            self.publish();
            tokio::select! {
                _ = stop.changed() => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        self
    }

    fn publish(&self) {
        let mut s = self.shared.status.lock();
        s.leader = self.last_lease.as_ref().map(|o| o.lease.holder.clone());
        s.term = self.last_lease.as_ref().map_or(0, |o| o.lease.term);
        match &self.state {
            State::Leader(l) => {
                s.role = NodeRole::Leader;
                s.state = if l.handover.is_some() {
                    FailoverState::HandingOver
                } else if l.barrier.is_some() {
                    FailoverState::TakingOver
                } else {
                    FailoverState::Leading
                };
                s.leader = Some(l.lease.holder.clone());
                s.term = l.lease.term;
                if let Some(r) = self.shared.replicator() {
                    let r = r.status();
                    s.txid = r.txid;
                    self.shared.saw(if r.commit_seq > r.shipped_seq { r.txid.next() } else { r.txid });
                }
                s.lease_remaining_seconds = Some(l.valid_until.saturating_duration_since(Instant::now()).as_secs_f64());
            }
            State::Following => {
                s.role = NodeRole::Standby;
                let applied = self.follower.applied();
                s.state = if applied.is_some() { FailoverState::Following } else { FailoverState::ReSyncing };
                if let Some(a) = applied {
                    s.txid = a;
                }
                s.lease_remaining_seconds = None;
            }
            State::Detached => {
                s.role = NodeRole::Standby;
                s.state = FailoverState::Detached;
                s.lease_remaining_seconds = None;
            }
        }
    }

    fn record_error(&self, what: &str, e: &impl std::fmt::Display) {
        record_error(&self.shared, what, e);
    }

    // ---------------------------------------------------------------- detached

    async fn detached(&mut self) -> Duration {
        if !self.replicator_stopped().await {
            return FOLLOW_TICK;
        }
        let observed = match self.lease.read().await {
            Ok(o) => o,
            Err(e) => {
                self.record_error("reading the lease", &e);
                return self.cfg.lease_poll();
            }
        };
        self.last_lease = observed.clone();
        let node = self.cfg.node_id.as_str();
        let ours = observed.as_ref().is_some_and(|o| o.lease.holder == node && o.lease.claimable_by(node));
        let may_create = observed.is_none() && self.cfg.role == config::Role::Primary;
        if !(ours || may_create) {
            // Another node leads (or will): what this copy holds beyond the bucket is lost.
            tracing::warn!(
                leader = observed.as_ref().map(|o| o.lease.holder.clone()),
                "another node leads: re-syncing this copy from the bucket"
            );
            self.follower.reset(None);
            self.state = State::Following;
            return Duration::ZERO;
        }
        match self.acquire(observed.as_ref(), observed.as_ref().map_or(Txid::ZERO, |o| o.lease.txid)).await {
            Some((o, valid_until)) => {
                if let Err(e) = migrate(&self.db).await {
                    self.record_error("migrating the database", &e);
                }
                match self.lead_with(o, valid_until, false) {
                    Ok(()) => tracing::info!("reclaimed the lease: leading again (shipping the local backlog)"),
                    Err(e) => self.record_error("starting replication", &e),
                }
                Duration::ZERO
            }
            None => self.cfg.lease_poll(),
        }
    }

    /// Writes a lease naming this node (replacing `observed`, or creating it). Returns the new
    /// version and the validity deadline, or None if another node got there first.
    async fn acquire(&mut self, observed: Option<&Observed>, txid: Txid) -> Option<(Observed, Instant)> {
        let fresh = Lease {
            holder: self.cfg.node_id.clone(),
            instance: self.instance.clone(),
            term: observed.map_or(1, |o| o.lease.term + 1),
            seq: 0,
            ttl_ms: self.cfg.lease_ttl.as_millis() as u64,
            txid,
            released: false,
            handover_to: None,
            written_at: String::new(),
        }
        .stamped();
        let sent = Instant::now();
        let written = self.lease.acquire(observed.map(|o| o.etag.as_str()), &fresh).await;
        match written {
            Ok(Written::Stored(etag)) => {
                let o = Observed { lease: fresh, etag };
                self.last_lease = Some(o.clone());
                Some((o, sent + self.cfg.lease_ttl - self.cfg.margin()))
            }
            Ok(Written::Conflict) => {
                self.seen = None;
                None
            }
            Err(e) => {
                self.record_error("writing the lease", &e);
                None
            }
        }
    }

    /// True once no replicator of an earlier term is running (bounded wait per call).
    async fn replicator_stopped(&self) -> bool {
        let Some(r) = self.shared.replicator() else { return true };
        if !r.status().running {
            self.shared.take_replicator();
            return true;
        }
        false
    }

    /// Reads the lease, tracks how long its version stays unchanged, and takes over when the
    /// rules allow (see the module docs).
    async fn watch_lease(&mut self) {
        let observed = match self.lease.read().await {
            Ok(o) => o,
            Err(e) => {
                self.record_error("reading the lease", &e);
                return;
            }
        };
        let version = observed.as_ref().map_or_else(|| "absent".to_string(), |o| o.etag.clone());
        let unchanged_for = match &self.seen {
            Some((v, since)) if *v == version => since.elapsed(),
            _ => {
                self.seen = Some((version, Instant::now()));
                Duration::ZERO
            }
        };
        self.last_lease = observed.clone();
        let node = self.cfg.node_id.as_str();
        let take = match &observed {
            None => self.cfg.role == config::Role::Primary,
            // Names this node but another process wrote it: a previous run of this node (dead),
            // or a second node given the same id (renewing). Half a TTL without a renewal tells.
            Some(o) if !o.lease.released && o.lease.holder == node && o.lease.instance != self.instance => {
                unchanged_for >= o.lease.ttl() / 2
            }
            Some(o) => o.lease.claimable_by(node) || unchanged_for >= o.lease.ttl(),
        };
        if take {
            let why = match &observed {
                None => "no lease and this node is a primary".to_string(),
                Some(o) if o.lease.released && o.lease.claimable_by(node) => {
                    format!("{} released the lease", o.lease.holder)
                }
                Some(o) if o.lease.claimable_by(node) => "the lease names this node".to_string(),
                Some(o) => format!("{}'s lease expired (unchanged for {unchanged_for:.1?})", o.lease.holder),
            };
            self.take_over(observed, &why).await;
        }
    }
}
