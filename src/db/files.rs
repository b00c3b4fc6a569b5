//! Facts about the database's files on disk: their sizes, the space left on their filesystem, and
//! whether the operating system still lets us write them.
//!
//! "Writable" is checked without writing and **without opening**: the filesystem's read-only mount
//! flag (statvfs `ST_RDONLY`, what an ext4 `errors=remount-ro` after an I/O error or an operator's
//! `mount -o remount,ro` sets), then access(2) with `W_OK` on the database file and its WAL (EROFS on
//! a read-only mount, EACCES when permissions forbid it; root bypasses permissions, so for root only
//! the mount counts), then opening a probe file of its own in the data directory for write (what
//! ext4 refuses at once after an I/O error, before it marks the mount read-only). Nothing is written
//! to the database, so the check never produces a WAL frame to upload.
//!
//! Never open-and-close the database file or its `-shm` in a process that has the database open:
//! POSIX record locks belong to the process, and closing *any* descriptor of a file releases every
//! lock the process holds on it, SQLite's included. Another process (a CLI command, `sqlite3`) then
//! believes nobody uses the database and deletes or checkpoints the live WAL under the server. This
//! module only calls stat, statvfs and access, which take no descriptor.

use std::path::{Path, PathBuf};

/// Sizes in bytes; a missing file counts as 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileSizes {
    pub db: u64,
    pub wal: u64,
}

/// Space on the filesystem holding the data directory, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskSpace {
    pub total: u64,
    /// Available to an unprivileged process (statvfs `f_bavail`): what SQLite can actually use.
    pub available: u64,
}

pub fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

pub fn sizes(db: &Path) -> FileSizes {
    let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    FileSizes { db: len(db), wal: len(&wal_path(db)) }
}

fn data_dir(db: &Path) -> &Path {
    db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

pub fn disk_space(db: &Path) -> Option<DiskSpace> {
    let st = rustix::fs::statvfs(data_dir(db)).ok()?;
    Some(DiskSpace { total: st.f_blocks * st.f_frsize, available: st.f_bavail * st.f_frsize })
}

/// Why the OS would refuse writes to the database files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilesNotWritable {
    #[error("the filesystem holding the database is mounted read-only")]
    ReadOnlyMount,
    /// `which`: "database file" or "WAL file"; `cause`: what the OS said.
    #[error("the {which} is not writable ({cause})")]
    File { which: &'static str, cause: String },
    #[error("the database file is not writable: its directory refuses writes ({cause})")]
    Directory { cause: String },
}

/// Err when the database or its WAL cannot be written (read-only mount, permissions).
pub fn check_writable(db: &Path) -> Result<(), FilesNotWritable> {
    if let Ok(st) = rustix::fs::statvfs(data_dir(db))
        && st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY)
    {
        return Err(FilesNotWritable::ReadOnlyMount);
    }
    for path in [db.to_path_buf(), wal_path(db)] {
        match rustix::fs::access(&path, rustix::fs::Access::WRITE_OK) {
            Ok(()) => {}
            Err(rustix::io::Errno::NOENT) if path != db => {} // no WAL yet
            Err(e) => {
                let which = if path == db { "database file" } else { "WAL file" };
                return Err(FilesNotWritable::File { which, cause: std::io::Error::from(e).to_string() });
            }
        }
    }
    // A filesystem can refuse writes without saying so in statvfs or access(2): ext4 after an I/O
    // error (errors=remount-ro) refuses opening for write at once but marks the mount read-only only
    // later, or not at all. Opening a probe file of our own for write sees that; it is not one of
    // the database's files, so closing it drops no lock.
    let probe = data_dir(db).join(".mysetlist-write-probe");
    if let Err(e) = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(&probe) {
        return Err(FilesNotWritable::Directory { cause: e.to_string() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_space_of_a_real_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        std::fs::write(&db, vec![0u8; 4096]).unwrap();
        assert_eq!(sizes(&db), FileSizes { db: 4096, wal: 0 });
        let space = disk_space(&db).expect("statvfs works on the temp dir");
        assert!(space.total > 0 && space.available <= space.total);
        assert_eq!(check_writable(&db), Ok(()));
        assert!(check_writable(&dir.path().join("missing.db")).unwrap_err().to_string().contains("database file"));
    }
}
