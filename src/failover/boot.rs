//! How a node starts, before anything opens the database: take (or reclaim) the lease and lead,
//! or restore the bucket's newest state and follow (see the module docs of [`super`]).

use super::*;
use crate::replicate::follow;
use crate::replicate::restored::with_suffix;

/// How a node starts: decided by [`boot`] before the database opens.
#[derive(Debug)]
pub enum Boot {
    /// This node holds the lease (created or reclaimed); its local database is authoritative.
    Leader { observed: Observed, valid_until: Instant },
    /// The local database is the bucket at this TXID (restored or from the sidecar).
    Follower { applied: Txid },
    /// The lease could not be read; serve the local copy read-only until it can.
    Detached,
}

impl Boot {
    pub fn is_leader(&self) -> bool {
        matches!(self, Boot::Leader { .. })
    }
}

/// Everything [`boot`] prepared for [`Failover::start`].
pub struct Booted {
    pub boot: Boot,
    pub(super) instance: String,
    pub(super) lease: LeaseStore,
}

impl Booted {
    pub fn is_leader(&self) -> bool {
        self.boot.is_leader()
    }
}

/// Total time a start may wait for the bucket before giving up.
const BOOT_PATIENCE: Duration = Duration::from_secs(180);

/// Decides how this node starts, before anything opens the database: take (or reclaim) the
/// lease and lead, or restore the bucket's newest state and follow. Waits (bounded) for a
/// reachable bucket, and for a first backup when there is nothing to follow yet.
pub async fn boot(cfg: &FailoverConfig) -> Result<Booted, FailoverError> {
    let lease = LeaseStore::new(&cfg.replication, cfg.lease_ttl)?;
    let instance = hex::encode(rand::random::<[u8; 8]>());
    let url = cfg.replication.url.clone();
    if let Some(txid) = Sidecar::read(&cfg.db_path, &url) {
        tracing::info!(txid = %txid, "the local database is a standby copy; following from it");
        return Ok(Booted { boot: Boot::Follower { applied: txid }, instance, lease });
    }
    let started = Instant::now();
    let soft = cfg.lease_ttl.max(Duration::from_secs(5));
    let mut last_log = Instant::now();
    loop {
        if started.elapsed() > BOOT_PATIENCE {
            return Err(FailoverError::BucketUnavailable { url, waited: BOOT_PATIENCE });
        }
        let observed = match lease.read().await {
            Ok(o) => o,
            Err(e) => {
                if started.elapsed() > soft && cfg.db_path.exists() {
                    tracing::warn!(error = %e, "cannot read the lease; serving the local database read-only until it can");
                    return Ok(Booted { boot: Boot::Detached, instance, lease });
                }
                if last_log.elapsed() > Duration::from_secs(5) {
                    tracing::warn!(error = %e, "cannot read the lease yet; retrying");
                    last_log = Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        // Still (or again) this node's: its local database is the authoritative one.
        let ours =
            observed.as_ref().is_some_and(|o| o.lease.holder == cfg.node_id && o.lease.claimable_by(&cfg.node_id));
        if ours
            && let Some(o) = &observed
            && !o.lease.released
            && lease_is_being_renewed(&lease, o, cfg).await
        {
            // Most likely the lease is this node's previous process, which died; but someone
            // renews it, so another running node was given this node id.
            return Err(FailoverError::NodeIdInUse { node_id: cfg.node_id.clone() });
        }
        let may_create = observed.is_none() && cfg.role == config::Role::Primary;
        if ours || may_create {
            restore_if_missing(cfg).await?;
            let fresh = Lease {
                holder: cfg.node_id.clone(),
                instance: instance.clone(),
                term: observed.as_ref().map_or(1, |o| o.lease.term + 1),
                seq: 0,
                ttl_ms: cfg.lease_ttl.as_millis() as u64,
                txid: observed.as_ref().map_or(Txid::ZERO, |o| o.lease.txid),
                released: false,
                handover_to: None,
                written_at: String::new(),
            }
            .stamped();
            let sent = Instant::now();
            let written = lease.acquire(observed.as_ref().map(|o| o.etag.as_str()), &fresh).await;
            match written {
                Ok(Written::Stored(etag)) => {
                    tracing::info!(
                        node = cfg.node_id,
                        term = fresh.term,
                        how = if ours { "reclaimed" } else { "created" },
                        "holding the lease: this node leads"
                    );
                    let valid_until = sent + cfg.lease_ttl - cfg.margin();
                    let observed = Observed { lease: fresh, etag };
                    return Ok(Booted { boot: Boot::Leader { observed, valid_until }, instance, lease });
                }
                Ok(Written::Conflict) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "could not write the lease; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
        }
        match restore_to_follow(cfg).await {
            Ok(txid) => return Ok(Booted { boot: Boot::Follower { applied: txid }, instance, lease }),
            Err(ReplicateError::NoBackup(why)) => {
                if last_log.elapsed() > Duration::from_secs(5) {
                    tracing::info!(reason = why, "nothing to follow yet: waiting for the primary's first backup");
                    last_log = Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(FailoverError::RestoreToFollow(e)),
        }
    }
}

/// Watches the lease for half a TTL (longer than the holder's renewal interval): true if a new
/// version still names this node, i.e. a live process renews it under this node's id.
async fn lease_is_being_renewed(lease: &LeaseStore, seen: &Observed, cfg: &FailoverConfig) -> bool {
    let until = Instant::now() + seen.lease.ttl().max(cfg.lease_ttl) / 2;
    tracing::info!("the lease names this node; checking that no running process still renews it");
    while Instant::now() < until {
        tokio::time::sleep(cfg.lease_poll()).await;
        match lease.read().await {
            Ok(Some(now)) if now.etag == seen.etag => {}
            // Renewed under this node's id: a live process holds it.
            Ok(Some(now)) if now.lease.holder == cfg.node_id && !now.lease.released => return true,
            // Taken over by another node (it saw the lease expire) or released: nobody renews
            // it under this id; the boot reads the lease again and follows the new holder.
            Ok(Some(_)) | Ok(None) => return false,
            Err(e) => tracing::warn!(error = %e, "reading the lease failed; retrying"),
        }
    }
    false
}

/// `restore_if_missing` for a node about to lead.
async fn restore_if_missing(cfg: &FailoverConfig) -> Result<(), FailoverError> {
    if !cfg.restore_if_missing || cfg.db_path.exists() {
        return Ok(());
    }
    if let Some(dir) = cfg.db_path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| FailoverError::DataDir { path: dir.to_path_buf(), source })?;
    }
    tracing::info!(url = cfg.replication.url, "no local database: restoring from the bucket");
    match replicate::restore(&cfg.replication, &cfg.db_path, RestoreTarget::Latest, false, |_| {}).await {
        Ok(report) => {
            tracing::info!(?report, "restored the database from the bucket");
            Ok(())
        }
        Err(ReplicateError::NoBackup(_)) => {
            tracing::info!("the bucket holds no backup yet: starting with an empty database");
            Ok(())
        }
        Err(e) => Err(FailoverError::RestoreIfMissing(e)),
    }
}

/// `<db>.diverged`: where a database that cannot be followed from is kept for inspection.
pub fn diverged_path(db: &Path) -> PathBuf {
    with_suffix(db, ".diverged")
}

/// Restores the bucket's newest state over the local database (set aside first) and records it
/// in the sidecar. Returns the TXID.
async fn restore_to_follow(cfg: &FailoverConfig) -> Result<Txid, ReplicateError> {
    let db = &cfg.db_path;
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ReplicateError::io(format!("create {}", dir.display()), e))?;
    }
    // Check there is something to follow before touching the local file.
    follow::newest_restorable(&cfg.replication).await?;
    if db.exists() {
        let aside = diverged_path(db);
        tracing::warn!(
            database = %db.display(),
            kept_as = %aside.display(),
            "the local database is not a copy of the bucket (another node leads): setting it aside and restoring"
        );
        for suffix in ["", "-wal"] {
            let from = with_suffix(db, suffix);
            if from.exists() {
                std::fs::rename(&from, with_suffix(&aside, suffix))
                    .map_err(|e| ReplicateError::io(format!("move {} aside", from.display()), e))?;
            }
        }
        let _ = std::fs::remove_file(with_suffix(db, "-shm"));
    }
    let (txid, pages) = follow::restore_copy(&cfg.replication, db).await?;
    tracing::info!(txid = %txid, pages, "restored the bucket's newest state to follow it");
    Ok(txid)
}
