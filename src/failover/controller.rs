//! The per-node state machine (see the module docs of [`super`]): one task, one state at a time,
//! every S3 operation bounded, every step short, so a stop request is served within a step.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use tokio::sync::watch;

use super::lease::{Lease, LeaseStore, Observed, Written};
use super::standby::{Applier, Sidecar, follow_plan};
use super::{Boot, Booted, FailoverConfig, NodeRole, Shared, with_suffix};
use crate::config;
use crate::db::{self, ConnectionOptions, Database};
use crate::replicate::s3::{FileInfo, Store};
use crate::replicate::{self, ReplicateError, Replicator, RestoreTarget};

/// A follower looks for new LTX files this often.
const FOLLOW_TICK: Duration = Duration::from_millis(250);
/// How often a follower reads the lease while a hand-over to it is pending.
const HANDOVER_POLL: Duration = Duration::from_millis(100);
/// ... and lists the whole bucket every this many ticks (compactions, gaps), or sooner when the
/// lease says the leader is ahead.
const FULL_LIST_EVERY: u32 = 20;
/// Upper bound on L0 files fetched one by one in a tick before listing instead.
const FAST_PATH_FILES: usize = 32;
/// Time a leader's stop or hand-over may spend waiting for its last commits to reach S3.
const FLUSH_BUDGET: Duration = Duration::from_secs(15);

enum State {
    Leader(Box<Leading>),
    Following { applied: Option<u64> },
    Detached,
}

struct Leading {
    /// What this node last wrote to the lease object, and its version.
    lease: Lease,
    etag: String,
    valid_until: Instant,
    next_renew: Instant,
    /// Accept writes once the shipper stored this TXID (the barrier of a takeover).
    barrier: Option<u64>,
    /// `mysetlist promote` asked to hand over to this node (None = to anyone, on shutdown).
    handover: Option<Option<String>>,
}

pub struct Node {
    cfg: FailoverConfig,
    instance: String,
    shared: Arc<Shared>,
    db: Database,
    lease: LeaseStore,
    ltx: Store,
    applier: Option<Arc<Mutex<Applier>>>,
    state: State,
    /// The lease version a follower watches, and when it first saw it.
    seen: Option<(String, Instant)>,
    last_lease: Option<Observed>,
    next_lease_read: Instant,
    ticks: u32,
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

fn is_not_found(e: &ReplicateError) -> bool {
    matches!(e, ReplicateError::S3 { source: object_store::Error::NotFound { .. }, .. })
}

impl Node {
    pub(crate) fn new(cfg: FailoverConfig, booted: Booted, db: Database, shared: Arc<Shared>) -> anyhow::Result<Node> {
        let ltx = Store::new(&cfg.replication)?;
        let Booted { boot, instance, lease } = booted;
        let mut node = Node {
            cfg,
            instance,
            shared,
            db,
            lease,
            ltx,
            applier: None,
            state: State::Detached,
            seen: None,
            last_lease: None,
            next_lease_read: Instant::now(),
            ticks: 0,
        };
        match boot {
            Boot::Leader { observed, valid_until } => {
                node.last_lease = Some(observed.clone());
                node.lead_with(observed, valid_until, false)?;
            }
            Boot::Follower { applied } => node.state = State::Following { applied: Some(applied) },
            Boot::Detached => node.state = State::Detached,
        }
        node.publish();
        Ok(node)
    }

    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) -> Node {
        loop {
            if *stop.borrow() {
                break;
            }
            let wait = match self.state {
                State::Leader(_) => self.lead().await,
                State::Following { .. } => self.follow().await,
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
                    "handing over"
                } else if l.barrier.is_some() {
                    "taking over"
                } else {
                    "leading"
                };
                s.leader = Some(l.lease.holder.clone());
                s.term = l.lease.term;
                if let Some(r) = self.shared.replicator() {
                    let r = r.status();
                    s.txid = r.txid;
                    self.shared.saw(r.txid + u64::from(r.commit_seq > r.shipped_seq));
                }
                s.lease_remaining_seconds = Some(l.valid_until.saturating_duration_since(Instant::now()).as_secs_f64());
            }
            State::Following { applied } => {
                s.role = NodeRole::Standby;
                s.state = if applied.is_some() { "following" } else { "re-syncing" };
                if let Some(a) = applied {
                    s.txid = *a;
                }
                s.lease_remaining_seconds = None;
            }
            State::Detached => {
                s.role = NodeRole::Standby;
                s.state = "detached";
                s.lease_remaining_seconds = None;
            }
        }
    }

    fn record_error(&self, what: &str, e: &impl std::fmt::Display) {
        record_error(&self.shared, what, e);
    }

    // ---------------------------------------------------------------- leader

    /// Becomes the leader holding `observed` (valid until `valid_until`). `continuing`: the
    /// local database is the bucket's newest state (a promoted follower, WAL emptied); else it
    /// is authoritative and the shipper resumes from its WAL as after a restart.
    fn lead_with(&mut self, observed: Observed, valid_until: Instant, continuing: bool) -> anyhow::Result<()> {
        let txid = observed.lease.txid;
        let handle = if continuing {
            match Replicator::start_continuing(self.cfg.replication.clone(), &self.cfg.db_path, self.db.commits(), txid)
            {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot continue the TXID sequence in place; shipping a full snapshot next");
                    Replicator::start(self.cfg.replication.clone(), &self.cfg.db_path, self.db.commits())?
                }
            }
        } else {
            Replicator::start(self.cfg.replication.clone(), &self.cfg.db_path, self.db.commits())?
        };
        *self.shared.replicator.write() = Some(Arc::new(handle));
        self.shared.valid_until(Some(valid_until));
        let barrier = continuing.then_some(txid + 1);
        if barrier.is_none() {
            self.shared.accept_until(Some(valid_until));
        }
        let sent = valid_until - (self.cfg.lease_ttl - self.cfg.margin());
        self.state = State::Leader(Box::new(Leading {
            lease: observed.lease,
            etag: observed.etag,
            valid_until,
            next_renew: sent + self.cfg.renew_every(),
            barrier,
            handover: None,
        }));
        Ok(())
    }

    fn leading(&mut self) -> Option<&mut Leading> {
        match &mut self.state {
            State::Leader(l) => Some(l),
            _ => None,
        }
    }

    async fn lead(&mut self) -> Duration {
        let Some(l) = self.leading() else { return Duration::ZERO };
        let (valid_until, barrier, term) = (l.valid_until, l.barrier, l.lease.term);
        let repl = self.shared.replicator().map(|r| r.status());
        let stop_reason = match &repl {
            None => Some("replication is not running".to_string()),
            Some(r) if r.fenced => Some(format!(
                "another node stored a TXID this node was about to write ({})",
                r.last_error.clone().unwrap_or_default()
            )),
            Some(r) if !r.running => Some("the replication thread stopped".to_string()),
            _ if Instant::now() >= valid_until => Some("the lease could not be renewed in time".to_string()),
            _ => None,
        };
        let Some(repl) = repl.filter(|_| stop_reason.is_none()) else {
            self.step_down(stop_reason.as_deref().unwrap_or("replication is not running"));
            return Duration::ZERO;
        };
        if let Some(b) = barrier
            && repl.txid >= b
        {
            let l = self.leading().expect("leading");
            l.barrier = None;
            let (handing_over, valid_until) = (l.handover.is_some(), l.valid_until);
            if !handing_over {
                self.shared.accept_until(Some(valid_until));
            }
            tracing::info!(
                term,
                txid = format!("{:016x}", repl.txid),
                "took over: the barrier commit is stored; accepting writes"
            );
        }
        if self.leading().is_some_and(|l| Instant::now() >= l.next_renew) {
            self.renew().await;
        }
        if self.leading().is_some_and(|l| l.handover.is_some()) {
            self.hand_over().await;
        }
        match self.leading() {
            Some(l) if l.barrier.is_some() => Duration::from_millis(50),
            Some(l) => l.next_renew.saturating_duration_since(Instant::now()).min(FOLLOW_TICK),
            None => Duration::ZERO,
        }
    }

    /// Writes the next version of the lease. On a conflict, finds out why: our own renewal whose
    /// answer was lost, a hand-over request, or a lost lease.
    async fn renew(&mut self) {
        let txid = self.shared.replicator().map(|r| r.status().txid);
        let Some(l) = self.leading() else { return };
        let attempt = Lease {
            seq: l.lease.seq + 1,
            txid: txid.unwrap_or(l.lease.txid),
            handover_to: l.handover.clone().flatten(),
            ..l.lease.clone()
        }
        .stamped();
        let (etag, held) = (l.etag.clone(), l.lease.clone());
        let retry = Instant::now() + self.cfg.renew_every() / 4;
        let sent = Instant::now();
        let result = self.lease.replace(&etag, &attempt).await;
        let conflict = match result {
            Ok(Written::Stored(etag)) => {
                self.renewed(attempt, etag, sent);
                return;
            }
            Ok(Written::Conflict) => self.lease.read().await,
            Err(e) => {
                record_error(&self.shared, "renewing the lease failed (retrying until it expires)", &e);
                if let Some(l) = self.leading() {
                    l.next_renew = retry;
                }
                return;
            }
        };
        match conflict {
            Ok(Some(o)) if o.lease == attempt => self.renewed(attempt, o.etag, sent),
            Ok(Some(o))
                if o.lease.holder == held.holder
                    && o.lease.instance == held.instance
                    && o.lease.term == held.term
                    && !o.lease.released
                    && o.lease.handover_to.is_some() =>
            {
                tracing::info!(to = o.lease.handover_to, "hand-over requested (mysetlist promote)");
                if let Some(l) = self.leading() {
                    l.handover = Some(o.lease.handover_to.clone());
                    l.lease = o.lease.clone();
                    l.etag = o.etag.clone();
                    l.next_renew = Instant::now();
                }
                self.last_lease = Some(o);
            }
            Ok(o) => {
                let holder = o.as_ref().map_or("nobody (deleted)".to_string(), |o| o.lease.holder.clone());
                self.last_lease = o;
                self.step_down(&format!("the lease was taken over by {holder}"));
            }
            Err(e) => {
                record_error(&self.shared, "reading the lease after a failed renewal", &e);
                if let Some(l) = self.leading() {
                    l.next_renew = retry;
                }
            }
        }
    }

    fn renewed(&mut self, attempt: Lease, etag: String, sent: Instant) {
        let State::Leader(l) = &mut self.state else { return };
        l.valid_until = sent + self.cfg.lease_ttl - self.cfg.margin();
        l.next_renew = sent + self.cfg.renew_every();
        l.lease = attempt;
        l.etag = etag;
        self.shared.valid_until(Some(l.valid_until));
        if l.barrier.is_none() && l.handover.is_none() {
            self.shared.accept_until(Some(l.valid_until));
        }
        self.last_lease = Some(Observed { lease: l.lease.clone(), etag: l.etag.clone() });
    }

    /// Flushes every committed write to S3 and returns the TXID that holds them all, with
    /// writes refused from now on. None if S3 did not take them within the budget.
    async fn flush_to_s3(&self, until: Instant) -> Option<u64> {
        self.shared.accept_until(None);
        let seq = match self.db.flush().await {
            Ok(seq) => seq,
            Err(e) => {
                self.record_error("draining the writer", &e);
                return None;
            }
        };
        let handle = self.shared.replicator()?;
        let budget = until.saturating_duration_since(Instant::now());
        match handle.wait_durable(seq, budget).await {
            Ok(()) => Some(handle.status().txid),
            Err(e) => {
                self.record_error("shipping the last commits", &e);
                None
            }
        }
    }

    /// Planned hand-over: stop writes, ship everything, release the lease with the final TXID,
    /// and follow. Aborted (writes resume) if S3 does not take the last commits in time.
    async fn hand_over(&mut self) {
        let (until, to) = match &self.state {
            State::Leader(l) => {
                (l.valid_until.min(Instant::now() + self.cfg.lease_ttl / 2), l.handover.clone().flatten())
            }
            _ => return,
        };
        let Some(txid) = self.flush_to_s3(until).await else {
            tracing::warn!("hand-over aborted: the last commits did not reach S3 in time; still leading");
            if let State::Leader(l) = &mut self.state {
                l.handover = None;
                l.next_renew = Instant::now();
                if l.barrier.is_none() {
                    self.shared.accept_until(Some(l.valid_until));
                }
            }
            return;
        };
        match self.release(txid, to.clone()).await {
            Ok(()) => {
                tracing::info!(to, txid = format!("{txid:016x}"), "handed over: released the lease; following");
                self.abandon_replicator();
                self.shared.valid_until(None);
                if let Err(e) = Sidecar::write(&self.cfg.db_path, &self.cfg.replication.url, txid) {
                    self.record_error("writing the standby sidecar", &e);
                    self.state = State::Following { applied: None };
                } else {
                    self.state = State::Following { applied: Some(txid) };
                }
                self.seen = None;
                self.next_lease_read = Instant::now();
            }
            Err(reason) => {
                // Keep refusing writes; the next renewal tells whether the lease is still ours.
                self.record_error("releasing the lease", &reason);
                if let State::Leader(l) = &mut self.state {
                    l.next_renew = Instant::now();
                }
            }
        }
    }

    /// Writes the released lease (`If-Match` on the version held).
    async fn release(&mut self, txid: u64, to: Option<String>) -> Result<(), String> {
        let State::Leader(l) = &mut self.state else { return Err("not leading".into()) };
        let released =
            Lease { seq: l.lease.seq + 1, txid, released: true, handover_to: to, ..l.lease.clone() }.stamped();
        match self.lease.replace(&l.etag, &released).await {
            Ok(Written::Stored(etag)) => {
                self.last_lease = Some(Observed { lease: released, etag });
                Ok(())
            }
            Ok(Written::Conflict) => Err("the lease changed (taken over?)".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// A leader's readers see every local commit, shipped or not: commits beyond the shipped
    /// TXID land in the bucket as the next TXID at the earliest (this node's, or the next
    /// leader's barrier), so that is what a later re-sync must reach.
    fn note_served_by_leader(&self) {
        if let Some(r) = self.shared.replicator() {
            let r = r.status();
            self.shared.saw(r.txid + u64::from(r.commit_seq > r.shipped_seq));
        }
    }

    fn abandon_replicator(&self) {
        if let Some(r) = self.shared.replicator.write().take() {
            r.abandon();
        }
    }

    /// Stops leading at once: no more writes, no more uploads (not even a final sync).
    fn step_down(&mut self, reason: &str) {
        self.shared.accept_until(None);
        self.shared.valid_until(None);
        self.note_served_by_leader();
        self.abandon_replicator();
        tracing::warn!(reason, "stepping down: this node no longer accepts writes");
        {
            let mut s = self.shared.status.lock();
            s.step_downs += 1;
            s.last_error = Some(format!("stepped down: {reason}"));
        }
        self.state = State::Detached;
        self.next_lease_read = Instant::now();
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
            self.state = State::Following { applied: None };
            return Duration::ZERO;
        }
        match self.acquire(observed.as_ref(), observed.as_ref().map_or(0, |o| o.lease.txid)).await {
            Some((o, valid_until)) => {
                if let Err(e) = migrate(&self.cfg).await {
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
    async fn acquire(&mut self, observed: Option<&Observed>, txid: u64) -> Option<(Observed, Instant)> {
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
            *self.shared.replicator.write() = None;
            return true;
        }
        false
    }

    // ---------------------------------------------------------------- follower

    fn applier(&mut self) -> Result<Arc<Mutex<Applier>>, ReplicateError> {
        if let Some(a) = &self.applier {
            return Ok(a.clone());
        }
        let a = Arc::new(Mutex::new(Applier::open(&self.cfg.db_path)?));
        self.applier = Some(a.clone());
        Ok(a)
    }

    async fn follow(&mut self) -> Duration {
        self.ticks = self.ticks.wrapping_add(1);
        if !self.replicator_stopped().await {
            // A step-down or hand-over just happened: the old shipper must be gone first.
            return FOLLOW_TICK;
        }
        let State::Following { applied } = self.state else { return Duration::ZERO };
        let result = match applied {
            None => self.resync().await,
            Some(a) => self.catch_up(a, false).await.map(Some),
        };
        let applied = match result {
            Ok(a) => a,
            Err(e) => {
                self.record_error("following the bucket", &e);
                if matches!(e, ReplicateError::Plan(_)) { None } else { applied }
            }
        };
        self.state = State::Following { applied };
        if Instant::now() >= self.next_lease_read {
            self.watch_lease().await;
            // A hand-over to this node is under way (`mysetlist promote`): writes stop on the leader
            // as soon as it sees the request, so notice its release at once, not a poll later.
            let handover_to_me = self.last_lease.as_ref().is_some_and(|o| {
                !o.lease.released && o.lease.handover_to.as_deref() == Some(self.cfg.node_id.as_str())
            });
            let poll = if handover_to_me { HANDOVER_POLL } else { self.cfg.lease_poll() };
            self.next_lease_read = Instant::now() + poll;
            if handover_to_me {
                return HANDOVER_POLL;
            }
        }
        FOLLOW_TICK
    }

    /// Downloads and applies `files` in order, one transaction each; returns the TXID reached.
    async fn apply_files(&mut self, files: &[FileInfo], mut applied: u64) -> Result<u64, ReplicateError> {
        for f in files {
            let data = self.ltx.get_all(&f.key, f.size, |_| {}).await?;
            applied = self.apply_one(&f.key, data).await?;
        }
        Ok(applied)
    }

    async fn apply_one(&mut self, key: &str, data: Vec<u8>) -> Result<u64, ReplicateError> {
        let applier = self.applier()?;
        let key_owned = key.to_string();
        let done = tokio::task::spawn_blocking(move || applier.lock().apply(&key_owned, &data))
            .await
            .map_err(|e| ReplicateError::Plan(format!("the apply worker failed: {e}")))??;
        let txid = done.header.max_txid;
        Sidecar::write(&self.cfg.db_path, &self.cfg.replication.url, txid)?;
        self.shared.saw(txid);
        {
            let mut s = self.shared.status.lock();
            s.txid = txid;
            s.applied_files += 1;
            s.last_apply_at = Some(SystemTime::now());
        }
        self.shared.data_changed();
        tracing::debug!(key, pages = done.pages, txid = format!("{txid:016x}"), "applied");
        Ok(txid)
    }

    /// Starts the copy over from the bucket's newest state without ever showing readers an older
    /// one: the copy is rebuilt beside the live file (`<db>.resync`, restored like `mysetlist
    /// restore` does, integrity checked) and swapped in with one transaction
    /// ([`Applier::replace_with`]), and only once it reaches every TXID this node's readers may
    /// have seen. Until then (a new leader has not written its barrier yet) the node keeps serving
    /// its current copy and Ok(None) says "not yet". Applying the snapshot and the later files
    /// in place, as this once did, showed readers the snapshot's older state for seconds.
    async fn resync(&mut self) -> Result<Option<u64>, ReplicateError> {
        let at_least = self.shared.served();
        let files = self.ltx.list_all().await?;
        let plan = replicate::plan::calc_restore_plan(&files, RestoreTarget::Latest)?;
        let newest = plan.last().map_or(0, |f| f.max_txid);
        if newest < at_least {
            if self.ticks.is_multiple_of(FULL_LIST_EVERY) {
                tracing::info!(
                    bucket = format!("{newest:016x}"),
                    served = format!("{at_least:016x}"),
                    "re-sync waits: the bucket is older than what this node has served"
                );
            }
            return Ok(None);
        }
        let beside = with_suffix(&self.cfg.db_path, ".resync");
        replicate::restore::remove_db_files(&beside);
        let rebuilt = self.rebuild_and_swap(&beside).await;
        replicate::restore::remove_db_files(&beside);
        let (txid, pages) = rebuilt?;
        Sidecar::write(&self.cfg.db_path, &self.cfg.replication.url, txid)?;
        self.shared.saw(txid);
        {
            let mut s = self.shared.status.lock();
            s.txid = txid;
            s.last_apply_at = Some(SystemTime::now());
        }
        self.shared.data_changed();
        tracing::info!(txid = format!("{txid:016x}"), pages, "re-synced from the bucket (swapped in whole); following");
        Ok(Some(txid))
    }

    async fn rebuild_and_swap(&mut self, beside: &std::path::Path) -> Result<(u64, u32), ReplicateError> {
        // On a blocking thread of its own (like the verify job): the restore's download stream
        // is not provably `Send` for the controller's spawned task.
        let (opts, out, runtime) =
            (self.cfg.replication.clone(), beside.to_path_buf(), tokio::runtime::Handle::current());
        let report = tokio::task::spawn_blocking(move || {
            runtime.block_on(replicate::restore(&opts, &out, RestoreTarget::Latest, true, |_| {}))
        })
        .await
        .map_err(|e| ReplicateError::Plan(format!("the rebuild worker failed: {e}")))??;
        let txid = report.txid.ok_or_else(|| {
            ReplicateError::Plan(
                "the bucket holds only the Litestream v0.3 layout, which a standby cannot follow".into(),
            )
        })?;
        let at_least = self.shared.served();
        if txid < at_least {
            return Err(ReplicateError::Plan(format!(
                "the rebuilt copy ends at TXID {txid:016x}, older than {at_least:016x} already served"
            )));
        }
        let applier = self.applier()?;
        let source = beside.to_path_buf();
        let pages = tokio::task::spawn_blocking(move || applier.lock().replace_with(&source))
            .await
            .map_err(|e| ReplicateError::Plan(format!("the swap worker failed: {e}")))??;
        Ok((txid, pages))
    }

    /// Applies what the bucket has beyond `applied`: the next L0 files by name (one GET each),
    /// and a full listing now and then or when `full` (compactions, gaps, a leader ahead).
    async fn catch_up(&mut self, mut applied: u64, full: bool) -> Result<u64, ReplicateError> {
        let mut fetched = 0;
        while !full && fetched < FAST_PATH_FILES {
            let key = self.ltx.ltx_key(0, applied + 1, applied + 1);
            match self.ltx.get(&key).await {
                Ok(data) => {
                    applied = self.apply_one(&key, data.to_vec()).await?;
                    fetched += 1;
                }
                Err(e) if is_not_found(&e) => break,
                Err(e) => return Err(e),
            }
        }
        let leader_ahead = self.last_lease.as_ref().is_some_and(|o| o.lease.txid > applied);
        if full
            || fetched == FAST_PATH_FILES
            || (fetched == 0 && (leader_ahead || self.ticks.is_multiple_of(FULL_LIST_EVERY)))
        {
            let files = self.ltx.list_all().await?;
            let plan = follow_plan(&files, applied)?;
            applied = self.apply_files(&plan, applied).await?;
        }
        if fetched < FAST_PATH_FILES && self.last_lease.as_ref().is_none_or(|o| o.lease.txid <= applied) {
            // Nothing newer by name, and the lease names nothing newer: the copy is current.
            self.shared.mark_current();
        }
        Ok(applied)
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

    /// Catch up, take the lease, catch up again, and lead with the TXID sequence continued.
    async fn take_over(&mut self, observed: Option<Observed>, why: &str) {
        let State::Following { applied: Some(applied) } = self.state else { return };
        let applied = match self.catch_up(applied, true).await {
            Ok(a) => a,
            Err(e) => {
                self.record_error("catching up before taking over", &e);
                return;
            }
        };
        self.state = State::Following { applied: Some(applied) };
        if let Some(o) = &observed
            && applied < o.lease.txid
        {
            tracing::warn!(
                applied = format!("{applied:016x}"),
                lease = format!("{:016x}", o.lease.txid),
                "the lease names a newer TXID than the bucket shows; waiting"
            );
            return;
        }
        tracing::info!(reason = why, txid = format!("{applied:016x}"), "taking over the lease");
        let Some((mut held, valid_until)) = self.acquire(observed.as_ref(), applied).await else { return };
        // An upload the old leader sent before its deadline may have landed since.
        let applied = match self.catch_up(applied, true).await {
            Ok(a) => a,
            Err(e) => {
                // Still the holder: the next tick retries the takeover from here.
                self.state = State::Following { applied: Some(applied) };
                self.record_error("catching up after taking the lease", &e);
                return;
            }
        };
        self.state = State::Following { applied: Some(applied) };
        held.lease.txid = applied;
        // From here on the local database stops being a copy of the bucket.
        if let Err(e) = Sidecar::remove(&self.cfg.db_path) {
            self.record_error("removing the standby sidecar", &e);
            return;
        }
        let emptied = match self.applier() {
            Ok(a) => tokio::task::spawn_blocking(move || a.lock().checkpoint_truncate(Duration::from_secs(3)))
                .await
                .map_err(|e| ReplicateError::Plan(e.to_string()))
                .and_then(|r| r),
            Err(e) => Err(e),
        };
        if let Err(e) = emptied {
            self.record_error("emptying the WAL before leading", &e);
            let _ = Sidecar::write(&self.cfg.db_path, &self.cfg.replication.url, applied);
            return;
        }
        if let Err(e) = self.lead_with(held, valid_until, true) {
            self.record_error("starting replication after taking the lease", &e);
            self.state = State::Following { applied: None };
            return;
        }
        if let Err(e) = barrier(&self.cfg, applied).await {
            self.record_error("writing the barrier commit", &e);
            self.step_down("the barrier commit failed");
            return;
        }
        // The barrier was written beside the writer thread; an empty commit through it wakes a
        // shipper that ships on commit (ack = "replicated") instead of at its next tick.
        let _ = self.db.flush().await;
        self.shared.status.lock().takeovers += 1;
    }

    // ---------------------------------------------------------------- stop

    /// See [`super::Failover::shutdown`].
    pub(crate) async fn shutdown(mut self, db: &Database) {
        if let State::Leader(_) = &self.state {
            let until = Instant::now() + FLUSH_BUDGET;
            match self.flush_to_s3(until).await {
                Some(txid) => match self.release(txid, None).await {
                    Ok(()) => {
                        self.abandon_replicator();
                        match Sidecar::write(&self.cfg.db_path, &self.cfg.replication.url, txid) {
                            Ok(()) => tracing::info!(txid = format!("{txid:016x}"), "released the lease"),
                            Err(e) => self.record_error("writing the standby sidecar", &e),
                        }
                    }
                    Err(e) => {
                        self.record_error("releasing the lease at shutdown (it expires instead)", &e);
                        self.abandon_replicator();
                    }
                },
                None => {
                    // Keep the lease (it expires); leave what did not ship in the local WAL.
                    tracing::warn!("stopping with commits not yet in S3; the lease expires in its TTL");
                    self.abandon_replicator();
                }
            }
        }
        self.shared.accept_until(None);
        self.shared.valid_until(None);
        if let Some(r) = self.shared.replicator.write().take() {
            r.abandon();
        }
        self.applier = None;
        db.close().await;
    }
}

/// Brings the schema up to this binary's migrations (a follower never migrates).
async fn migrate(cfg: &FailoverConfig) -> Result<(), db::DbError> {
    let (path, opts) = (cfg.db_path.clone(), connection_options(cfg));
    tokio::task::spawn_blocking(move || {
        let mut conn = db::open_connection(&path, &opts, false)?;
        db::migrate(&mut conn)
    })
    .await
    .map_err(|e| db::DbError::Commit(format!("migration worker failed: {e}")))?
}

fn connection_options(cfg: &FailoverConfig) -> ConnectionOptions {
    ConnectionOptions { synchronous: cfg.synchronous, busy_timeout: cfg.busy_timeout, external_checkpoints: true }
}

/// The first commit of a new leader: pending migrations and a record of the takeover. Its L0
/// file claims TXID `after + 1` (see the module docs of [`super`]).
async fn barrier(cfg: &FailoverConfig, after: u64) -> Result<(), db::DbError> {
    let (path, opts) = (cfg.db_path.clone(), connection_options(cfg));
    let record = serde_json::json!({
        "node": cfg.node_id,
        "after_txid": format!("{after:016x}"),
        "at": chrono::Utc::now().to_rfc3339(),
    })
    .to_string();
    tokio::task::spawn_blocking(move || {
        let mut conn = db::open_connection(&path, &opts, false)?;
        db::migrate(&mut conn)?;
        db::kv::set_setting(&conn, "failover.leader", record.as_bytes())
    })
    .await
    .map_err(|e| db::DbError::Commit(format!("barrier worker failed: {e}")))?
}
