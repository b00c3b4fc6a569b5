//! The file a restore produces, whichever layout it came from (LTX in [`super::restore`], v0.3
//! generations in [`super::v3`]): the report, the temporary path beside the target, the
//! integrity check, and the fsynced rename into place. Both restores use this module; neither
//! uses the other.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};

use super::error::ReplicateError;
use super::txid::Txid;

/// Progress of a restore, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RestoreProgress {
    pub files_done: usize,
    pub files_total: usize,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// Which backup a restore used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreSource {
    /// LTX files; `files` lists `level/min-max` in the order applied.
    Ltx { files: Vec<String> },
    /// A v0.3 generation, from snapshot `index` plus WAL segments up to `last_index`.
    V3 { generation: String, index: u32, last_index: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The TXID restored (LTX layout only).
    pub txid: Option<Txid>,
    /// Header timestamp of the newest file applied (LTX layout only).
    pub timestamp: Option<DateTime<Utc>>,
    pub page_size: u32,
    pub pages: u32,
    pub bytes_downloaded: u64,
    pub source: RestoreSource,
    pub duration: Duration,
}

/// `<out>.restoring` and its SQLite companions.
pub(crate) fn temp_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".restoring");
    PathBuf::from(s)
}

pub(crate) fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

pub(crate) fn remove_db_files(p: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(with_suffix(p, suffix));
    }
}

/// Runs `PRAGMA integrity_check` and returns an error quoting SQLite unless it says "ok".
pub fn integrity_check(path: &Path) -> Result<(), ReplicateError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| ReplicateError::sqlite(format!("open {} for integrity check", path.display()), e))?;
    let rows: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| ReplicateError::IntegrityCheck { path: path.to_path_buf(), result: e.to_string() })?;
    drop(conn);
    let _ = std::fs::remove_file(with_suffix(path, "-wal"));
    let _ = std::fs::remove_file(with_suffix(path, "-shm"));
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        Err(ReplicateError::IntegrityCheck { path: path.to_path_buf(), result: rows.join("; ") })
    }
}

/// Makes a rename or deletion of `path` durable: fsyncs the directory that holds it (the working
/// directory for a bare file name, whose parent is the empty path).
pub(crate) fn fsync_parent(path: &Path) -> Result<(), ReplicateError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ReplicateError::io(format!("fsync directory {}", dir.display()), e))
}

/// Moves a verified database into place, dropping stale `-wal`/`-shm` files of the old one.
pub(crate) fn install(tmp: &Path, out: &Path) -> Result<(), ReplicateError> {
    let _ = std::fs::remove_file(with_suffix(out, "-wal"));
    let _ = std::fs::remove_file(with_suffix(out, "-shm"));
    std::fs::rename(tmp, out)
        .map_err(|e| ReplicateError::io(format!("rename {} to {}", tmp.display(), out.display()), e))?;
    fsync_parent(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_file_name_is_made_durable_in_the_working_directory() {
        // `mysetlist restore -o out.db`: the parent of a bare name is the empty path, which
        // cannot be opened; the directory to fsync is the working directory.
        fsync_parent(Path::new("out.db")).expect("fsyncs the working directory");
        let dir = tempfile::tempdir().unwrap();
        fsync_parent(&dir.path().join("x.db")).expect("fsyncs the named directory");
    }
}
