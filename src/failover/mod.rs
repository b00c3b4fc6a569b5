//! Warm-standby failover through the bucket: one node (the leader) writes, the others follow.
//!
//! Every node runs the same state machine ([`controller`]); `role` only says who may *create*
//! the lease on a bucket that has none (`primary`) — a `standby` waits for a primary to start.
//! Afterwards whoever holds the lease leads: a restarted primary that finds the lease taken
//! follows the new leader.
//!
//! * **Leader**: holds the lease ([`lease`]), renews it every `ttl/3` with `If-Match`, ships
//!   the WAL (create-only L0 uploads). It accepts writes only while its lease is valid
//!   (`sent + ttl - ttl/5` on its own clock; the database's [`WriteGuard`] checks that
//!   deadline at submit *and* in the writer thread), and with `ack = "replicated"` acknowledges
//!   a write only if it was stored in S3 before that deadline. It steps down at once when a
//!   renewal finds the lease taken or an upload finds its TXID taken (fenced), and when the
//!   deadline passes without a renewal (S3 unreachable): it stops writing, abandons the
//!   shipper (no final sync), and detaches. A transient renewal error alone does not stop
//!   writes: nobody can take over before the deadline, so stopping earlier would only cost
//!   availability.
//! * **Follower** (standby): applies each new LTX file within a tick (250 ms) through
//!   SQLite's `sqlite_dbpage` ([`crate::replicate::follow`] explains why that is safe under readers), serves
//!   every read from its copy, and answers writes with 503 + `Retry-After` +
//!   `x-mysetlist-role: standby`. It takes over when the lease version stayed unchanged for its
//!   TTL (leader dead or cut off), was released (clean shutdown, `mysetlist promote`), or is
//!   absent and the node is a `primary`.
//! * **Takeover**: catch up to the newest TXID, replace the lease (`If-Match` on the version
//!   seen; a loser of the race keeps following), catch up again (an upload the old leader sent
//!   before its deadline may land late), empty the WAL into the database file, start the
//!   shipper continuing the TXID sequence ([`crate::replicate::Replicator::start_continuing`]),
//!   and write one *barrier* commit (migrations + a `failover.leader` setting, through the
//!   database's writer past the write guard: [`crate::db::Database::write_unguarded`]). Writes are
//!   accepted once the barrier's TXID is stored: that claims the next TXID, so a stale upload
//!   of the old leader can no longer land (it fails its create-only PUT and fences it), and
//!   should the old leader's upload have won the race, the barrier is fenced instead and the
//!   node ships its state as a full snapshot before accepting anything.
//! * **Detached**: a stepped-down leader (or a node that could not read the lease at start).
//!   Its database may hold commits that never reached the bucket. If the lease is still its
//!   own it reclaims it and ships the backlog; otherwise it re-syncs and follows. The diverged
//!   commits are lost (with `ack = "local"` they may have been acknowledged — Litestream's loss
//!   bound; with `ack = "replicated"` they were not, though this node's readers may have seen
//!   them while they waited for S3).
//! * **Re-sync** (a node already serving whose copy cannot simply continue: a healed leader, a
//!   follower that found a gap): the newest state is rebuilt beside the live file
//!   (`<db>.resync`) and swapped in with one transaction ([`crate::replicate::follow::Follower::resync`]),
//!   and only once it is at least as new as every TXID this node's readers may have seen (the
//!   served watermark, `Shared::saw`). Until then the node keeps serving its current copy, so
//!   a reader never sees the node's state go back in time.
//! * **Planned switch-over** (`mysetlist promote` on the standby, [`promote`]): marks the lease
//!   `handover_to = <node>`. The leader notices at its next renewal, stops accepting writes,
//!   waits until everything committed is in S3, and releases the lease with the final TXID;
//!   the standby catches up to that TXID and takes over. No acknowledged write is lost in
//!   either ack mode. A clean shutdown of the leader releases the lease the same way, so a
//!   standby takes over at once instead of after the TTL.
//!
//! A node's local database is known to equal the bucket at TXID `n` only while the sidecar
//! `<db>-standby.json` says so ([`crate::replicate::follow::Sidecar`]); a node that must follow without one
//! restores the newest state first (setting the old file aside as `<db>.diverged`).
//!
//! ## Status and metrics
//! [`Failover::status`] returns a [`FailoverStatus`]; `/metrics` reads it at scrape time
//! (`observability::sources::failover`) as `mysetlist_role{role}` (`primary` or `standby`),
//! `mysetlist_failover_is_leader` (holds the lease and accepts writes), `mysetlist_failover_txid`
//! (the leader's stored TXID, or the TXID a follower's copy holds), `mysetlist_failover_lag_seconds`
//! (followers; 0 on the leader) and `mysetlist_failover_lease_errors_total`; the leader's shipping
//! shows in the `mysetlist_replication_*` metrics. The readiness check from
//! [`Failover::readiness`] makes `/readyz` answer 200 only on the node that accepts writes.

mod boot;
pub(crate) mod controller;
mod error;
pub(crate) mod lease;
pub(crate) mod promote;
mod settings;
mod state;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

// tokio's clock, not std's: the same in production, and the failover simulation runs the
// protocol on tokio's paused clock (the database writer thread reads it too).
use tokio::time::Instant;

use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use tokio::sync::watch;

use crate::config;
use crate::db::{CommitSeq, Database, DbError, DurabilityGate, WriteGuard, WriteRefusal};
use crate::replicate::follow::Sidecar;
use crate::replicate::{self, ReplicateError, ReplicatorHandle, RestoreTarget, Txid};
use lease::Observed;

pub(crate) use boot::{Boot, Booted};
pub use boot::{boot, diverged_path};
pub(crate) use error::FailoverError;
pub use lease::{Lease, LeaseStore, Written};
pub use promote::{Promoted, promote};
pub use settings::FailoverConfig;
pub(crate) use settings::host_name;
pub use state::FailoverState;

/// Which side of the lease a node is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    Leader,
    Standby,
}

/// A point-in-time view for `/metrics`, `/readyz` and tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailoverStatus {
    pub node_id: String,
    pub role: NodeRole,
    pub state: FailoverState,
    pub accepting_writes: bool,
    /// The lease holder as last read or written.
    pub leader: Option<String>,
    pub term: u64,
    /// Leader: the newest TXID it stored. Standby: the TXID its copy holds.
    pub txid: Txid,
    /// Leader: seconds its lease stays valid without another renewal.
    pub lease_remaining_seconds: Option<f64>,
    pub last_apply_at: Option<SystemTime>,
    pub applied_files: u64,
    pub takeovers: u64,
    pub step_downs: u64,
    /// Failed failover operations since start (lease reads and renewals, takeovers, applies).
    pub errors: u64,
    pub last_error: Option<String>,
    /// The newest TXID this node's readers may have seen. It never decreases: a re-sync swaps
    /// its rebuilt copy in only once that copy reaches it.
    pub served_txid: Txid,
    /// Follower: time since it last knew its copy was the bucket's newest (None on the leader).
    pub lag: Option<Duration>,
    /// The latest moment this node would accept writes until, as it set it itself (wall clock; the
    /// lease's renewal moves it on, stepping down brings it to the moment it stopped). None before
    /// it ever led. Comparable with another node's `leading_since` on the same machine.
    pub write_deadline: Option<SystemTime>,
    /// When this node last began accepting writes (leading after boot, a takeover), wall clock.
    pub leading_since: Option<SystemTime>,
}

/// What every replicator this node ran uploaded, since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicationTotals {
    pub uploads: u64,
    pub upload_errors: u64,
    pub last_upload_at: Option<SystemTime>,
}

impl ReplicationTotals {
    fn add(&mut self, s: &replicate::ReplicationStatus) {
        self.uploads += s.uploads;
        self.upload_errors += s.upload_errors;
        self.last_upload_at = self.last_upload_at.max(s.last_upload_at);
    }
}

/// State shared by the controller task, the write guard, the durability gate and readiness.
pub(crate) struct Shared {
    epoch: Instant,
    /// Writes are accepted until this instant (nanoseconds after `epoch`; 0 = refuse).
    accepting_until: AtomicU64,
    /// The lease is valid until this instant (same encoding): acknowledgements need it.
    valid_until: AtomicU64,
    /// See [`FailoverStatus::served_txid`].
    served_txid: AtomicU64,
    /// When a follower last knew its copy was the bucket's newest (same encoding; 0 = never).
    current_at: AtomicU64,
    pub(crate) replicator: RwLock<Option<Arc<ReplicatorHandle>>>,
    /// Uploads of the replicators this node ran before the current one, so that the totals
    /// `/metrics` reads stay monotonic across takeovers and step-downs.
    retired: Mutex<ReplicationTotals>,
    pub(crate) status: Mutex<FailoverStatus>,
    pub(crate) on_change: RwLock<Option<Arc<dyn Fn() + Send + Sync>>>,
}

impl Shared {
    fn new(node_id: &str) -> Shared {
        Shared {
            epoch: Instant::now(),
            accepting_until: AtomicU64::new(0),
            valid_until: AtomicU64::new(0),
            served_txid: AtomicU64::new(0),
            current_at: AtomicU64::new(0),
            replicator: RwLock::new(None),
            retired: Mutex::new(ReplicationTotals::default()),
            status: Mutex::new(FailoverStatus {
                node_id: node_id.to_string(),
                role: NodeRole::Standby,
                state: FailoverState::Starting,
                accepting_writes: false,
                leader: None,
                term: 0,
                txid: Txid::ZERO,
                lease_remaining_seconds: None,
                last_apply_at: None,
                applied_files: 0,
                takeovers: 0,
                step_downs: 0,
                errors: 0,
                last_error: None,
                served_txid: Txid::ZERO,
                lag: None,
                write_deadline: None,
                leading_since: None,
            }),
            on_change: RwLock::new(None),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos().max(1) as u64
    }

    pub(crate) fn accept_until(&self, at: Option<Instant>) {
        let was_accepting = self.accepting();
        self.accepting_until.store(at.map_or(0, |a| self.nanos(a)), Ordering::SeqCst);
        // The same deadlines on the wall clock, for the status: what tests and operators compare.
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut s = self.status.lock();
        match at {
            Some(at) => {
                s.write_deadline = Some(wall + at.saturating_duration_since(now));
                if !was_accepting && at > now {
                    s.leading_since = Some(wall);
                }
            }
            // Refusing from now on: the deadline is now, unless it had passed already.
            None => s.write_deadline = s.write_deadline.map(|d| d.min(wall)),
        }
    }

    pub(crate) fn valid_until(&self, at: Option<Instant>) {
        self.valid_until.store(at.map_or(0, |a| self.nanos(a)), Ordering::SeqCst);
    }

    fn before(&self, deadline: &AtomicU64) -> bool {
        let d = deadline.load(Ordering::SeqCst);
        d != 0 && self.nanos(Instant::now()) < d
    }

    pub(crate) fn accepting(&self) -> bool {
        self.before(&self.accepting_until)
    }

    pub(crate) fn lease_valid(&self) -> bool {
        self.before(&self.valid_until)
    }

    /// Readers may now see the state at `txid` (or newer): raises the served watermark.
    pub(crate) fn saw(&self, txid: Txid) {
        self.served_txid.fetch_max(txid.get(), Ordering::SeqCst);
    }

    pub(crate) fn served(&self) -> Txid {
        Txid(self.served_txid.load(Ordering::SeqCst))
    }

    /// A follower found nothing newer in the bucket than its copy.
    pub(crate) fn mark_current(&self) {
        self.current_at.store(self.nanos(Instant::now()), Ordering::SeqCst);
    }

    /// Time since [`Shared::mark_current`] (since start when it never was).
    pub(crate) fn lag(&self) -> Duration {
        let at = self.current_at.load(Ordering::SeqCst);
        Duration::from_nanos(self.nanos(Instant::now()).saturating_sub(at))
    }

    pub(crate) fn replicator(&self) -> Option<Arc<ReplicatorHandle>> {
        self.replicator.read().clone()
    }

    /// Removes the current replicator, adding what it uploaded to the retired totals.
    pub(crate) fn take_replicator(&self) -> Option<Arc<ReplicatorHandle>> {
        let taken = self.replicator.write().take();
        if let Some(r) = &taken {
            self.retired.lock().add(&r.status());
        }
        taken
    }

    /// Makes `handle` the current replicator (retiring one still there).
    pub(crate) fn install_replicator(&self, handle: Arc<ReplicatorHandle>) {
        self.take_replicator();
        *self.replicator.write() = Some(handle);
    }

    fn replication_totals(&self) -> ReplicationTotals {
        let mut totals = *self.retired.lock();
        if let Some(r) = self.replicator() {
            totals.add(&r.status());
        }
        totals
    }

    pub(crate) fn data_changed(&self) {
        let hook = self.on_change.read().clone();
        if let Some(hook) = hook {
            hook();
        }
    }
}

impl WriteGuard for Shared {
    fn check(&self) -> Result<(), WriteRefusal> {
        if self.accepting() { Ok(()) } else { Err(WriteRefusal::NotLeader) }
    }
}

/// `ack = "replicated"` on a leader: stored in S3 *and* the lease still valid when it was.
struct LeaderAck {
    shared: Arc<Shared>,
    timeout: Duration,
}

impl DurabilityGate for LeaderAck {
    fn wait(
        &self,
        seq: CommitSeq,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), DbError>> + Send + '_>> {
        Box::pin(async move {
            let Some(handle) = self.shared.replicator() else {
                return Err(DbError::ReadOnly(WriteRefusal::NotLeader));
            };
            // A node that stopped leading meanwhile refuses like any non-leader (503 + role), so a
            // client retries on the leader instead of here.
            let refused = |why: String| {
                if self.shared.accepting() {
                    DbError::NotDurable(why)
                } else {
                    DbError::ReadOnly(WriteRefusal::NotLeader)
                }
            };
            handle.wait_durable(seq, self.timeout).await.map_err(|e| {
                tracing::warn!(error = %e, "write committed locally but not acknowledged: not yet in S3");
                refused(e.to_string())
            })?;
            if !self.shared.lease_valid() {
                return Err(refused("the lease expired before the write was stored".into()));
            }
            Ok(())
        })
    }
}

/// The running failover machinery of one node.
pub struct Failover {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<controller::Node>>>,
    follower_halt: crate::replicate::follow::Halt,
}

impl Failover {
    /// Installs the write guard (and, with `ack = "replicated"`, the durability gate) on `db`,
    /// starts replication when this node leads, and runs the controller task.
    pub fn start(cfg: FailoverConfig, booted: Booted, db: Database) -> Result<Arc<Failover>, FailoverError> {
        let shared = Arc::new(Shared::new(&cfg.node_id));
        db.set_write_guard(Some(shared.clone() as Arc<dyn WriteGuard>));
        if let Some(timeout) = cfg.replicated_ack_timeout {
            db.set_durability_gate(Some(Arc::new(LeaderAck { shared: shared.clone(), timeout })));
        }
        let node = controller::Node::new(cfg, booted, db, shared.clone())?;
        let follower_halt = node.follower_halt();
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(node.run(stop_rx));
        Ok(Arc::new(Failover { shared, stop, task: Mutex::new(Some(task)), follower_halt }))
    }

    pub fn status(&self) -> FailoverStatus {
        let mut s = self.shared.status.lock().clone();
        s.accepting_writes = self.shared.accepting();
        s.served_txid = self.shared.served();
        s.lag = (s.role == NodeRole::Standby).then(|| self.shared.lag());
        s
    }

    /// True while this node accepts writes.
    pub fn accepting_writes(&self) -> bool {
        self.shared.accepting()
    }

    /// The current replicator (leader only), for `/metrics`.
    pub fn replicator(&self) -> Option<Arc<ReplicatorHandle>> {
        self.shared.replicator()
    }

    /// Uploads and upload errors of every replicator this node ran since start (monotonic across
    /// takeovers and step-downs), for `/metrics`.
    pub fn replication_totals(&self) -> ReplicationTotals {
        self.shared.replication_totals()
    }

    /// Called after every apply on a follower (the domain drops its caches).
    pub fn on_data_changed(&self, hook: Arc<dyn Fn() + Send + Sync>) {
        *self.shared.on_change.write() = Some(hook);
    }

    /// `/readyz`: ready only on the node that accepts writes (and, there, while replication is
    /// healthy: running, and behind by no more than `lag_bound`, see `health::thresholds`).
    pub fn readiness(self: &Arc<Self>, lag_bound: Duration) -> crate::health::ReadinessCheck {
        use crate::health::{Level, NotReady, thresholds};
        let me = Arc::downgrade(self);
        Arc::new(move || {
            let Some(me) = me.upgrade() else { return Err(NotReady::FailoverStopped) };
            let s = me.status();
            if !s.accepting_writes {
                return Err(NotReady::NotAcceptingWrites {
                    role: WriteRefusal::NotLeader.role(),
                    state: s.state.as_str(),
                    leader: s.leader,
                    txid: s.txid.to_string(),
                    lag: s.lag,
                });
            }
            if let Some(r) = me.replicator() {
                let rs = r.status();
                if !rs.running {
                    return Err(NotReady::ReplicationStopped);
                }
                if thresholds::replication_lag(rs.lag_seconds, lag_bound) != Level::Ok {
                    return Err(NotReady::ReplicationBehind { seconds: rs.lag_seconds });
                }
            }
            Ok(())
        })
    }

    /// Stops the node as a crash would: no final upload, no release of the lease (others wait
    /// for it to expire), the local WAL left as it is. For the failover simulation, which runs
    /// several nodes in one process and must "kill" one without ending the process.
    pub async fn crash(&self, db: &Database) {
        let task = self.task.lock().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        // The aborted task's apply may still run on a blocking thread: a killed process's could
        // not, and it must not land after this node restarts.
        let halt = self.follower_halt.clone();
        let _ = tokio::task::spawn_blocking(move || halt.halt()).await;
        self.shared.accept_until(None);
        if let Some(r) = self.shared.take_replicator() {
            r.abandon();
        }
        db.close().await;
    }

    /// Stops the node. A leader stops accepting writes, ships everything committed, releases
    /// the lease with the final TXID (so a standby takes over at once) and closes the database;
    /// if S3 cannot take the last commits in time it keeps the lease (which then expires) and
    /// leaves the rest in the local WAL. A follower just closes its database.
    pub async fn shutdown(&self, db: &Database) {
        let _ = self.stop.send(true);
        let task = self.task.lock().take();
        let node = match task {
            Some(t) => t.await.ok(),
            None => None,
        };
        match node {
            Some(node) => node.shutdown(db).await,
            None => {
                self.shared.accept_until(None);
                db.close().await;
            }
        }
    }
}
