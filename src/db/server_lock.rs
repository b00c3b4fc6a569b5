//! One server per database, and a way for commands run beside it to see that it runs.
//!
//! `serve` holds an exclusive `flock` on `<database>.lock` for as long as it runs. A second server on
//! the same database refuses to start, and commands that must not run under a live server
//! (`migrate`, `restore` onto the live file, commands that would migrate) refuse with a message that
//! names the server's process. `flock` locks belong to the open file description, not to the
//! process, so they are independent of SQLite's POSIX locks on the database itself: opening and
//! closing the lock file elsewhere drops nothing.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

use super::DbError;

/// Held by a running server; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct ServerLock {
    _file: File,
}

pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl ServerLock {
    /// Takes the lock, or fails naming the process that holds it.
    pub fn acquire(db: &Path) -> Result<ServerLock, DbError> {
        let path = lock_path(db);
        super::check_data_dir(db)?;
        let open_err = |e: std::io::Error| DbError::Open { path: path.clone(), message: format!("lock file: {e}") };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(open_err)?;
        if let Err(e) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
            if e == rustix::io::Errno::WOULDBLOCK {
                return Err(DbError::Open { path: db.to_path_buf(), message: held_message(&mut file) });
            }
            return Err(open_err(e.into()));
        }
        // The holder's pid, for the messages of commands that find the lock taken.
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .map_err(open_err)?;
        Ok(ServerLock { _file: file })
    }
}

/// `Some(message)` when a server holds the lock of `db` right now.
pub fn running_server(db: &Path) -> Option<String> {
    let mut file = File::open(lock_path(db)).ok()?;
    match flock(&file, FlockOperation::NonBlockingLockShared) {
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Some(held_message(&mut file)),
        _ => None, // our shared lock goes with the descriptor
    }
}

fn held_message(file: &mut File) -> String {
    let mut pid = String::new();
    let _ = file.read_to_string(&mut pid);
    match pid.trim() {
        "" => "a mysetlist server is running on this database".to_owned(),
        pid => format!("a mysetlist server (process {pid}) is running on this database"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_named_until_the_first_goes() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        assert_eq!(running_server(&db), None, "no lock file, no server");
        let held = ServerLock::acquire(&db).unwrap();
        let msg = running_server(&db).expect("the lock is seen as held");
        assert!(msg.contains(&std::process::id().to_string()), "{msg}");
        let err = ServerLock::acquire(&db).unwrap_err().to_string();
        assert!(err.contains("is running on this database"), "{err}");
        drop(held);
        assert_eq!(running_server(&db), None);
        ServerLock::acquire(&db).expect("free again");
    }
}
