//! How the writer thread waits for the write lock when another connection holds it.
//!
//! In this process that is the replication shipper's checkpoint step, which holds the lock for
//! 13-20 ms per round under heavy writes. SQLite's own `busy_timeout` handler sleeps 1, 2, 5, 10,
//! 15, 20, 25, 25, 25, 50, 50 and then 100 ms between tries, so a writer that met a lock held for
//! 30 ms woke up at 33 or 53 ms: every vote queued behind it waited up to 25 ms longer than the
//! lock was held. Looking again every millisecond costs at most a thousand wake-ups a second, and
//! only while blocked.

use std::cell::Cell;
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// The pause between two tries for the lock.
const POLL: Duration = Duration::from_millis(1);

thread_local! {
    /// The longest one statement waits (the configured `busy_timeout`); per thread, because a
    /// busy handler is a plain function pointer and runs on the thread running the statement.
    static LIMIT: Cell<Duration> = const { Cell::new(Duration::from_secs(5)) };
    /// When the current wait began (SQLite numbers the tries of one wait from 0).
    static SINCE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Makes statements on `conn`, run from this thread, wait at most `limit` for a lock, looking
/// again every millisecond.
pub fn poll_for_locks(conn: &mut Connection, limit: Duration) -> rusqlite::Result<()> {
    LIMIT.with(|l| l.set(limit));
    conn.busy_handler(Some(try_again))
}

/// Runs `f` (statements on a connection set up by [`poll_for_locks`] on this thread) with a
/// shorter wait for locks, then restores the usual one.
pub fn waiting_at_most<T>(limit: Duration, f: impl FnOnce() -> T) -> T {
    let usual = LIMIT.with(|l| l.replace(limit));
    let result = f();
    LIMIT.with(|l| l.set(usual));
    result
}

/// SQLite's busy handler: `true` tries again, `false` gives up with SQLITE_BUSY.
fn try_again(attempt: i32) -> bool {
    let now = Instant::now();
    let since = SINCE.with(|s| {
        if attempt == 0 || s.get().is_none() {
            s.set(Some(now));
        }
        s.get().unwrap_or(now)
    });
    if now.duration_since(since) >= LIMIT.with(Cell::get) {
        return false;
    }
    std::thread::sleep(POLL);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock.db");
        let c = Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);").unwrap();
        (dir, path)
    }

    #[test]
    fn each_try_waits_about_a_millisecond_not_sqlites_long_steps() {
        let started = Instant::now();
        waiting_at_most(Duration::from_secs(5), || {
            for attempt in 0..30 {
                assert!(try_again(attempt), "gave up on try {attempt}");
            }
        });
        let took = started.elapsed();
        // SQLite's busy_timeout handler sleeps about 2.1 s over its first 30 tries.
        assert!(took >= Duration::from_millis(30) && took < Duration::from_millis(500), "30 tries took {took:?}");
    }

    #[test]
    fn a_lock_held_past_the_limit_gives_busy() {
        let (_dir, path) = database();
        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut conn = Connection::open(&path).unwrap();
        poll_for_locks(&mut conn, Duration::from_millis(30)).unwrap();
        let started = Instant::now();
        let err = conn.execute_batch("BEGIN IMMEDIATE").unwrap_err();
        assert_eq!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(30));
        // A second wait starts its own clock.
        let started = Instant::now();
        assert!(conn.execute_batch("BEGIN IMMEDIATE").is_err());
        assert!(started.elapsed() >= Duration::from_millis(30));
        // A shorter limit for one call, then the usual one again.
        let started = Instant::now();
        assert!(waiting_at_most(Duration::ZERO, || conn.execute_batch("BEGIN IMMEDIATE")).is_err());
        assert!(started.elapsed() < Duration::from_millis(30), "{:?}", started.elapsed());
        let started = Instant::now();
        assert!(conn.execute_batch("BEGIN IMMEDIATE").is_err());
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
