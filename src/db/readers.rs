//! A small pool of read-only-by-convention connections; reads run on tokio's blocking threads.

use std::cell::Cell;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::{ConnectionOptions, DbError, open_connection};

thread_local! {
    /// Statements started on this thread's reader connections (SQLite's statement trace).
    static THREAD_STATEMENTS: Cell<u64> = const { Cell::new(0) };
}

tokio::task_local! {
    static TASK_STATEMENTS: Cell<u64>;
}

/// Runs `fut` and counts the SQL statements that the database reads awaited inside it executed
/// (cache hits execute none). Tests use it to assert that a page costs a fixed number of queries,
/// whatever the size of the data (no N+1).
pub async fn count_statements<F: Future>(fut: F) -> (F::Output, u64) {
    TASK_STATEMENTS
        .scope(Cell::new(0), async move {
            let out = fut.await;
            (out, TASK_STATEMENTS.with(Cell::get))
        })
        .await
}

pub struct ReaderPool {
    connections: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
}

impl ReaderPool {
    pub fn open(path: &Path, opts: &ConnectionOptions, size: usize) -> Result<Self, DbError> {
        let mut conns = Vec::with_capacity(size);
        for _ in 0..size {
            let mut conn = open_connection(path, opts, false)?;
            // Readers never write: make that a guarantee, not a convention.
            conn.execute_batch("PRAGMA query_only = ON")?;
            // Count statements for `count_statements` (a thread-local increment per statement).
            conn.trace_v2(
                rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
                Some(|_: rusqlite::trace::TraceEvent<'_>| THREAD_STATEMENTS.with(|n| n.set(n.get() + 1))),
            )?;
            conns.push(conn);
        }
        Ok(Self { connections: Arc::new(Mutex::new(conns)), permits: Arc::new(Semaphore::new(size)) })
    }

    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let permit = self.permits.clone().acquire_owned().await.map_err(|_| E::from(DbError::WriterGone))?;
        let pool = self.connections.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let conn = pool.lock().pop().expect("a permit guarantees a free connection");
            let before = THREAD_STATEMENTS.with(Cell::get);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&conn)));
            let statements = THREAD_STATEMENTS.with(Cell::get) - before;
            pool.lock().push(conn);
            drop(permit);
            result.map(|r| (r, statements))
        })
        .await;
        match joined {
            Ok(Ok((result, statements))) => {
                let _ = TASK_STATEMENTS.try_with(|n| n.set(n.get() + statements));
                result
            }
            _ => Err(E::from(DbError::Open { path: "reader".into(), message: "a database read panicked".into() })),
        }
    }
}
