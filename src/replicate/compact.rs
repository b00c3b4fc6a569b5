//! Compaction and retention, on Litestream's schedule, as a background task.
//!
//! * **Compaction**: level N (1, 2, 3 by default, every 30s, 5m, 1h) merges every level N-1
//!   file after the newest level-N file into one file, once per interval boundary
//!   (`PrevCompactionAt`). Output: header flags NoChecksum, WAL fields and node id zero,
//!   timestamp of the last input — what Litestream's compactor writes. Fewer, larger files
//!   keep restores fast.
//! * **L0 retention**: L0 files are deleted once compacted into L1 and older than
//!   `l0_retention`; the newest L0 file always stays (the shipper resumes from it).
//! * **Snapshot retention**: L9 snapshots older than `retention` are deleted except the
//!   newest; files of levels 1+ that end before the newest deleted snapshot go with them.
//! * Before anything is deleted, the restore plan of the remaining files must still reach
//!   the newest TXID: retention never removes what the newest restore needs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::Utc;
use tokio::sync::watch;

use super::bucket::{FileInfo, SNAPSHOT_LEVEL, Store};
use super::error::ReplicateError;
use super::ltx::{self, Encoder, HEADER_FLAG_NO_CHECKSUM, Header};
use super::options::ReplicatorOptions;
use super::plan::{RestoreTarget, calc_restore_plan};
use super::shipper::prev_boundary;
use super::status::Shared;
use super::txid::Txid;

/// Litestream checks L0 retention every 15s and snapshot retention on the snapshot
/// schedule; short retentions (tests, small setups) are checked proportionally more often.
fn l0_check_interval(opts: &ReplicatorOptions) -> Duration {
    (opts.l0_retention / 4).clamp(Duration::from_millis(500), Duration::from_secs(15))
}

fn snapshot_check_interval(opts: &ReplicatorOptions) -> Duration {
    (opts.retention / 4).clamp(Duration::from_millis(500), Duration::from_secs(300))
}

/// Merges `inputs` (contiguous, ascending) into one LTX file; returns its header and bytes.
pub(crate) fn merge(
    inputs: &[(FileInfo, Vec<u8>)],
    encoding: ltx::PageEncoding,
) -> Result<(Header, Vec<u8>), ReplicateError> {
    let mut pages: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut first: Option<Header> = None;
    let mut last: Option<Header> = None;
    for (info, data) in inputs {
        let h = ltx::decode_all(data, |pgno, page| {
            pages.insert(pgno, page.to_vec());
            Ok(())
        })
        .map_err(|e| ReplicateError::corrupt(&info.key, e))?;
        if let Some(prev) = &last {
            if h.page_size != prev.page_size {
                return Err(ReplicateError::corrupt(&info.key, "page size differs from the previous file"));
            }
            if h.min_txid > prev.max_txid + 1 || h.max_txid <= prev.max_txid {
                return Err(ReplicateError::Plan(format!(
                    "non-contiguous compaction input {}: {}-{} after {}",
                    info.key,
                    Txid(h.min_txid),
                    Txid(h.max_txid),
                    Txid(prev.max_txid)
                )));
            }
        }
        first.get_or_insert(h);
        last = Some(h);
    }
    let (Some(first), Some(last)) = (first, last) else {
        return Err(ReplicateError::NothingToCompact);
    };
    let header = Header {
        flags: HEADER_FLAG_NO_CHECKSUM,
        page_size: first.page_size,
        commit: last.commit,
        min_txid: first.min_txid,
        max_txid: last.max_txid,
        timestamp_ms: last.timestamp_ms,
        ..Header::default()
    };
    let mut enc = Encoder::new(header, encoding).map_err(|e| ReplicateError::encode("the compaction header", e))?;
    for (pgno, page) in pages.range(..=header.commit) {
        enc.encode_page(*pgno, page)
            .map_err(|e| ReplicateError::encode(format!("the compaction of {}", inputs[0].0.key), e))?;
    }
    let bytes = enc.finish().map_err(|e| ReplicateError::encode("the compaction", e))?;
    Ok((header, bytes))
}

/// Compacts level `dst - 1` into `dst` if due. Returns the file written, if any.
pub(crate) async fn compact_level(
    store: &Store,
    dst: u32,
    interval: Duration,
    encoding: ltx::PageEncoding,
) -> Result<Option<FileInfo>, ReplicateError> {
    let dst_files = store.list_level(dst).await?;
    let dst_last = dst_files.iter().max_by_key(|f| f.max_txid);
    if let Some(d) = dst_last
        && d.created_at > prev_boundary(Utc::now(), interval)
    {
        return Ok(None); // already compacted in this interval
    }
    let seek = dst_last.map_or(0, |d| d.max_txid) + 1;
    let inputs: Vec<FileInfo> = store.list_level(dst - 1).await?.into_iter().filter(|f| f.min_txid >= seek).collect();
    if inputs.is_empty() {
        return Ok(None);
    }
    let mut loaded = Vec::with_capacity(inputs.len());
    for f in inputs {
        let data = store.get_all(&f.key, f.size, |_| {}).await?;
        loaded.push((f, data));
    }
    let (header, bytes) = tokio::task::spawn_blocking(move || merge(&loaded, encoding))
        .await
        .map_err(|e| ReplicateError::worker("compaction", e))??;
    let key = store.ltx_key(dst, header.min_txid, header.max_txid);
    let size = bytes.len() as u64;
    store.put(&key, Bytes::from(bytes), header.timestamp_ms).await?;
    tracing::info!(
        level = dst,
        min = %Txid(header.min_txid),
        max = %Txid(header.max_txid),
        size,
        "compaction complete"
    );
    Ok(Some(FileInfo {
        level: dst,
        min_txid: header.min_txid,
        max_txid: header.max_txid,
        size,
        created_at: Utc::now(),
        key,
    }))
}

/// Deletes `doomed` unless that would make the newest state unrestorable.
async fn delete_safely(
    store: &Store,
    all: &[FileInfo],
    doomed: Vec<FileInfo>,
    why: &str,
) -> Result<usize, ReplicateError> {
    if doomed.is_empty() {
        return Ok(0);
    }
    let newest = all.iter().map(|f| f.max_txid).max().unwrap_or(0);
    let remaining: Vec<FileInfo> = all.iter().filter(|f| !doomed.iter().any(|d| d.key == f.key)).cloned().collect();
    let reach = calc_restore_plan(&remaining, RestoreTarget::Latest).map(|p| p.last().map_or(0, |f| f.max_txid));
    if reach.as_ref().ok() != Some(&newest) {
        tracing::error!(
            why,
            files = doomed.len(),
            newest = %Txid(newest),
            result = ?reach,
            "retention skipped: deleting would break the newest restore"
        );
        return Ok(0);
    }
    let keys: Vec<String> = doomed.iter().map(|f| f.key.clone()).collect();
    store.delete(&keys).await?;
    tracing::info!(why, deleted = keys.len(), "retention enforced");
    Ok(keys.len())
}

/// Litestream's `EnforceL0Retention`.
pub(crate) async fn enforce_l0_retention(store: &Store, retention: Duration) -> Result<usize, ReplicateError> {
    let all = store.list_all().await?;
    let max_l1 = all.iter().filter(|f| f.level == 1).map(|f| f.max_txid).max().unwrap_or(0);
    if max_l1 == 0 {
        return Ok(0);
    }
    let threshold = Utc::now() - retention;
    let l0: Vec<&FileInfo> = all.iter().filter(|f| f.level == 0).collect();
    let mut doomed = Vec::new();
    let mut processed_all = true;
    for f in &l0 {
        if f.created_at > threshold {
            processed_all = false;
            break;
        }
        if f.max_txid <= max_l1 {
            doomed.push((*f).clone());
        }
    }
    if processed_all && doomed.last().map(|d| &d.key) == l0.last().map(|f| &f.key) {
        doomed.pop();
    }
    delete_safely(store, &all, doomed, "L0 compacted into L1").await
}

/// Litestream's snapshot retention, with the conservative floor of 0.5.17's `db.go`.
pub(crate) async fn enforce_snapshot_retention(
    store: &Store,
    retention: Duration,
    max_level: u32,
) -> Result<usize, ReplicateError> {
    let all = store.list_all().await?;
    let threshold = Utc::now() - retention;
    let snaps: Vec<&FileInfo> = all.iter().filter(|f| f.level == SNAPSHOT_LEVEL).collect();
    let Some(newest) = snaps.iter().max_by_key(|f| f.max_txid) else {
        return Ok(0);
    };
    let old: Vec<FileInfo> =
        snaps.iter().filter(|f| f.created_at < threshold && f.key != newest.key).map(|f| (*f).clone()).collect();
    let Some(floor) = old.iter().map(|f| f.max_txid).max() else {
        return Ok(0);
    };
    let mut doomed = old;
    for level in 1..=max_level {
        let files: Vec<&FileInfo> = all.iter().filter(|f| f.level == level).collect();
        let Some(last) = files.last() else { continue };
        doomed.extend(files.iter().filter(|f| f.max_txid < floor && f.key != last.key).map(|f| (*f).clone()));
    }
    delete_safely(store, &all, doomed, "snapshot retention").await
}

/// The background loop; stops when `stop` changes.
pub(crate) async fn run(opts: ReplicatorOptions, store: Store, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let levels: Vec<(u32, Duration)> =
        opts.compaction_intervals.iter().enumerate().map(|(i, d)| (i as u32 + 1, *d)).collect();
    let max_level = levels.len() as u32;
    let l0_check = l0_check_interval(&opts);
    let snapshot_check = snapshot_check_interval(&opts);
    let mut last_l0_check = tokio::time::Instant::now();
    let mut last_snapshot_check = tokio::time::Instant::now();
    loop {
        // Wake at the next level boundary or retention check, whichever comes first.
        let now = Utc::now();
        let mut wait = l0_check.min(snapshot_check);
        for (_, interval) in &levels {
            let next = prev_boundary(now, *interval) + *interval;
            let d = (next - now).to_std().unwrap_or_default() + Duration::from_millis(50);
            wait = wait.min(d);
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        if shared.inner.lock().fenced {
            continue;
        }
        for (level, interval) in &levels {
            match compact_level(&store, *level, *interval, opts.page_encoding).await {
                Ok(Some(_)) => shared.inner.lock().last_compaction_at = Some(SystemTime::now()),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(level, error = %e, "compaction failed");
                    shared.record_error(&e);
                }
            }
        }
        if last_l0_check.elapsed() >= l0_check {
            last_l0_check = tokio::time::Instant::now();
            if let Err(e) = enforce_l0_retention(&store, opts.l0_retention).await {
                tracing::warn!(error = %e, "L0 retention failed");
            }
        }
        if last_snapshot_check.elapsed() >= snapshot_check {
            last_snapshot_check = tokio::time::Instant::now();
            if let Err(e) = enforce_snapshot_retention(&store, opts.retention, max_level).await {
                tracing::warn!(error = %e, "snapshot retention failed");
            }
        }
    }
}
