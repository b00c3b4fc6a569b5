//! Taking over: catch up with the bucket, take the lease, migrate and commit a barrier, then lead
//! with the TXID sequence continued.

use super::*;

impl Node {
    /// Catch up, take the lease, catch up again, and lead with the TXID sequence continued.
    pub(super) async fn take_over(&mut self, observed: Option<Observed>, why: &str) {
        if self.follower.applied().is_none() {
            return; // a copy being re-synced cannot lead
        }
        let applied = match self.catch_up(true).await {
            Ok(a) => a,
            Err(e) => {
                self.record_error("catching up before taking over", &e);
                return;
            }
        };
        if let Some(o) = &observed
            && applied < o.lease.txid
        {
            tracing::warn!(
                applied = %applied,
                lease = %o.lease.txid,
                "the lease names a newer TXID than the bucket shows; waiting"
            );
            return;
        }
        tracing::info!(reason = why, txid = %applied, "taking over the lease");
        let Some((mut held, valid_until)) = self.acquire(observed.as_ref(), applied).await else { return };
        // An upload the old leader sent before its deadline may have landed since.
        if let Err(e) = self.catch_up(true).await {
            // Still the holder: the next tick retries the takeover from where the copy is.
            self.record_error("catching up after taking the lease", &e);
            return;
        }
        // From here on the local database stops being a copy of the bucket.
        let applied = match self.follower.stop_following(Duration::from_secs(3)).await {
            Ok(txid) => txid,
            Err(e) => {
                self.record_error("emptying the WAL before leading", &e);
                return;
            }
        };
        held.lease.txid = applied;
        if let Err(e) = self.lead_with(held, valid_until, true) {
            self.record_error("starting replication after taking the lease", &e);
            self.follower.reset(None);
            self.state = State::Following;
            return;
        }
        if let Err(e) = barrier(&self.db, &self.cfg.node_id, applied).await {
            self.record_error("writing the barrier commit", &e);
            self.step_down("the barrier commit failed");
            return;
        }
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
                            Ok(()) => tracing::info!(txid = %txid, "released the lease"),
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
        if let Some(r) = self.shared.take_replicator() {
            r.abandon();
        }
        self.follower.close();
        db.close().await;
    }
}

/// Brings the schema up to this binary's migrations (a follower never migrates), through the
/// writer although the node does not accept writes yet (a reclaimed lease: the node accepts
/// writes only after this).
pub(super) async fn migrate(db: &Database) -> Result<(), db::DbError> {
    db.write_unguarded(db::migrate_within).await.map(|((), _)| ())
}

/// The first commit of a new leader: pending migrations and a record of the takeover, in one
/// commit through the writer (past the write guard, which refuses every other write until this
/// commit is stored). Its L0 file claims TXID `after + 1` (see the module docs of [`super`]).
async fn barrier(db: &Database, node_id: &str, after: Txid) -> Result<(), db::DbError> {
    let record = serde_json::json!({
        "node": node_id,
        "after_txid": after.to_string(),
        "at": chrono::Utc::now().to_rfc3339(),
    })
    .to_string();
    db.write_unguarded(move |conn| {
        db::migrate_within(conn)?;
        db::kv::set_setting(conn, "failover.leader", record.as_bytes())
    })
    .await
    .map(|((), _)| ())
}
