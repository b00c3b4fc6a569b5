//! SQLite access: one writer thread that group-commits, a pool of reader connections, migrations,
//! and plain functions per entity (one file each) that take a `&Connection`.

mod checkpointer;
mod commit_seq;
mod connection;
mod lock_wait;
mod migrate;
mod readers;
pub(crate) mod transaction;
mod write_job;
mod writer;

pub mod artists;
pub mod audit;
pub(crate) mod calendar_feeds;
pub(crate) mod email;
pub(crate) mod files;
pub(crate) mod insights;
pub mod jobs;
pub(crate) mod kv;
pub(crate) mod media;
pub(crate) mod password_resets;
pub(crate) mod reports;
pub(crate) mod search;
pub(crate) mod server_lock;
pub mod sessions;
pub mod setlist_fetches;
pub(crate) mod setlists;
pub(crate) mod show_lifecycle;
mod show_status;
pub mod shows;
pub(crate) mod song_stats;
pub(crate) mod songs;
pub(crate) mod stats;
mod stored_words;
pub(crate) mod users;
pub mod venues;
pub mod votes;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use commit_seq::CommitSeq;
pub use connection::{ConnectionOptions, open_connection};
pub use migrate::migrate;
pub(crate) use migrate::{MIGRATIONS, applied_migrations, migrate_within};
pub use readers::count_statements;
pub(crate) use rusqlite::Connection;
pub(crate) use writer::{COMMIT_BUCKETS, WriterStats};

use crate::config::Synchronous;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("migration {name}: {message}")]
    Migration { name: String, message: String },
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("writes are not durable yet: {0}")]
    NotDurable(String),
    #[error("{0}")]
    ReadOnly(WriteRefusal),
    /// The disk refused the write (full, read-only, I/O error); nothing of the group was stored.
    #[error("the disk refused the write: {0}")]
    Storage(String),
}

/// True for SQLite's answers that mean the disk, not the statement, failed: full, read-only,
/// I/O error, cannot open. They pass by themselves once the disk recovers.
pub fn is_storage_error(e: &rusqlite::Error) -> bool {
    use rusqlite::ffi::ErrorCode;
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DiskFull | ErrorCode::SystemIoFailure | ErrorCode::ReadOnly | ErrorCode::CannotOpen)
    )
}

impl DbError {
    /// The disk, not the request, is at fault (see [`is_storage_error`]).
    pub fn is_storage_failure(&self) -> bool {
        match self {
            DbError::Storage(_) => true,
            DbError::Sqlite(e) => is_storage_error(e),
            _ => false,
        }
    }

    /// True when a UNIQUE or PRIMARY KEY constraint refused the statement.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    }
}

/// Something that must hold before a committed write is acknowledged (`ack = "replicated"`):
/// resolves once every commit up to `commit_seq` is durable elsewhere.
pub trait DurabilityGate: Send + Sync + 'static {
    fn wait(&self, commit_seq: CommitSeq) -> Pin<Box<dyn Future<Output = Result<(), DbError>> + Send + '_>>;
}

/// Whether this node may write right now (standby and fenced nodes refuse).
pub trait WriteGuard: Send + Sync + 'static {
    /// `Err(why)` when writes must be refused.
    fn check(&self) -> Result<(), WriteRefusal>;
}

/// Why a node refuses a write without trying it; clients are told (`x-mysetlist-role`) so that
/// they send it to the leader instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WriteRefusal {
    /// Another node leads, or none does yet: this one follows, re-syncs, hands over, takes over
    /// or stepped down.
    #[error("this node is a standby and does not accept writes")]
    NotLeader,
}

impl WriteRefusal {
    /// The role a refusing node names in `x-mysetlist-role`.
    pub fn role(self) -> &'static str {
        match self {
            WriteRefusal::NotLeader => "standby",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DbOptions {
    pub path: PathBuf,
    pub readers: usize,
    pub synchronous: Synchronous,
    pub busy_timeout: Duration,
    /// When true, SQLite's auto-checkpoint is off and someone else (the replication shipper) checkpoints.
    pub external_checkpoints: bool,
}

impl DbOptions {
    /// The options `[database]` and `[replication]` ask for (with replication on, the shipper
    /// checkpoints).
    pub fn from_config(config: &crate::config::Config) -> Self {
        DbOptions {
            path: config.database_path(),
            readers: config.settings.database.readers,
            synchronous: config.settings.database.synchronous,
            busy_timeout: config.settings.database.busy_timeout,
            external_checkpoints: config.replication_enabled(),
        }
    }

    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            readers: 4,
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(5),
            external_checkpoints: false,
        }
    }
}

/// Handle to the database: cheap to clone.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    conn_opts: ConnectionOptions,
    writer: writer::WriterHandle,
    readers: readers::ReaderPool,
    gate: parking_lot::RwLock<Option<Arc<dyn DurabilityGate>>>,
    guard: parking_lot::RwLock<Option<Arc<dyn WriteGuard>>>,
    /// The last `quick_check`: None until one has run, then Ok or what SQLite reported.
    integrity: parking_lot::RwLock<Option<Result<(), IntegrityError>>>,
}

/// What the last `quick_check` found wrong, or why it could not tell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrityError {
    /// SQLite's own report (its first few problems).
    #[error("{0}")]
    Damaged(String),
    #[error("quick_check could not run: {0}")]
    NotRun(String),
    #[error("quick_check task failed: {0}")]
    TaskFailed(String),
}

impl Database {
    /// Opens (creating if needed) the database, applies migrations and starts the writer thread.
    pub fn open(options: &DbOptions) -> Result<Self, DbError> {
        Self::open_with(options, Migrations::Apply)
    }

    /// Opens a copy that another node writes (a standby following the bucket): like [`open`],
    /// but without migrations, so that nothing is written at open. The node migrates when it
    /// becomes the leader.
    ///
    /// [`open`]: Database::open
    pub fn open_follower(options: &DbOptions) -> Result<Self, DbError> {
        Self::open_with(options, Migrations::Skip)
    }

    /// For a command (import, user creation): [`Database::open`] when no server runs on the
    /// database, [`Database::open_beside_server`] when one does. Either way every access goes
    /// through SQLite and its locks, so the two processes never corrupt each other.
    pub fn open_for_command(options: &DbOptions) -> Result<Self, DbError> {
        if server_lock::running_server(&options.path).is_some() {
            Self::open_beside_server(options)
        } else {
            Self::open(options)
        }
    }

    /// Opens a database that a running server also has open (a command run beside it): no
    /// migrations, which are the server's to apply, and a clear error when this binary expects a
    /// schema the database does not have yet.
    pub fn open_beside_server(options: &DbOptions) -> Result<Self, DbError> {
        Self::open_with(options, Migrations::MustBeApplied)
    }

    fn open_with(options: &DbOptions, migrations: Migrations) -> Result<Self, DbError> {
        check_data_dir(&options.path)?;
        let conn_opts = ConnectionOptions::from(options);
        let mut writer_conn = open_connection(&options.path, &conn_opts, false)?;
        match migrations {
            Migrations::Apply => migrate(&mut writer_conn)?,
            Migrations::Skip => {}
            Migrations::MustBeApplied => {
                let applied = applied_migrations(&writer_conn).unwrap_or_default();
                if let Some(missing) = MIGRATIONS.iter().find(|(name, _)| !applied.iter().any(|a| a == name)) {
                    return Err(DbError::Migration {
                        name: missing.0.to_owned(),
                        message: "not applied yet, and a server is running on this database: stop it and \
                                  start the new version, which migrates at start"
                            .into(),
                    });
                }
            }
        }
        let readers = readers::ReaderPool::open(&options.path, &conn_opts, options.readers)?;
        // Without a replication shipper, checkpoints run in the background (checkpointer.rs) instead
        // of inside the writer's commits; outside a tokio runtime SQLite's auto-checkpoint stays on.
        let runtime = tokio::runtime::Handle::try_current().ok().filter(|_| !options.external_checkpoints);
        if runtime.is_some() {
            writer_conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        }
        let writer = writer::spawn(writer_conn, options.busy_timeout)?;
        if let Some(runtime) = runtime {
            checkpointer::start(&runtime, &options.path, &conn_opts, writer.commits(), writer.wal_restarter())?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                path: options.path.clone(),
                conn_opts,
                writer,
                readers,
                gate: parking_lot::RwLock::new(None),
                guard: parking_lot::RwLock::new(None),
                integrity: parking_lot::RwLock::new(None),
            }),
        })
    }

    /// Runs `f` inside the next group commit and resolves once the commit is durable
    /// (locally, or in S3 when a durability gate is installed). `f` runs in its own savepoint:
    /// if it returns an error, its changes are rolled back and the rest of the group commits.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let guard = self.write_guard::<E>()?;
        let (value, seq) = self.inner.writer.submit(move |conn: &Connection| guarded(&guard, conn, f)).await?;
        self.durable(seq).await.map_err(E::from)?;
        Ok(value)
    }

    /// [`Database::write`] for a write that may run more than once in its group: one that changes
    /// rows only (no schema) and does nothing outside the database, whose answer is its last run's.
    /// Such writes share a group without a savepoint each (the hot write, a vote: README "Where the
    /// writer spends its time"); a failure still undoes only its own changes (`db::write_job`).
    pub async fn write_replayable<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: Fn(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let guard = self.write_guard::<E>()?;
        let (value, seq) =
            self.inner.writer.submit_replayable(move |conn: &Connection| guarded(&guard, conn, &f)).await?;
        self.durable(seq).await.map_err(E::from)?;
        Ok(value)
    }

    /// The write guard in force, after checking it here: it is checked again in the writer thread,
    /// since a write queued just before this node stopped accepting writes (lease lost, hand-over)
    /// must not commit after it stopped.
    fn write_guard<E: From<DbError>>(&self) -> Result<Option<Arc<dyn WriteGuard>>, E> {
        let guard = self.inner.guard.read().clone();
        if let Some(guard) = &guard {
            guard.check().map_err(|reason| E::from(DbError::ReadOnly(reason)))?;
        }
        Ok(guard)
    }

    /// Resolves once commit `seq` is durable: at once, or when the durability gate says so.
    async fn durable(&self, seq: CommitSeq) -> Result<(), DbError> {
        let gate = self.inner.gate.read().clone();
        match gate {
            Some(gate) => gate.wait(seq).await,
            None => Ok(()),
        }
    }

    /// Commits `f` through the writer although the write guard refuses writes, and without
    /// waiting for the durability gate; returns the commit sequence. Only for a new leader's
    /// barrier commit (migrations and a record of the takeover), written before the node
    /// accepts any other write: the guard keeps refusing everyone else until the leader has
    /// seen that commit stored (see `failover`). Going through the writer keeps the commit in
    /// the commit sequence the shipper follows, like every other write.
    pub async fn write_unguarded<T, E, F>(&self, f: F) -> Result<(T, CommitSeq), E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.inner.writer.submit(f).await
    }

    /// Waits until every write submitted before this call has committed or failed, and returns
    /// the commit sequence that covers them (a hand-over then waits for it to be in S3).
    pub async fn flush(&self) -> Result<CommitSeq, DbError> {
        let ((), seq) = self.inner.writer.submit(|_| Ok::<(), DbError>(())).await?;
        Ok(seq)
    }

    /// Runs a read on a pooled reader connection off the async threads.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.inner.readers.run(f).await
    }

    /// Commit sequence numbers: bumped after every committed group (the replication shipper wakes on it).
    pub fn commits(&self) -> tokio::sync::watch::Receiver<CommitSeq> {
        self.inner.writer.commits()
    }

    pub fn writer_stats(&self) -> WriterStats {
        self.inner.writer.stats()
    }

    /// Sizes of the database file and its WAL.
    pub fn file_sizes(&self) -> files::FileSizes {
        files::sizes(&self.inner.path)
    }

    /// Space on the filesystem of the data directory (None when statvfs fails).
    pub fn disk_space(&self) -> Option<files::DiskSpace> {
        files::disk_space(&self.inner.path)
    }

    /// Err when the OS would refuse writes to the database files (see [`files`]).
    pub fn check_files_writable(&self) -> Result<(), files::FilesNotWritable> {
        files::check_writable(&self.inner.path)
    }

    /// Runs `PRAGMA quick_check` (every page and b-tree, without the slower index cross-check of
    /// `integrity_check`) through SQLite on its own read-only connection, and keeps the outcome for
    /// readiness and metrics. A corrupt page otherwise goes unnoticed until a request reads it.
    pub async fn quick_check(&self) -> Result<(), IntegrityError> {
        let (path, opts) = (self.inner.path.clone(), self.inner.conn_opts.clone());
        let outcome = tokio::task::spawn_blocking(move || -> Result<Result<(), IntegrityError>, DbError> {
            let conn = open_connection(&path, &opts, true)?;
            let mut stmt = conn.prepare("PRAGMA quick_check(5)")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
            Ok(if rows == ["ok"] { Ok(()) } else { Err(IntegrityError::Damaged(rows.join("; "))) })
        })
        .await;
        let outcome = match outcome {
            Ok(Ok(checked)) => checked,
            Ok(Err(e)) => Err(IntegrityError::NotRun(e.to_string())),
            Err(e) => Err(IntegrityError::TaskFailed(e.to_string())),
        };
        match &outcome {
            Ok(()) => tracing::info!("database quick_check: ok"),
            Err(problem) => tracing::error!(problem = %problem, "database quick_check found damage"),
        }
        *self.inner.integrity.write() = Some(outcome.clone());
        outcome
    }

    /// The last [`Database::quick_check`] (None before the first).
    pub fn integrity(&self) -> Option<Result<(), IntegrityError>> {
        self.inner.integrity.read().clone()
    }

    pub fn set_durability_gate(&self, gate: Option<Arc<dyn DurabilityGate>>) {
        *self.inner.gate.write() = gate;
    }

    pub fn set_write_guard(&self, guard: Option<Arc<dyn WriteGuard>>) {
        *self.inner.guard.write() = guard;
    }

    /// Copies every committed page into the database file and empties the WAL file, so that
    /// overwritten or deleted content (an erased account) is gone from both files. Only when this
    /// process owns checkpoints: with replication the shipper checkpoints (Ok(false), nothing done).
    /// Ok(false) as well when readers kept the checkpoint from completing; the next one finishes it.
    pub async fn checkpoint_truncate(&self) -> Result<bool, DbError> {
        if self.inner.conn_opts.external_checkpoints {
            return Ok(false);
        }
        let (path, opts) = (self.inner.path.clone(), self.inner.conn_opts.clone());
        let task_path = path.clone();
        tokio::task::spawn_blocking(move || -> Result<bool, DbError> {
            let conn = open_connection(&task_path, &opts, false)?;
            let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            Ok(busy == 0)
        })
        .await
        .map_err(|e| DbError::Open { path, message: format!("checkpoint task failed: {e}") })?
    }

    /// Stops the writer after draining queued writes.
    pub async fn close(&self) {
        self.inner.writer.shutdown().await;
    }
}

/// What opening does about migrations.
enum Migrations {
    Apply,
    Skip,
    MustBeApplied,
}

/// Checks the data directory up front so a bad path gives an error that names it.
fn check_data_dir(db_path: &Path) -> Result<(), DbError> {
    let dir = db_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let err = |message: String| DbError::Open { path: dir.to_path_buf(), message };
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create the data directory: {e}")))?;
    }
    if !dir.is_dir() {
        return Err(err("is not a directory".into()));
    }
    let probe = dir.join(".mysetlist-write-probe");
    std::fs::write(&probe, b"probe").map_err(|e| err(format!("the data directory is not writable: {e}")))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Current time as unix seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Runs `f` unless the write guard (checked again here, in the writer thread) refuses.
fn guarded<T, E, F>(guard: &Option<Arc<dyn WriteGuard>>, conn: &Connection, f: F) -> Result<T, E>
where
    F: FnOnce(&Connection) -> Result<T, E>,
    E: From<DbError>,
{
    if let Some(guard) = guard {
        guard.check().map_err(|reason| E::from(DbError::ReadOnly(reason)))?;
    }
    f(conn)
}

/// The query plan SQLite picks for `sql` (every parameter bound to 1), its steps joined by "; ".
#[cfg(test)]
pub(crate) fn plan_of(c: &Connection, sql: &str) -> String {
    let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let count = stmt.parameter_count();
    let params = rusqlite::params_from_iter(std::iter::repeat_n(1, count));
    stmt.query_map(params, |r| r.get::<_, String>(3)).unwrap().collect::<Result<Vec<_>, _>>().unwrap().join("; ")
}
