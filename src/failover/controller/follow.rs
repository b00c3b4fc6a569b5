//! The follower's side of a node: applying the bucket's new files as they land, and re-syncing
//! (rebuilding the copy beside the live file and swapping it in whole) when it cannot follow.

use super::*;

impl Node {
    pub(super) fn applier(&mut self) -> Result<Arc<Mutex<Applier>>, ReplicateError> {
        if let Some(a) = &self.applier {
            return Ok(a.clone());
        }
        let a = Arc::new(Mutex::new(Applier::open(&self.cfg.db_path)?));
        self.applier = Some(a.clone());
        Ok(a)
    }

    pub(super) async fn follow(&mut self) -> Duration {
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
        match result {
            Ok(a) => self.state = State::Following { applied: a },
            Err(e) => {
                self.record_error("following the bucket", &e);
                // Otherwise keep the progress `apply_one` recorded before the error: resuming
                // from the TXID this tick started at would apply files the copy already holds,
                // putting their older page images back under the readers.
                if e.needs_resync() {
                    self.state = State::Following { applied: None };
                }
            }
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

    /// Downloads and applies `files` in order, one transaction each; returns the TXID reached.
    pub(super) async fn apply_files(&mut self, files: &[FileInfo], mut applied: u64) -> Result<u64, ReplicateError> {
        for f in files {
            let data = self.ltx.get_all(&f.key, f.size, |_| {}).await?;
            applied = self.apply_one(&f.key, data, applied).await?;
        }
        Ok(applied)
    }

    /// Applies one downloaded file on top of the copy (which holds TXID `after`) and records the
    /// progress at once, in the state too: an error later in the same tick must not send the
    /// next tick back to files already applied.
    pub(super) async fn apply_one(&mut self, key: &str, data: Vec<u8>, after: u64) -> Result<u64, ReplicateError> {
        let applier = self.applier()?;
        let key_owned = key.to_string();
        let done = tokio::task::spawn_blocking(move || applier.lock().apply(&key_owned, &data, after))
            .await
            .map_err(|e| ReplicateError::worker("apply", e))??;
        let txid = done.header.max_txid;
        if let State::Following { applied } = &mut self.state {
            *applied = Some(txid);
        }
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
    pub(super) async fn resync(&mut self) -> Result<Option<u64>, ReplicateError> {
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
        replicate::restored::remove_db_files(&beside);
        let rebuilt = self.rebuild_and_swap(&beside).await;
        replicate::restored::remove_db_files(&beside);
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

    pub(super) async fn rebuild_and_swap(&mut self, beside: &std::path::Path) -> Result<(u64, u32), ReplicateError> {
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
    pub(super) async fn catch_up(&mut self, mut applied: u64, full: bool) -> Result<u64, ReplicateError> {
        let mut fetched = 0;
        while !full && fetched < FAST_PATH_FILES {
            let key = self.ltx.ltx_key(0, applied + 1, applied + 1);
            match self.ltx.get(&key).await {
                Ok(data) => {
                    applied = self.apply_one(&key, data.to_vec(), applied).await?;
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
}
