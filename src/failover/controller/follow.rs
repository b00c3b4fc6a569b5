//! The follower's side of a node: when to catch up with the bucket and when to re-sync (the how
//! is [`crate::replicate::follow`]), and watching the lease for a takeover.

use super::*;

impl Node {
    pub(super) async fn follow(&mut self) -> Duration {
        if !self.replicator_stopped().await {
            // A step-down or hand-over just happened: the old shipper must be gone first.
            return FOLLOW_TICK;
        }
        let result = match self.follower.applied() {
            // Never older than what this node's readers may have seen (module docs of `super`).
            None => self.follower.resync(self.shared.served()).await.map(|_| ()),
            Some(_) => self.catch_up(false).await.map(|_| ()),
        };
        if let Err(e) = result {
            self.record_error("following the bucket", &e);
        }
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

    /// Applies what the bucket has beyond the copy (see [`Follower::catch_up`]); the TXID the
    /// lease names tells whether the leader is ahead. Returns the TXID the copy holds.
    pub(super) async fn catch_up(&mut self, full: bool) -> Result<Txid, ReplicateError> {
        let leader_txid = self.last_lease.as_ref().map(|o| o.lease.txid);
        let caught = self.follower.catch_up(full, leader_txid).await?;
        if caught.current {
            self.shared.mark_current();
        }
        Ok(caught.txid)
    }
}

/// What the follower reports after each change to the copy: the node's status, the served
/// watermark and the domain's caches follow it.
pub(super) fn progress_hook(shared: Arc<Shared>) -> Arc<dyn Fn(Progress) + Send + Sync> {
    Arc::new(move |p| {
        let (txid, files) = match p {
            Progress::Applied { txid, .. } => (txid, 1),
            Progress::Resynced { txid, .. } => (txid, 0),
        };
        shared.saw(txid);
        {
            let mut s = shared.status.lock();
            s.txid = txid;
            s.applied_files += files;
            s.last_apply_at = Some(SystemTime::now());
        }
        shared.data_changed();
    })
}
