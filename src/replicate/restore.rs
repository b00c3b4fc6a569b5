//! `restore`: rebuild a database from the bucket, as `litestream restore` does.
//!
//! Both layouts are read: Litestream 0.5 LTX files (chosen with [`calc_restore_plan`]) and
//! v0.3 generations (see [`super::v3`]); like Litestream, the v0.3 layout is used when it is
//! the only one or holds newer data. Every object is verified, the result must pass
//! `PRAGMA integrity_check`, and only then is it fsynced and renamed over the target — a
//! failed restore leaves the target untouched. An existing target is replaced only with
//! `force`.

use std::fs::OpenOptions;
use std::path::Path;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use futures_util::StreamExt;

use super::apply::PageWriter;
use super::bucket::{FileInfo, Store};
use super::error::ReplicateError;
use super::ltx::{self, HEADER_SIZE};
use super::options::ReplicatorOptions;
use super::plan::{RestoreTarget, calc_restore_plan};
use super::restored::{install, integrity_check, remove_db_files, temp_path};
use super::txid::Txid;
use super::v3;

pub use super::restored::{RestoreProgress, RestoreReport, RestoreSource};

/// Reads the header timestamps of `files` (for point-in-time restores, like Litestream's
/// metadata lookups), a few requests at a time.
pub(crate) async fn with_header_timestamps(
    store: &Store,
    files: Vec<FileInfo>,
) -> Result<Vec<FileInfo>, ReplicateError> {
    futures_util::stream::iter(files)
        .map(|mut f| async move {
            let b = store.get_range(&f.key, 0..HEADER_SIZE as u64).await?;
            let h = ltx::Header::parse(&b).map_err(|e| ReplicateError::corrupt(&f.key, e))?;
            if let Some(t) = Utc.timestamp_millis_opt(h.timestamp_ms).single() {
                f.created_at = t;
            }
            Ok::<_, ReplicateError>(f)
        })
        .buffered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Restores the backup at `opts.url` into `out`. See the module docs.
pub async fn restore(
    opts: &ReplicatorOptions,
    out: &Path,
    target: RestoreTarget,
    force: bool,
    mut progress: impl FnMut(RestoreProgress) + Send,
) -> Result<RestoreReport, ReplicateError> {
    opts.validate()?;
    if out.exists() && !force {
        return Err(ReplicateError::TargetExists(out.to_path_buf()));
    }
    let store = Store::new(opts)?;
    let started = Instant::now();
    let mut files = store.list_all().await?;
    if let RestoreTarget::Timestamp(_) = target {
        files = with_header_timestamps(&store, files).await?;
    }

    if !matches!(target, RestoreTarget::Txid(_)) {
        let generations = v3::list(&store).await?;
        if v3::should_use(&generations, &files, target) {
            tracing::info!(url = store.url(), "restoring from the Litestream v0.3 layout");
            return v3::restore(&store, &generations, out, target, started, &mut progress).await;
        }
    }

    let plan = calc_restore_plan(&files, target)?;
    tracing::info!(
        url = store.url(),
        files = plan.len(),
        txid = %Txid(plan.last().map_or(0, |f| f.max_txid)),
        "restore plan"
    );
    let tmp = temp_path(out);
    let result = restore_ltx(&store, &plan, &tmp, &mut progress).await;
    let (header, bytes) = match result {
        Ok(v) => v,
        Err(e) => {
            remove_db_files(&tmp);
            return Err(e);
        }
    };
    if let Err(e) = integrity_check(&tmp) {
        remove_db_files(&tmp);
        return Err(e);
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ReplicateError::io(format!("create {}", dir.display()), e))?;
    }
    if let Err(e) = install(&tmp, out) {
        remove_db_files(&tmp);
        return Err(e);
    }
    tracing::info!(
        path = %out.display(),
        txid = %Txid(header.max_txid),
        pages = header.commit,
        "restore complete"
    );
    Ok(RestoreReport {
        txid: Some(Txid(header.max_txid)),
        timestamp: Utc.timestamp_millis_opt(header.timestamp_ms).single(),
        page_size: header.page_size,
        pages: header.commit,
        bytes_downloaded: bytes,
        source: RestoreSource::Ltx {
            files: plan.iter().map(|f| format!("{}/{}", f.level, ltx::file_name(f.min_txid, f.max_txid))).collect(),
        },
        duration: started.elapsed(),
    })
}

/// Downloads (several files in flight) and applies the plan into `tmp`, returning the last
/// header.
pub(crate) async fn restore_ltx(
    store: &Store,
    plan: &[FileInfo],
    tmp: &Path,
    progress: &mut (impl FnMut(RestoreProgress) + Send),
) -> Result<(ltx::Header, u64), ReplicateError> {
    if let Some(dir) = tmp.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ReplicateError::io(format!("create {}", dir.display()), e))?;
    }
    remove_db_files(tmp);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(|e| ReplicateError::io(format!("create {}", tmp.display()), e))?;
    let mut writer = PageWriter::new(file, tmp.display().to_string());
    let mut state = RestoreProgress {
        files_total: plan.len(),
        bytes_total: plan.iter().map(|f| f.size).sum(),
        ..RestoreProgress::default()
    };
    progress(state);
    // Like `litestream restore -parallelism 8`; fewer at once when files are large, since
    // each is held in memory until applied.
    let largest = plan.iter().map(|f| f.size).max().unwrap_or(0);
    let parallel = if largest <= 64 * 1024 * 1024 { 8 } else { 2 };
    // Owned `FileInfo`s: a closure over borrowed ones makes the future's `Send` unprovable
    // (rustc's higher-ranked closure lifetimes), and callers spawn restores as tasks.
    let mut downloads = futures_util::stream::iter(plan.iter().cloned())
        .map(|f| async move { store.get_all(&f.key, f.size, |_| {}).await.map(|b| (f, b)) })
        .buffered(parallel);
    let mut last = None;
    while let Some(next) = downloads.next().await {
        let (info, data) = next?;
        let key = info.key.clone();
        let (w, h) = tokio::task::spawn_blocking(move || {
            let h = writer.apply(&key, &data);
            (writer, h)
        })
        .await
        .map_err(|e| ReplicateError::worker("restore", e))?;
        writer = w;
        let h = h?;
        if h.min_txid != info.min_txid || h.max_txid != info.max_txid {
            return Err(ReplicateError::corrupt(
                &info.key,
                format!("header says TXIDs {}-{}, the name says otherwise", Txid(h.min_txid), Txid(h.max_txid)),
            ));
        }
        state.files_done += 1;
        state.bytes_done += info.size;
        progress(state);
        last = Some(h);
    }
    let last = last.ok_or_else(|| ReplicateError::NoBackup("empty restore plan".into()))?;
    tokio::task::spawn_blocking(move || writer.finish()).await.map_err(|e| ReplicateError::worker("restore", e))??;
    Ok((last, state.bytes_done))
}
