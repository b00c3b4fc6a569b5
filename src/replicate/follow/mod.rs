//! Follow mode: keeping a local copy of the database at the bucket's newest TXID, one LTX file
//! at a time, while readers use it ([`Follower`]).
//!
//! * [`applier`]: how a file is applied under readers (`sqlite_dbpage` in one transaction), and
//!   why that is safe;
//! * [`crate::replicate::plan::follow_plan`]: which files continue a copy at some TXID;
//! * [`sidecar`]: `<db>-standby.json`, the TXID the file holds exactly, written after each apply;
//! * re-sync: when the bucket's history does not continue from the copy (a gap, a copy that
//!   diverged), the newest state is rebuilt beside the live file (`<db>.resync`, restored like
//!   `mysetlist restore` does, integrity checked) and swapped in with one transaction, only once
//!   it reaches a TXID the caller names (what readers may have seen): reads never go back.
//!
//! The follower records its progress after every file it applies: a tick that applies some
//! files and then fails resumes after the last one applied. Resuming from where the tick began
//! would apply files the copy already holds, and since page images are absolute that puts older
//! images of their pages back under the readers (a state that never existed); the applier also
//! refuses any file that does not continue the copy.
//!
//! Who decides *when* to follow, re-sync or stop following is the failover controller; this
//! module knows nothing of leases.

pub(crate) mod applier;
mod halt;
pub(crate) mod sidecar;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

pub use applier::Applier;
pub use halt::Halt;
pub use sidecar::Sidecar;

use super::bucket::{FileInfo, Store};
use super::error::ReplicateError;
use super::options::ReplicatorOptions;
use super::plan::{RestoreTarget, calc_restore_plan, follow_plan};
use super::restored::{remove_db_files, with_suffix};
use super::storage::StorageError;
use super::txid::Txid;

/// Upper bound on L0 files fetched one by one (by name) in a catch-up before listing instead.
const FAST_PATH_FILES: usize = 32;
/// A catch-up lists the whole bucket every this many calls (compactions, gaps) even when no
/// newer file is known.
const FULL_LIST_EVERY: u32 = 20;

/// The newest TXID a restore of the bucket reaches now (NoBackup when there is none): whether
/// there is anything to follow, checked before a node touches its local file.
pub async fn newest_restorable(opts: &ReplicatorOptions) -> Result<Txid, ReplicateError> {
    let files = Store::new(opts)?.list_all().await?;
    let plan = calc_restore_plan(&files, RestoreTarget::Latest)?;
    Ok(Txid(plan.last().map_or(0, |f| f.max_txid)))
}

/// Restores the bucket's newest state over `db` as a copy to follow (LTX layout only) and records
/// it in the sidecar. Returns the TXID and the pages restored.
pub async fn restore_copy(opts: &ReplicatorOptions, db: &Path) -> Result<(Txid, u32), ReplicateError> {
    let report = super::restore(opts, db, RestoreTarget::Latest, true, |_| {}).await?;
    let txid = report.txid.ok_or_else(only_v3)?;
    Sidecar::write(db, &opts.url, txid)?;
    Ok((txid, report.pages))
}

fn only_v3() -> ReplicateError {
    ReplicateError::Config("the bucket holds only the Litestream v0.3 layout, which a standby cannot follow".into())
}

/// What the follower did, for the caller's status and caches (called on the follower's task,
/// after the change is committed and the sidecar written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// One file applied; the copy now holds `txid`.
    Applied { txid: Txid, pages: u32 },
    /// The copy was rebuilt and swapped in whole at `txid`.
    Resynced { txid: Txid, pages: u32 },
}

/// The result of a catch-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaughtUp {
    /// The TXID the copy holds now.
    pub txid: Txid,
    /// Nothing newer was found by name and nothing newer is known: the copy is current.
    pub current: bool,
}

/// A local copy following the bucket. See the module docs.
pub struct Follower {
    opts: ReplicatorOptions,
    db_path: PathBuf,
    store: Store,
    applier: Option<Arc<Mutex<Applier>>>,
    /// The TXID the copy holds; None: it must be re-synced before it can follow.
    applied: Option<Txid>,
    calls: u32,
    on_progress: Arc<dyn Fn(Progress) + Send + Sync>,
    halt: Halt,
}

impl Follower {
    /// A follower of `opts.url` for the database at `db_path`, which holds TXID `applied` (None:
    /// unknown, re-sync first). `on_progress` hears of every change to the copy.
    pub fn new(
        opts: ReplicatorOptions,
        db_path: &Path,
        applied: Option<Txid>,
        on_progress: Arc<dyn Fn(Progress) + Send + Sync>,
    ) -> Result<Follower, ReplicateError> {
        let store = Store::new(&opts)?;
        Ok(Follower {
            opts,
            db_path: db_path.to_path_buf(),
            store,
            applier: None,
            applied,
            calls: 0,
            on_progress,
            halt: Halt::default(),
        })
    }

    /// Stops this follower's database work from outside its task (see [`Halt`]).
    pub fn halt_handle(&self) -> Halt {
        self.halt.clone()
    }

    /// The TXID the copy holds, if it can follow from there.
    pub fn applied(&self) -> Option<Txid> {
        self.applied
    }

    /// From now on the copy holds exactly `txid` of the bucket (a leader that handed over after
    /// shipping everything), or must be re-synced (None: it holds commits the bucket lacks).
    pub fn reset(&mut self, applied: Option<Txid>) {
        self.applied = applied;
    }

    fn applier(&mut self) -> Result<Arc<Mutex<Applier>>, ReplicateError> {
        if let Some(a) = &self.applier {
            return Ok(a.clone());
        }
        let a = Arc::new(Mutex::new(Applier::open(&self.db_path)?));
        self.applier = Some(a.clone());
        Ok(a)
    }

    /// Closes the applier's connection (before the database is closed or replaced).
    pub fn close(&mut self) {
        self.applier = None;
    }

    /// Applies what the bucket has beyond the copy: the next L0 files by name (one GET each),
    /// and a full listing now and then, when `full` (before a takeover), or when `newer_than`
    /// (the TXID the leader says it stored) is ahead of the copy. A history that does not
    /// continue from the copy sets it to re-sync (and is returned as the error).
    pub async fn catch_up(&mut self, full: bool, leader_txid: Option<Txid>) -> Result<CaughtUp, ReplicateError> {
        let Some(start) = self.applied else {
            return Err(ReplicateError::Plan("the copy must be re-synced before it can follow".into()));
        };
        self.calls = self.calls.wrapping_add(1);
        let result = self.catch_up_from(start, full, leader_txid).await;
        if let Err(e) = &result
            && e.needs_resync()
        {
            self.applied = None;
        }
        result
    }

    async fn catch_up_from(
        &mut self,
        mut applied: Txid,
        full: bool,
        leader_txid: Option<Txid>,
    ) -> Result<CaughtUp, ReplicateError> {
        let mut fetched = 0;
        while !full && fetched < FAST_PATH_FILES {
            let key = self.store.ltx_key(0, applied.next().get(), applied.next().get());
            match self.store.get(&key).await {
                Ok(data) => {
                    applied = self.apply_one(&key, data.to_vec()).await?;
                    fetched += 1;
                }
                Err(ReplicateError::S3 { source: StorageError::NotFound(_), .. }) => break,
                Err(e) => return Err(e),
            }
        }
        let leader_ahead = leader_txid.is_some_and(|t| t > applied);
        if full
            || fetched == FAST_PATH_FILES
            || (fetched == 0 && (leader_ahead || self.calls.is_multiple_of(FULL_LIST_EVERY)))
        {
            let files = self.store.list_all().await?;
            for f in follow_plan(&files, applied.get())? {
                applied = self.download_and_apply(&f).await?;
            }
        }
        let current = fetched < FAST_PATH_FILES && leader_txid.is_none_or(|t| t <= applied);
        Ok(CaughtUp { txid: applied, current })
    }

    async fn download_and_apply(&mut self, f: &FileInfo) -> Result<Txid, ReplicateError> {
        let data = self.store.get_all(&f.key, f.size, |_| {}).await?;
        self.apply_one(&f.key, data).await
    }

    /// Applies one file on top of the copy and records the progress at once (module docs).
    async fn apply_one(&mut self, key: &str, data: Vec<u8>) -> Result<Txid, ReplicateError> {
        let after = self.applied.unwrap_or_default();
        let applier = self.applier()?;
        let key_owned = key.to_string();
        let halt = self.halt.clone();
        let done =
            tokio::task::spawn_blocking(move || halt.run(|| applier.lock().apply(&key_owned, &data, after.get())))
                .await
                .map_err(|e| ReplicateError::worker("apply", e))??;
        let txid = Txid(done.header.max_txid);
        self.applied = Some(txid);
        Sidecar::write(&self.db_path, &self.opts.url, txid)?;
        (self.on_progress)(Progress::Applied { txid, pages: done.pages });
        tracing::debug!(key, pages = done.pages, txid = %txid, "applied");
        Ok(txid)
    }

    /// Rebuilds the copy from the bucket's newest state and swaps it in whole, once that state
    /// is at least `at_least` (what this node's readers may have seen). Ok(None): not yet (the
    /// bucket is older; a new leader has not written its barrier); the copy keeps serving.
    pub async fn resync(&mut self, at_least: Txid) -> Result<Option<Txid>, ReplicateError> {
        let files = self.store.list_all().await?;
        let plan = calc_restore_plan(&files, RestoreTarget::Latest)?;
        let newest = Txid(plan.last().map_or(0, |f| f.max_txid));
        if newest < at_least {
            if self.calls.is_multiple_of(FULL_LIST_EVERY) {
                tracing::info!(
                    bucket = %newest,
                    served = %at_least,
                    "re-sync waits: the bucket is older than what this node has served"
                );
            }
            self.calls = self.calls.wrapping_add(1);
            return Ok(None);
        }
        let beside = with_suffix(&self.db_path, ".resync");
        remove_db_files(&beside);
        let rebuilt = self.rebuild_and_swap(&beside, at_least).await;
        remove_db_files(&beside);
        let (txid, pages) = rebuilt?;
        self.applied = Some(txid);
        Sidecar::write(&self.db_path, &self.opts.url, txid)?;
        (self.on_progress)(Progress::Resynced { txid, pages });
        tracing::info!(txid = %txid, pages, "re-synced from the bucket (swapped in whole); following");
        Ok(Some(txid))
    }

    async fn rebuild_and_swap(&mut self, beside: &Path, at_least: Txid) -> Result<(Txid, u32), ReplicateError> {
        // On a blocking thread of its own (like the verify job): the restore's download stream
        // is not provably `Send` for the caller's spawned task.
        let (opts, out, runtime) = (self.opts.clone(), beside.to_path_buf(), tokio::runtime::Handle::current());
        let report = tokio::task::spawn_blocking(move || {
            runtime.block_on(super::restore(&opts, &out, RestoreTarget::Latest, true, |_| {}))
        })
        .await
        .map_err(|e| ReplicateError::worker("rebuild", e))??;
        let txid = report.txid.ok_or_else(only_v3)?;
        if txid < at_least {
            return Err(ReplicateError::Plan(format!(
                "the rebuilt copy ends at TXID {txid}, older than {at_least} already served"
            )));
        }
        let applier = self.applier()?;
        let source = beside.to_path_buf();
        let halt = self.halt.clone();
        let pages = tokio::task::spawn_blocking(move || halt.run(|| applier.lock().replace_with(&source)))
            .await
            .map_err(|e| ReplicateError::worker("swap", e))??;
        Ok((txid, pages))
    }

    /// Stops being a copy before the node's first write as the leader: deletes the sidecar and
    /// empties the WAL into the database file (waiting at most `within` for readers), so a
    /// shipper can continue the TXID sequence from the file alone. Returns the TXID the copy
    /// holds. On failure the sidecar is written back and the copy goes on following.
    pub async fn stop_following(&mut self, within: Duration) -> Result<Txid, ReplicateError> {
        let Some(txid) = self.applied else {
            return Err(ReplicateError::Plan("the copy must be re-synced before it can lead".into()));
        };
        Sidecar::remove(&self.db_path)?;
        let applier = self.applier()?;
        let halt = self.halt.clone();
        let emptied = tokio::task::spawn_blocking(move || halt.run(|| applier.lock().checkpoint_truncate(within)))
            .await
            .map_err(|e| ReplicateError::worker("checkpoint", e))
            .and_then(|r| r);
        if let Err(e) = emptied {
            if let Err(restoring) = Sidecar::write(&self.db_path, &self.opts.url, txid) {
                tracing::warn!(error = %restoring, "could not write the standby sidecar back");
            }
            return Err(e);
        }
        self.close();
        Ok(txid)
    }
}
