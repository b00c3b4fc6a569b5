//! Opening a connection with the pragmas every connection needs.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{DbError, DbOptions};
use crate::config::Synchronous;

#[derive(Debug, Clone)]
pub struct ConnectionOptions {
    pub synchronous: Synchronous,
    pub busy_timeout: Duration,
    pub external_checkpoints: bool,
}

impl From<&DbOptions> for ConnectionOptions {
    fn from(o: &DbOptions) -> Self {
        Self { synchronous: o.synchronous, busy_timeout: o.busy_timeout, external_checkpoints: o.external_checkpoints }
    }
}

/// Bytes the WAL file is cut back to whenever it restarts from its beginning (after a checkpoint
/// that copied everything), and past which the background checkpointer truncates it: without a
/// limit the file keeps the largest size it ever reached, and on a small disk that was the disk.
pub const WAL_SIZE_LIMIT: u64 = 64 << 20;

/// Opens `path` in WAL mode. A file that is not a SQLite database gives an error naming the path.
pub fn open_connection(path: &Path, opts: &ConnectionOptions, read_only: bool) -> Result<Connection, DbError> {
    let open_err = |message: String| DbError::Open { path: path.to_path_buf(), message };
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_err(e.to_string()))?;
    conn.busy_timeout(opts.busy_timeout).map_err(|e| open_err(e.to_string()))?;
    // The first statement reads the header: a corrupt file fails here, with the path in the error.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| open_err(format!("cannot open as SQLite database: {e}")))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(open_err(format!("could not enable WAL mode (journal_mode is {mode})")));
    }
    let sync = match opts.synchronous {
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
    };
    // secure_delete: deleted or overwritten rows are zeroed in their pages, so erased personal data
    // does not linger in free space of the file (README "Security and privacy").
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {sync};
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -16000;
         PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};
         PRAGMA mmap_size = 268435456;"
    ))
    .map_err(|e| open_err(e.to_string()))?;
    if opts.external_checkpoints {
        // The replication shipper owns checkpoints: none on commit, and none when the last
        // connection closes, so a restart resumes from the WAL instead of re-uploading a snapshot.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0;").map_err(|e| open_err(e.to_string()))?;
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(|e| open_err(e.to_string()))?;
    }
    // Query-planner stability: without it SQLite 3.5x marks a cached statement for re-preparation
    // whenever a bound value may change its plan (it does for every join filtered by a parameter,
    // e.g. shows by slug), and rusqlite clears the bindings each time a statement goes back to the
    // cache, so such statements were parsed and planned again on every use (58 us instead of 7 us
    // per show lookup). Our plans do not depend on parameter values: we never ANALYZE.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(|e| open_err(e.to_string()))?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}
