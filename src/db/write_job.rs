//! One queued write as the writer thread runs it: its closure, where it stands (not run yet, done,
//! failed, panicked), and the reply to its caller once its group commits.
//!
//! A write that fails leaves no change behind. The writer makes sure of it in one of two ways:
//! - in its own savepoint (every write that runs once), rolled back if it fails;
//! - for a *replayable* write (a closure that may run again, with no effect outside the database),
//!   without a savepoint while the transaction holds only replayable writes. If one fails after it
//!   changed rows, the writer rolls the transaction back and runs the group so far again, each in
//!   its own savepoint (`writer::commit_batch`). A per-write savepoint copies every page the write
//!   touches first into the sub-journal; for a vote that was about 7% of the throughput.

use std::panic::{AssertUnwindSafe, catch_unwind};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::transaction::within_savepoint;
use super::{CommitSeq, DbError};

/// What runs once the group's commit is decided: it answers the caller.
pub(super) type Completion = Box<dyn FnOnce(Result<CommitSeq, DbError>) + Send>;

/// A write waiting in the writer's queue.
pub(super) trait QueuedWrite: Send {
    /// Whether it may run again after the transaction it ran in was rolled back.
    fn replayable(&self) -> bool;
    /// Runs the write (again, for a replayable one; its last run counts). `isolated`: inside its
    /// own savepoint, so that a failure undoes its changes only. Returns whether it failed.
    fn run(&mut self, conn: &Connection, isolated: bool) -> bool;
    /// What answers its caller once the group's commit is decided (an error at once only for a
    /// write that panicked: its caller hears that the writer is gone).
    fn finish(self: Box<Self>) -> Completion;
}

pub(super) type Reply<T, E> = oneshot::Sender<Result<(T, CommitSeq), E>>;

pub(super) enum Outcome<T, E> {
    Done(T),
    Failed(E),
    Panicked,
}

fn attempt<T, E, F>(conn: &Connection, isolated: bool, f: F) -> Outcome<T, E>
where
    F: FnOnce(&Connection) -> Result<T, E>,
    E: From<DbError>,
{
    let run = |conn: &Connection| match catch_unwind(AssertUnwindSafe(|| f(conn))) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Outcome::Failed(e)),
        Err(_panic) => {
            tracing::error!("a database write panicked; its changes are rolled back");
            Err(Outcome::Panicked)
        }
    };
    let result = if isolated { within_savepoint(conn, run) } else { Ok(run(conn)) };
    match result {
        Ok(Ok(value)) => Outcome::Done(value),
        Ok(Err(failed)) => failed,
        Err(e) => Outcome::Failed(E::from(e)),
    }
}

fn finish<T, E>(outcome: Option<Outcome<T, E>>, reply: Reply<T, E>) -> Completion
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    match outcome {
        Some(Outcome::Done(value)) => Box::new(move |commit: Result<CommitSeq, DbError>| {
            let _ = reply.send(commit.map(|seq| (value, seq)).map_err(E::from));
        }),
        // Its answer may rest on what the group's earlier writes did (a vote limit reached through
        // one of them): if the group is lost, so is that ground, and the caller hears the group's
        // error (retry) instead.
        Some(Outcome::Failed(e)) => Box::new(move |commit: Result<CommitSeq, DbError>| {
            let _ = reply.send(Err(commit.map_or_else(E::from, |_| e)));
        }),
        // The caller sees WriterGone for this one write.
        Some(Outcome::Panicked) => Box::new(|_| {}),
        // Never ran (the group could not begin, or ended before its turn): the group's error.
        None => Box::new(move |commit: Result<CommitSeq, DbError>| {
            if let Err(e) = commit {
                let _ = reply.send(Err(E::from(e)));
            }
        }),
    }
}

/// How a queued write's closure runs: once, or again after its transaction was rolled back.
pub(super) trait Closure<T, E>: Send {
    const REPLAYABLE: bool;
    /// Runs it; `isolated`: inside its own savepoint.
    fn call(&mut self, conn: &Connection, isolated: bool) -> Outcome<T, E>;
}

/// A closure that runs once, always in its own savepoint.
pub(super) struct Once<F>(Option<F>);

impl<F, T, E> Closure<T, E> for Once<F>
where
    F: FnOnce(&Connection) -> Result<T, E> + Send,
    E: From<DbError>,
{
    const REPLAYABLE: bool = false;

    fn call(&mut self, conn: &Connection, _isolated: bool) -> Outcome<T, E> {
        match self.0.take() {
            Some(f) => attempt(conn, true, f),
            None => {
                debug_assert!(false, "a write that runs once ran twice");
                Outcome::Failed(E::from(DbError::WriterGone))
            }
        }
    }
}

/// A closure that may run more than once: it changes rows only (no schema), and nothing outside
/// the database.
pub(super) struct Replayable<F>(F);

impl<F, T, E> Closure<T, E> for Replayable<F>
where
    F: Fn(&Connection) -> Result<T, E> + Send,
    E: From<DbError>,
{
    const REPLAYABLE: bool = true;

    fn call(&mut self, conn: &Connection, isolated: bool) -> Outcome<T, E> {
        attempt(conn, isolated, &self.0)
    }
}

/// A write in the queue: its closure, its last run's outcome, and the caller's reply.
pub(super) struct Write<C, T, E> {
    closure: C,
    outcome: Option<Outcome<T, E>>,
    reply: Reply<T, E>,
}

impl<F, T, E> Write<Once<F>, T, E> {
    pub(super) fn once(f: F, reply: Reply<T, E>) -> Self {
        Self { closure: Once(Some(f)), outcome: None, reply }
    }
}

impl<F, T, E> Write<Replayable<F>, T, E> {
    pub(super) fn replayable(f: F, reply: Reply<T, E>) -> Self {
        Self { closure: Replayable(f), outcome: None, reply }
    }
}

impl<C, T, E> QueuedWrite for Write<C, T, E>
where
    C: Closure<T, E>,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    fn replayable(&self) -> bool {
        C::REPLAYABLE
    }

    fn run(&mut self, conn: &Connection, isolated: bool) -> bool {
        let outcome = self.closure.call(conn, isolated);
        let failed = !matches!(outcome, Outcome::Done(_));
        self.outcome = Some(outcome);
        failed
    }

    fn finish(self: Box<Self>) -> Completion {
        finish(self.outcome, self.reply)
    }
}
