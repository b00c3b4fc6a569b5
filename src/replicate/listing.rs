//! `list`: what the bucket holds, for `mysetlist backup list` and operators.

use chrono::{DateTime, Utc};

use super::bucket::{SNAPSHOT_LEVEL, Store};
use super::error::ReplicateError;
use super::options::ReplicatorOptions;
use super::plan::{RestoreTarget, calc_restore_plan};
use super::v3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelSummary {
    pub level: u32,
    pub files: usize,
    pub bytes: u64,
    pub min_txid: u64,
    pub max_txid: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The snapshot holds the database as of this TXID.
    pub txid: u64,
    pub created_at: DateTime<Utc>,
    pub size: u64,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3GenerationSummary {
    pub generation: String,
    pub snapshots: usize,
    pub wal_segments: usize,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Why no "latest" restore is possible from the LTX files: the restore plan's refusal, kept as its
/// message so that a listing stays comparable and cloneable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotRestorable(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupListing {
    pub url: String,
    /// Levels that hold files, lowest first (9 = snapshots).
    pub levels: Vec<LevelSummary>,
    pub snapshots: Vec<SnapshotInfo>,
    /// Lowest and highest TXID present in any file.
    pub min_txid: Option<u64>,
    pub max_txid: Option<u64>,
    /// The TXID a "latest" restore reaches, or why none is possible.
    pub restorable_txid: Result<u64, NotRestorable>,
    pub v3_generations: Vec<V3GenerationSummary>,
}

/// Lists snapshots, levels and the restorable TXID range of the backup at `opts.url`.
pub async fn list(opts: &ReplicatorOptions) -> Result<BackupListing, ReplicateError> {
    opts.validate()?;
    let store = Store::new(opts)?;
    let files = store.list_all().await?;
    let mut levels = Vec::new();
    for level in 0..=SNAPSHOT_LEVEL {
        let lf: Vec<_> = files.iter().filter(|f| f.level == level).collect();
        if lf.is_empty() {
            continue;
        }
        levels.push(LevelSummary {
            level,
            files: lf.len(),
            bytes: lf.iter().map(|f| f.size).sum(),
            min_txid: lf.iter().map(|f| f.min_txid).min().unwrap_or(0),
            max_txid: lf.iter().map(|f| f.max_txid).max().unwrap_or(0),
        });
    }
    let snapshots = files
        .iter()
        .filter(|f| f.level == SNAPSHOT_LEVEL)
        .map(|f| SnapshotInfo { txid: f.max_txid, created_at: f.created_at, size: f.size, key: f.key.clone() })
        .collect();
    let restorable_txid = calc_restore_plan(&files, RestoreTarget::Latest)
        .map(|p| p.last().map_or(0, |f| f.max_txid))
        .map_err(|e| NotRestorable(e.to_string()));
    let g = v3::list(&store).await?;
    let mut names: Vec<&str> = g.snapshots.iter().map(|s| s.generation.as_str()).collect();
    names.extend(g.segments.iter().map(|s| s.generation.as_str()));
    names.sort_unstable();
    names.dedup();
    let v3_generations = names
        .into_iter()
        .map(|n| V3GenerationSummary {
            generation: n.to_string(),
            snapshots: g.snapshots.iter().filter(|s| s.generation == n).count(),
            wal_segments: g.segments.iter().filter(|s| s.generation == n).count(),
            updated_at: g
                .snapshots
                .iter()
                .filter(|s| s.generation == n)
                .map(|s| s.created_at)
                .chain(g.segments.iter().filter(|s| s.generation == n).map(|s| s.created_at))
                .max(),
        })
        .collect();
    Ok(BackupListing {
        url: store.url().to_string(),
        levels,
        snapshots,
        min_txid: files.iter().map(|f| f.min_txid).min(),
        max_txid: files.iter().map(|f| f.max_txid).max(),
        restorable_txid,
        v3_generations,
    })
}
