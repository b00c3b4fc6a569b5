//! The leader's side of a node: shipping, renewing the lease, handing it over, stepping down.

use super::*;

impl Node {
    /// Becomes the leader holding `observed` (valid until `valid_until`). `continuing`: the
    /// local database is the bucket's newest state (a promoted follower, WAL emptied); else it
    /// is authoritative and the shipper resumes from its WAL as after a restart.
    pub(super) fn lead_with(
        &mut self,
        observed: Observed,
        valid_until: Instant,
        continuing: bool,
    ) -> Result<(), ReplicateError> {
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
        self.shared.install_replicator(Arc::new(handle));
        self.shared.valid_until(Some(valid_until));
        let barrier = continuing.then_some(txid.next());
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

    pub(super) fn leading(&mut self) -> Option<&mut Leading> {
        match &mut self.state {
            State::Leader(l) => Some(l),
            _ => None,
        }
    }

    pub(super) async fn lead(&mut self) -> Duration {
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
                txid = %repl.txid,
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
    pub(super) async fn renew(&mut self) {
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
            Ok(Some(o))
                if o.lease.holder == held.holder
                    && o.lease.instance == held.instance
                    && o.lease.term == held.term
                    && !o.lease.released =>
            {
                // Only this process writes its instance and term: an earlier renewal of ours
                // landed although its answer was lost. Renew on that version at once; the
                // deadline stays where the last confirmed renewal put it (when the lost one
                // landed is unknown). Stepping down here would end a healthy leadership.
                tracing::info!("an earlier renewal landed although its answer was lost; renewing on it");
                if let Some(l) = self.leading() {
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

    pub(super) fn renewed(&mut self, attempt: Lease, etag: String, sent: Instant) {
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
    pub(super) async fn flush_to_s3(&self, until: Instant) -> Option<Txid> {
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
    pub(super) async fn hand_over(&mut self) {
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
                tracing::info!(to, txid = %txid, "handed over: released the lease; following");
                self.abandon_replicator();
                self.shared.valid_until(None);
                if let Err(e) = Sidecar::write(&self.cfg.db_path, &self.cfg.replication.url, txid) {
                    self.record_error("writing the standby sidecar", &e);
                    self.follower.reset(None);
                } else {
                    self.follower.reset(Some(txid));
                }
                self.state = State::Following;
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
    pub(super) async fn release(&mut self, txid: Txid, to: Option<String>) -> Result<(), FailoverError> {
        let State::Leader(l) = &mut self.state else { return Err(FailoverError::NotLeading) };
        let released =
            Lease { seq: l.lease.seq + 1, txid, released: true, handover_to: to, ..l.lease.clone() }.stamped();
        match self.lease.replace(&l.etag, &released).await {
            Ok(Written::Stored(etag)) => {
                self.last_lease = Some(Observed { lease: released, etag });
                Ok(())
            }
            Ok(Written::Conflict) => Err(FailoverError::LeaseChanged),
            Err(e) => Err(e.into()),
        }
    }

    /// A leader's readers see every local commit, shipped or not: commits beyond the shipped
    /// TXID land in the bucket as the next TXID at the earliest (this node's, or the next
    /// leader's barrier), so that is what a later re-sync must reach.
    pub(super) fn note_served_by_leader(&self) {
        if let Some(r) = self.shared.replicator() {
            let r = r.status();
            self.shared.saw(if r.commit_seq > r.shipped_seq { r.txid.next() } else { r.txid });
        }
    }

    pub(super) fn abandon_replicator(&self) {
        if let Some(r) = self.shared.take_replicator() {
            r.abandon();
        }
    }

    /// Stops leading at once: no more writes, no more uploads (not even a final sync).
    pub(super) fn step_down(&mut self, reason: &str) {
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
}
