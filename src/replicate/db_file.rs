//! The database file as a read-only descriptor that stays open for the life of the process.
//!
//! The shipper reads database pages directly (the pages a WAL frame does not cover). It must not
//! open and close the database file as it goes: POSIX record locks belong to the process, and
//! closing *any* descriptor of a file drops every lock the process holds on that file, SQLite's
//! included. Another process (a CLI command, `sqlite3`) would then take the database for unused and
//! delete or checkpoint the live WAL under the server. A shipper is stopped and started again on
//! every leadership change, so it cannot own the descriptor either: descriptors live here, one per
//! file (device and inode), and are never closed. A file replaced by a restore gets a new entry;
//! the old descriptor stays open, which costs one descriptor per restore.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

type FileId = (u64, u64);

#[derive(Default)]
struct OpenFiles {
    by_id: HashMap<FileId, Arc<File>>,
    /// Second descriptors of an already kept file (a race with a rename); kept open, never used.
    spare: Vec<File>,
}

fn open_files() -> &'static Mutex<OpenFiles> {
    static FILES: OnceLock<Mutex<OpenFiles>> = OnceLock::new();
    FILES.get_or_init(Default::default)
}

/// The process's descriptor of the database file at `path`; opened on first use, never closed.
pub(crate) fn database_file(path: &Path) -> io::Result<Arc<File>> {
    let mut files = open_files().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // stat takes no descriptor, so looking up an already open file is safe.
    let meta = std::fs::metadata(path)?;
    if let Some(file) = files.by_id.get(&(meta.dev(), meta.ino())) {
        return Ok(Arc::clone(file));
    }
    let file = File::open(path)?;
    // Key by what was opened: the path may have been replaced between the stat and the open.
    let opened = file.metadata()?;
    let id = (opened.dev(), opened.ino());
    if let Some(kept) = files.by_id.get(&id).cloned() {
        // Closing this second descriptor would drop the process's locks: keep it too.
        files.spare.push(file);
        return Ok(kept);
    }
    let file = Arc::new(file);
    files.by_id.insert(id, Arc::clone(&file));
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_descriptor_per_file_and_a_new_one_for_a_replaced_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        std::fs::write(&path, b"one").unwrap();
        let a = database_file(&path).unwrap();
        let b = database_file(&path).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "the same file is opened once");
        let replacement = dir.path().join("y.db");
        std::fs::write(&replacement, b"two").unwrap();
        std::fs::rename(&replacement, &path).unwrap();
        let c = database_file(&path).unwrap();
        assert!(!Arc::ptr_eq(&a, &c), "a replaced file gets its own descriptor");
        assert_eq!(a.metadata().unwrap().len(), 3, "the old descriptor still reads the old file");
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(database_file(&dir.path().join("missing.db")).is_err());
    }
}
