//! The single writer thread. It drains every queued write into one transaction (group commit),
//! commits once, then completes each request: one fsync is shared by the whole group.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, watch};

use super::transaction::exec_cached;
use super::write_job::{Completion, QueuedWrite, Write};
use super::{CommitSeq, DbError};

/// Upper bound on writes per transaction: keeps the latency of the first write in a group bounded.
const MAX_BATCH: usize = 1024;
/// Bound on queued writes: beyond it callers wait (back-pressure instead of unbounded memory).
const QUEUE_CAPACITY: usize = 8192;

type Job = Box<dyn QueuedWrite>;

enum Message {
    Job(Job),
    /// A RESTART checkpoint between two groups (`WalRestarter`); answers whether it completed.
    RestartWal(oneshot::Sender<Result<bool, DbError>>),
    Shutdown(oneshot::Sender<()>),
}

/// Upper bounds (seconds) of the commit-duration histogram buckets; a last, unbounded bucket follows.
pub const COMMIT_BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Counters read by /metrics, the status page and the writer-stalled alert.
#[derive(Debug, Clone, Default)]
pub struct WriterStats {
    pub commits: u64,
    pub writes: u64,
    pub failed_commits: u64,
    pub last_batch_size: u64,
    pub commit_micros_total: u64,
    pub queue_depth: u64,
    /// Commits per duration bucket (not cumulative): `COMMIT_BUCKETS.len() + 1` entries, the last one
    /// counting commits slower than the largest bound.
    pub commit_buckets: Vec<u64>,
    /// Unix milliseconds at which the writer started the group it is working on; None when idle.
    /// A group that stays busy for long means the writer is stuck (slow disk, a hung write).
    pub busy_since_unix_ms: Option<u64>,
    /// The last group failed because the disk refused it (full, read-only, I/O error).
    pub storage_failing: bool,
}

#[derive(Default)]
struct Counters {
    commits: AtomicU64,
    writes: AtomicU64,
    failed_commits: AtomicU64,
    last_batch_size: AtomicU64,
    commit_micros_total: AtomicU64,
    commit_buckets: [AtomicU64; COMMIT_BUCKETS.len() + 1],
    /// 0 while idle.
    busy_since_unix_ms: AtomicU64,
    storage_failing: std::sync::atomic::AtomicBool,
}

impl Counters {
    fn observe_commit(&self, seconds: f64) {
        let bucket = COMMIT_BUCKETS.iter().position(|bound| seconds <= *bound).unwrap_or(COMMIT_BUCKETS.len());
        self.commit_buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(1).max(1)
}

pub struct WriterHandle {
    tx: mpsc::Sender<Message>,
    commits: watch::Receiver<CommitSeq>,
    counters: Arc<Counters>,
}

/// Starts the writer thread on `conn`; a write waits at most `lock_wait` for a lock another
/// connection holds (`storage.busy_timeout`).
pub fn spawn(conn: Connection, lock_wait: Duration) -> Result<WriterHandle, DbError> {
    let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
    let (commits_tx, commits) = watch::channel(CommitSeq::default());
    let counters = Arc::new(Counters::default());
    let thread_counters = counters.clone();
    // Inside the runtime's context (where there is one), so that the write guard's deadline checks
    // read the runtime's clock: the failover simulation pauses and advances it.
    let runtime = tokio::runtime::Handle::try_current().ok();
    std::thread::Builder::new()
        .name("db-writer".into())
        .spawn(move || {
            let _context = runtime.as_ref().map(|r| r.enter());
            run(conn, lock_wait, rx, commits_tx, thread_counters)
        })
        .map_err(|e| DbError::Open { path: "db-writer thread".into(), message: e.to_string() })?;
    Ok(WriterHandle { tx, commits, counters })
}

impl WriterHandle {
    /// Queues a write that runs once, in its own savepoint.
    pub async fn submit<T, E, F>(&self, f: F) -> Result<(T, CommitSeq), E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<(T, CommitSeq), E>>();
        self.queue(Box::new(Write::once(f, reply)), answer).await
    }

    /// Queues a write that may run more than once (see `write_job`): it changes rows only, and
    /// nothing outside the database; the answer is its last run's.
    pub async fn submit_replayable<T, E, F>(&self, f: F) -> Result<(T, CommitSeq), E>
    where
        F: Fn(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<(T, CommitSeq), E>>();
        self.queue(Box::new(Write::replayable(f, reply)), answer).await
    }

    async fn queue<T, E>(
        &self,
        job: Job,
        answer: oneshot::Receiver<Result<(T, CommitSeq), E>>,
    ) -> Result<(T, CommitSeq), E>
    where
        E: From<DbError>,
    {
        self.tx.send(Message::Job(job)).await.map_err(|_| E::from(DbError::WriterGone))?;
        answer.await.map_err(|_| {
            if self.counters.storage_failing.load(Ordering::Relaxed) {
                E::from(DbError::Storage("the write never ran: the disk refuses writes".into()))
            } else {
                E::from(DbError::WriterGone)
            }
        })?
    }

    pub fn commits(&self) -> watch::Receiver<CommitSeq> {
        self.commits.clone()
    }

    /// For the checkpointer: restarts the WAL between two groups.
    pub fn wal_restarter(&self) -> WalRestarter {
        WalRestarter { tx: self.tx.clone() }
    }

    pub fn stats(&self) -> WriterStats {
        let c = &self.counters;
        WriterStats {
            commits: c.commits.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
            failed_commits: c.failed_commits.load(Ordering::Relaxed),
            last_batch_size: c.last_batch_size.load(Ordering::Relaxed),
            commit_micros_total: c.commit_micros_total.load(Ordering::Relaxed),
            queue_depth: (QUEUE_CAPACITY - self.tx.capacity()) as u64,
            commit_buckets: c.commit_buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
            busy_since_unix_ms: Some(c.busy_since_unix_ms.load(Ordering::Relaxed)).filter(|ms| *ms != 0),
            storage_failing: c.storage_failing.load(Ordering::Relaxed),
        }
    }

    pub async fn shutdown(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Shutdown(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// Asks the writer thread for a RESTART checkpoint between two groups.
pub struct WalRestarter {
    tx: mpsc::Sender<Message>,
}

impl WalRestarter {
    /// Whether the WAL was fully copied and will restart with the next group.
    pub async fn restart(&self) -> Result<bool, DbError> {
        let (done, answer) = oneshot::channel();
        self.tx.send(Message::RestartWal(done)).await.map_err(|_| DbError::WriterGone)?;
        answer.await.map_err(|_| DbError::WriterGone)?
    }
}

fn run(
    mut conn: Connection,
    lock_wait: Duration,
    mut rx: mpsc::Receiver<Message>,
    commits: watch::Sender<CommitSeq>,
    counters: Arc<Counters>,
) {
    if let Err(e) = super::lock_wait::poll_for_locks(&mut conn, lock_wait) {
        tracing::warn!(error = %e, "the writer keeps SQLite's own lock wait");
    }
    let mut seq = CommitSeq::default();
    let mut shutdown: Option<oneshot::Sender<()>> = None;
    while shutdown.is_none() {
        let Some(first) = rx.blocking_recv() else { break };
        let mut batch = Vec::with_capacity(16);
        let mut restart = None;
        match first {
            Message::Job(j) => batch.push(j),
            Message::RestartWal(done) => restart = Some(done),
            Message::Shutdown(done) => shutdown = Some(done),
        }
        while batch.len() < MAX_BATCH && shutdown.is_none() && restart.is_none() {
            match rx.try_recv() {
                Ok(Message::Job(j)) => batch.push(j),
                Ok(Message::RestartWal(done)) => restart = Some(done),
                Ok(Message::Shutdown(done)) => shutdown = Some(done),
                Err(_) => break,
            }
        }
        // Before the group collected so far: none of its writes has run yet.
        if let Some(done) = restart {
            let _ = done.send(restart_wal(&conn));
        }
        if batch.is_empty() {
            continue;
        }
        let started = Instant::now();
        counters.busy_since_unix_ms.store(unix_ms(), Ordering::Relaxed);
        let size = batch.len() as u64;
        let result = commit_batch(&conn, batch);
        counters.busy_since_unix_ms.store(0, Ordering::Relaxed);
        match result {
            Ok(completions) => {
                if counters.storage_failing.swap(false, Ordering::Relaxed) {
                    tracing::warn!("the disk accepts writes again");
                }
                seq = seq.next();
                commits.send_replace(seq);
                let elapsed = started.elapsed();
                counters.commits.fetch_add(1, Ordering::Relaxed);
                counters.writes.fetch_add(size, Ordering::Relaxed);
                counters.last_batch_size.store(size, Ordering::Relaxed);
                counters.commit_micros_total.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
                counters.observe_commit(elapsed.as_secs_f64());
                for c in completions {
                    c(Ok(seq));
                }
            }
            Err((e, completions)) => {
                counters.failed_commits.fetch_add(1, Ordering::Relaxed);
                let msg = e.to_string();
                if e.is_storage_failure() {
                    // Logged when the state changes, not per group: a full disk under load would
                    // otherwise write thousands of lines (to the same full disk).
                    if !counters.storage_failing.swap(true, Ordering::Relaxed) {
                        tracing::error!(error = %e, "the disk refuses writes; answering 503 until it recovers");
                    }
                    for c in completions {
                        c(Err(DbError::Storage(msg.clone())));
                    }
                } else {
                    tracing::error!(error = %e, writes = size, "group commit failed; the whole group was rolled back");
                    for c in completions {
                        c(Err(DbError::Commit(msg.clone())));
                    }
                }
            }
        }
    }
    // Finish what was queued before the shutdown request, then stop.
    rx.close();
    while let Ok(message) = rx.try_recv() {
        let Message::Job(j) = message else { continue }; // a restart request is dropped: answered "gone"
        if let Ok(completions) = commit_batch(&conn, vec![j]) {
            seq = seq.next();
            commits.send_replace(seq);
            for c in completions {
                c(Ok(seq));
            }
        }
    }
    drop(conn);
    if let Some(done) = shutdown {
        let _ = done.send(());
    }
}

/// How long a RESTART checkpoint waits for readers to leave the WAL; writes wait meanwhile.
const RESTART_WAIT: Duration = Duration::from_millis(20);

/// A RESTART checkpoint on the writer's own connection, so that it never waits for the write lock
/// (a checkpoint on another connection starves while groups follow each other back to back): the
/// next group then writes the WAL from its start. Readers still in the WAL hold it up for at most
/// `RESTART_WAIT`; then it gives up (`false`) and the next one tries again.
fn restart_wal(conn: &Connection) -> Result<bool, DbError> {
    let busy = super::lock_wait::waiting_at_most(RESTART_WAIT, || {
        conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0))
    })?;
    Ok(busy == 0)
}

/// Runs a group in one transaction. While every write so far is replayable, they run without
/// savepoints; the first that fails after changing rows sends the group so far back to its start,
/// each write in its own savepoint from then on (see `write_job`).
#[allow(clippy::type_complexity)]
fn commit_batch(conn: &Connection, mut batch: Vec<Job>) -> Result<Vec<Completion>, (DbError, Vec<Completion>)> {
    let finish_all = |batch: Vec<Job>| batch.into_iter().map(|job| job.finish()).collect::<Vec<_>>();
    if let Err(e) = exec_cached(conn, "BEGIN IMMEDIATE") {
        // The jobs never ran; their callers hear why once the writer has recorded the failure.
        return Err((e.into(), finish_all(batch)));
    }
    let mut savepoint_free = true;
    for i in 0..batch.len() {
        savepoint_free &= batch[i].replayable();
        let changes = conn.total_changes();
        let failed = batch[i].run(conn, !savepoint_free);
        if conn.is_autocommit() {
            return Err((transaction_ended(), finish_all(batch)));
        }
        if savepoint_free && failed && conn.total_changes() != changes {
            savepoint_free = false;
            if let Err(e) = exec_cached(conn, "ROLLBACK").and_then(|()| exec_cached(conn, "BEGIN IMMEDIATE")) {
                return Err((e.into(), finish_all(batch)));
            }
            for job in &mut batch[..=i] {
                job.run(conn, true);
                if conn.is_autocommit() {
                    return Err((transaction_ended(), finish_all(batch)));
                }
            }
        }
    }
    let completions = finish_all(batch);
    match exec_cached(conn, "COMMIT") {
        Ok(()) => Ok(completions),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err((e.into(), completions))
        }
    }
}

/// SQLite ended the transaction itself after a failed write (it does on a full disk, an I/O error,
/// no memory): nothing of the group is left, and no later write may run, since outside a
/// transaction each would commit on its own. Reported as the disk's fault, the usual cause: the
/// node answers 503 until a group commits again.
fn transaction_ended() -> DbError {
    DbError::Storage("SQLite rolled the transaction back after a failed write".into())
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
