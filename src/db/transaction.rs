//! Transaction control statements, run from the connection's statement cache: the writer runs
//! BEGIN/COMMIT around every group and savepoints around writes, and `execute_batch` would parse
//! each of them again every time (about 3% of the writer thread's time under a vote load).

use rusqlite::Connection;

use super::DbError;

/// Runs one statement from the connection's statement cache.
pub(crate) fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs `f` in a savepoint of its own: kept if it succeeds, rolled back if it fails, so that a
/// failure undoes its changes only. The outer error is the savepoint's own (the database failed);
/// the inner result is `f`'s.
pub(crate) fn within_savepoint<T, E>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, E>,
) -> Result<Result<T, E>, DbError> {
    exec_cached(conn, "SAVEPOINT write")?;
    match f(conn) {
        Ok(value) => match exec_cached(conn, "RELEASE write") {
            Ok(()) => Ok(Ok(value)),
            Err(e) => {
                roll_back(conn);
                Err(e.into())
            }
        },
        Err(e) => {
            roll_back(conn);
            Ok(Err(e))
        }
    }
}

fn roll_back(conn: &Connection) {
    // Fails only when SQLite has ended the transaction itself; the caller's transaction check
    // (or its commit) reports that.
    let _ = exec_cached(conn, "ROLLBACK TO write").and_then(|()| exec_cached(conn, "RELEASE write"));
}
