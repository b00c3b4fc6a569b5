//! A small pool of read-only-by-convention connections; reads run on tokio's blocking threads.

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::{ConnectionOptions, DbError, open_connection};

pub struct ReaderPool {
    connections: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
}

impl ReaderPool {
    pub fn open(path: &Path, opts: &ConnectionOptions, size: usize) -> Result<Self, DbError> {
        let mut conns = Vec::with_capacity(size);
        for _ in 0..size {
            let conn = open_connection(path, opts, false)?;
            // Readers never write: make that a guarantee, not a convention.
            conn.execute_batch("PRAGMA query_only = ON")?;
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
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&conn)));
            pool.lock().push(conn);
            drop(permit);
            result
        })
        .await;
        match joined {
            Ok(Ok(result)) => result,
            _ => Err(E::from(DbError::Open { path: "reader".into(), message: "a database read panicked".into() })),
        }
    }
}
