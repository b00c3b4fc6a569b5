//! Restore from Litestream v0.3's layout, so backups made before a move to 0.5 stay usable:
//!
//! ```text
//! <prefix>/generations/<generation>/snapshots/<index:08x>.snapshot.lz4   LZ4 frame of the database file
//! <prefix>/generations/<generation>/wal/<index:08x>_<offset:08x>.wal.lz4 LZ4 frame of raw WAL bytes
//! ```
//!
//! As in Litestream 0.5's `RestoreV3`: take the newest snapshot (or the newest not after the
//! target time), then, index by index from the snapshot's, concatenate that index's WAL
//! segments (offsets must start at 0 and follow each other) into a `-wal` file and let SQLite
//! apply it with `PRAGMA wal_checkpoint(TRUNCATE)`. Times come from the objects'
//! LastModified, as v0.3 stores no other timestamps.

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::bucket::{FileInfo, SNAPSHOT_LEVEL, Store};
use super::error::ReplicateError;
use super::lz4;
use super::plan::RestoreTarget;
use super::restored::{
    RestoreProgress, RestoreReport, RestoreSource, install, integrity_check, remove_db_files, temp_path, with_suffix,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Snapshot {
    pub generation: String,
    pub index: u32,
    pub key: String,
    pub size: u64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Segment {
    pub generation: String,
    pub index: u32,
    pub offset: u64,
    pub key: String,
    pub size: u64,
    pub created_at: DateTime<Utc>,
}

/// Everything found under `<prefix>/generations/`.
#[derive(Debug, Clone, Default)]
pub struct Generations {
    pub snapshots: Vec<V3Snapshot>,
    pub segments: Vec<V3Segment>,
}

impl Generations {
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty() && self.segments.is_empty()
    }

    pub fn updated_at(&self) -> Option<DateTime<Utc>> {
        let s = self.snapshots.iter().map(|s| s.created_at);
        s.chain(self.segments.iter().map(|s| s.created_at)).max()
    }

    /// The newest snapshot, or the newest created at or before `ts`.
    fn best_snapshot(&self, ts: Option<DateTime<Utc>>) -> Option<&V3Snapshot> {
        self.snapshots.iter().filter(|s| ts.is_none_or(|t| s.created_at <= t)).max_by_key(|s| s.created_at)
    }
}

fn hex_u32(s: &str) -> Option<u32> {
    (s.len() == 8).then(|| u32::from_str_radix(s, 16).ok()).flatten()
}

/// Lists the v0.3 generations (an empty result when there are none).
pub async fn list(store: &Store) -> Result<Generations, ReplicateError> {
    let base = store.key("generations/");
    let mut g = Generations::default();
    for (key, size, created_at) in store.list_objects("generations").await? {
        let Some(rel) = key.strip_prefix(&base) else {
            continue;
        };
        let parts: Vec<&str> = rel.split('/').collect();
        let [generation, kind, name] = parts[..] else {
            continue;
        };
        if generation.len() != 16 {
            continue;
        }
        match kind {
            "snapshots" => {
                if let Some(index) = name.strip_suffix(".snapshot.lz4").and_then(hex_u32) {
                    g.snapshots.push(V3Snapshot { generation: generation.into(), index, key, size, created_at });
                }
            }
            "wal" => {
                let Some((i, o)) = name.strip_suffix(".wal.lz4").and_then(|n| n.split_once('_')) else {
                    continue;
                };
                let offset = (8..=16).contains(&o.len()).then(|| u64::from_str_radix(o, 16).ok()).flatten();
                if let (Some(index), Some(offset)) = (hex_u32(i), offset) {
                    g.segments.push(V3Segment { generation: generation.into(), index, offset, key, size, created_at });
                }
            }
            _ => {}
        }
    }
    Ok(g)
}

/// Litestream's `shouldUseV3Restore`: v0.3 wins when it is all there is, or is newer.
pub fn should_use(g: &Generations, ltx_files: &[FileInfo], target: RestoreTarget) -> bool {
    if g.is_empty() {
        return false;
    }
    let Some(ltx_updated) = ltx_files.iter().map(|f| f.created_at).max() else {
        return true;
    };
    match target {
        RestoreTarget::Timestamp(ts) => {
            let ltx_snap =
                ltx_files.iter().filter(|f| f.level == SNAPSHOT_LEVEL && f.created_at < ts).map(|f| f.created_at).max();
            match g.best_snapshot(Some(ts)) {
                Some(s) => ltx_snap.is_none_or(|l| s.created_at > l),
                None => false,
            }
        }
        RestoreTarget::Latest => g.updated_at().is_some_and(|u| u > ltx_updated),
        RestoreTarget::Txid(_) => false,
    }
}

/// Restores a v0.3 generation into `out`.
pub(crate) async fn restore(
    store: &Store,
    g: &Generations,
    out: &Path,
    target: RestoreTarget,
    started: Instant,
    progress: &mut (impl FnMut(RestoreProgress) + Send),
) -> Result<RestoreReport, ReplicateError> {
    let ts = match target {
        RestoreTarget::Timestamp(t) => Some(t),
        _ => None,
    };
    let snap = g
        .best_snapshot(ts)
        .ok_or_else(|| ReplicateError::NoBackup("no v0.3 snapshot matches the target".into()))?
        .clone();
    let mut segments: Vec<V3Segment> = g
        .segments
        .iter()
        .filter(|s| s.generation == snap.generation && s.index >= snap.index)
        .filter(|s| ts.is_none_or(|t| s.created_at <= t))
        .cloned()
        .collect();
    segments.sort_by_key(|s| (s.index, s.offset));
    let tmp = temp_path(out);
    remove_db_files(&tmp);
    let result = restore_into(store, &snap, &segments, &tmp, progress).await;
    let (pages, page_size, last_index, bytes) = match result {
        Ok(v) => v,
        Err(e) => {
            remove_db_files(&tmp);
            return Err(e);
        }
    };
    if let Err(e) = integrity_check(&tmp).and_then(|()| install(&tmp, out)) {
        remove_db_files(&tmp);
        return Err(e);
    }
    tracing::info!(path = %out.display(), generation = %snap.generation, "v0.3 restore complete");
    Ok(RestoreReport {
        txid: None,
        timestamp: None,
        page_size,
        pages,
        bytes_downloaded: bytes,
        source: RestoreSource::V3 { generation: snap.generation.clone(), index: snap.index, last_index },
        duration: started.elapsed(),
    })
}

async fn restore_into(
    store: &Store,
    snap: &V3Snapshot,
    segments: &[V3Segment],
    tmp: &Path,
    progress: &mut (impl FnMut(RestoreProgress) + Send),
) -> Result<(u32, u32, u32, u64), ReplicateError> {
    let mut state = RestoreProgress {
        files_total: 1 + segments.len(),
        bytes_total: snap.size + segments.iter().map(|s| s.size).sum::<u64>(),
        ..RestoreProgress::default()
    };
    progress(state);
    let compressed = store.get(&snap.key).await?;
    let db = lz4::decompress_stream(&compressed).map_err(|e| ReplicateError::corrupt(&snap.key, e))?;
    if db.len() < 100 || &db[..16] != b"SQLite format 3\0" {
        return Err(ReplicateError::corrupt(&snap.key, "snapshot is not a SQLite database"));
    }
    std::fs::write(tmp, &db).map_err(|e| ReplicateError::io(format!("write {}", tmp.display()), e))?;
    state.files_done += 1;
    state.bytes_done += snap.size;
    progress(state);

    let mut expected_index = snap.index;
    let mut last_index = snap.index;
    let mut wal: Option<Vec<u8>> = None;
    for seg in segments {
        if seg.offset == 0 {
            if let Some(w) = wal.take() {
                apply_wal(tmp, &w, expected_index - 1)?;
            }
            if seg.index != expected_index {
                return Err(ReplicateError::Plan(format!(
                    "missing v0.3 WAL index {expected_index:08x} (next segment is {})",
                    seg.key
                )));
            }
            expected_index += 1;
            wal = Some(Vec::new());
        }
        let Some(w) = wal.as_mut() else {
            return Err(ReplicateError::Plan(format!(
                "v0.3 WAL segment {} does not start at offset 0 of its index",
                seg.key
            )));
        };
        if seg.offset != w.len() as u64 {
            return Err(ReplicateError::Plan(format!(
                "missing v0.3 WAL segment before {} (have {} bytes of index {:08x})",
                seg.key,
                w.len(),
                seg.index
            )));
        }
        let data = store.get(&seg.key).await?;
        let raw = lz4::decompress_stream(&data).map_err(|e| ReplicateError::corrupt(&seg.key, e))?;
        w.extend_from_slice(&raw);
        last_index = seg.index;
        state.files_done += 1;
        state.bytes_done += seg.size;
        progress(state);
    }
    if let Some(w) = wal.take() {
        apply_wal(tmp, &w, expected_index - 1)?;
    }
    let len = std::fs::metadata(tmp).map_err(|e| ReplicateError::io(format!("stat {}", tmp.display()), e))?.len();
    let page_size = match u16::from_be_bytes([db[16], db[17]]) {
        1 => 65536,
        n => u32::from(n),
    };
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| ReplicateError::io(format!("fsync {}", tmp.display()), e))?;
    Ok(((len / u64::from(page_size)) as u32, page_size, last_index, state.bytes_done))
}

/// Writes one WAL index beside the database and lets SQLite checkpoint it in.
fn apply_wal(db: &Path, wal: &[u8], index: u32) -> Result<(), ReplicateError> {
    let wal_path = with_suffix(db, "-wal");
    std::fs::write(&wal_path, wal).map_err(|e| ReplicateError::io(format!("write {}", wal_path.display()), e))?;
    let conn = Connection::open(db).map_err(|e| ReplicateError::sqlite(format!("open {}", db.display()), e))?;
    let (busy, log, done): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(|e| ReplicateError::sqlite(format!("apply v0.3 WAL index {index:08x}"), e))?;
    drop(conn);
    if busy != 0 || log != done {
        return Err(ReplicateError::Plan(format!(
            "v0.3 WAL index {index:08x} applied only partly ({done} of {log} frames)"
        )));
    }
    let _ = std::fs::remove_file(with_suffix(db, "-shm"));
    Ok(())
}
