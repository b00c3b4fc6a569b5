//! The writer's groups: a write that fails leaves no change and the rest of its group commits,
//! whether it runs in its own savepoint or savepoint-free among replayable writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::task::JoinHandle;

use super::{WriterHandle, spawn};
use crate::db::{CommitSeq, DbError};

#[derive(Debug)]
enum Failure {
    Db(DbError),
    Refused,
}

impl From<DbError> for Failure {
    fn from(e: DbError) -> Self {
        Failure::Db(e)
    }
}

type Answer = JoinHandle<Result<((), CommitSeq), Failure>>;

struct Db {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    writer: Arc<WriterHandle>,
}

fn open() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (name TEXT PRIMARY KEY);").unwrap();
    let writer = Arc::new(spawn(conn, Duration::from_secs(1)).unwrap());
    Db { _dir: dir, path, writer }
}

impl Db {
    fn names(&self) -> Vec<String> {
        let conn = Connection::open(&self.path).unwrap();
        let mut stmt = conn.prepare("SELECT name FROM t ORDER BY name").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }
}

/// How a test write behaves.
#[derive(Clone, Copy)]
enum Act {
    /// Inserts its name.
    Insert,
    /// Inserts its name, then fails.
    InsertThenFail,
    /// Inserts its name, then panics.
    InsertThenPanic,
    /// Fails before it changes anything.
    Fail,
    /// Ends the transaction itself, as SQLite does on a full disk.
    EndTransaction,
    /// Inserts its name when it first runs, ends the transaction when it runs again.
    EndTransactionWhenReplayed,
}

/// Does what `act` says; `run` counts its runs from 1.
fn act(conn: &Connection, name: &str, act: Act, run: usize) -> Result<(), Failure> {
    let act = match act {
        Act::EndTransactionWhenReplayed if run > 1 => Act::EndTransaction,
        Act::EndTransactionWhenReplayed => Act::Insert,
        other => other,
    };
    if matches!(act, Act::EndTransaction) {
        conn.execute_batch("ROLLBACK").map_err(DbError::from)?;
        return Ok(());
    }
    if matches!(act, Act::Fail) {
        return Err(Failure::Refused);
    }
    conn.execute("INSERT INTO t (name) VALUES (?1)", [name]).map_err(DbError::from)?;
    match act {
        Act::InsertThenFail => Err(Failure::Refused),
        Act::InsertThenPanic => panic!("test write {name} panics"),
        _ => Ok(()),
    }
}

/// A write of the given kind; `runs` counts how often it ran.
fn queue(db: &Db, name: &'static str, behaviour: Act, replayable: bool, runs: Arc<AtomicUsize>) -> Answer {
    let writer = db.writer.clone();
    tokio::spawn(async move {
        if replayable {
            writer
                .submit_replayable(move |conn| {
                    let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                    act(conn, name, behaviour, run)
                })
                .await
        } else {
            writer
                .submit(move |conn| {
                    let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                    act(conn, name, behaviour, run)
                })
                .await
        }
    })
}

async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Queues the writes in order while the writer is held on another one, so that they form the
/// next group together; returns their answers and how many groups committed meanwhile.
async fn one_group(db: &Db, writes: &[(&'static str, Act, bool)]) -> (Vec<(Answer, Arc<AtomicUsize>)>, u64) {
    let (release, held) = std::sync::mpsc::channel::<()>();
    let writer = db.writer.clone();
    let holder = tokio::spawn(async move {
        writer
            .submit(move |_| {
                held.recv_timeout(Duration::from_secs(10)).map_err(|_| DbError::WriterGone)?;
                Ok::<_, DbError>(())
            })
            .await
    });
    until("the writer holds", || db.writer.stats().busy_since_unix_ms.is_some()).await;
    let commits_before = db.writer.stats().commits;
    let mut answers = Vec::new();
    for (queued, (name, behaviour, replayable)) in writes.iter().enumerate() {
        let runs = Arc::new(AtomicUsize::new(0));
        answers.push((queue(db, name, *behaviour, *replayable, runs.clone()), runs));
        until("the write is queued", || db.writer.stats().queue_depth == queued as u64 + 1).await;
    }
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    until("the group is done", || db.writer.stats().queue_depth == 0 && db.writer.stats().busy_since_unix_ms.is_none())
        .await;
    let groups = db.writer.stats().commits - commits_before - 1;
    (answers, groups)
}

async fn outcome(answer: Answer) -> Result<(), String> {
    match answer.await.unwrap() {
        Ok(((), _)) => Ok(()),
        Err(Failure::Refused) => Err("refused".into()),
        Err(Failure::Db(e)) => Err(e.to_string()),
    }
}

/// Every write's answer and how often it ran.
async fn settled(answers: Vec<(Answer, Arc<AtomicUsize>)>) -> (Vec<Result<(), String>>, Vec<usize>) {
    let mut outcomes = Vec::new();
    let mut runs = Vec::new();
    for (answer, ran) in answers {
        outcomes.push(outcome(answer).await);
        runs.push(ran.load(Ordering::SeqCst));
    }
    (outcomes, runs)
}

/// After a lost group, the next one commits, and only its write is in the table.
async fn the_next_group_commits(db: &Db, replayable: bool) {
    let (answers, groups) = one_group(db, &[("n", Act::Insert, replayable)]).await;
    assert_eq!(groups, 1);
    assert_eq!(settled(answers).await.0, [Ok(())]);
    assert!(!db.writer.stats().storage_failing);
    assert_eq!(db.names(), ["n"]);
}

async fn a_failure_undoes_only_its_own_write(replayable: bool) {
    let db = open();
    let writes = [
        ("a", Act::Insert, replayable),
        ("b", Act::InsertThenFail, replayable),
        ("c", Act::Insert, replayable),
        ("d", Act::InsertThenPanic, replayable),
        ("e", Act::Fail, replayable),
        ("f", Act::Insert, replayable),
    ];
    let (answers, groups) = one_group(&db, &writes).await;
    assert_eq!(groups, 1, "the six writes share one commit");
    let (outcomes, runs) = settled(answers).await;
    assert_eq!(outcomes[0], Ok(()));
    assert_eq!(outcomes[1], Err("refused".into()));
    assert_eq!(outcomes[2], Ok(()));
    assert!(outcomes[3].as_ref().is_err_and(|e| e.contains("writer")), "the panicking write: {:?}", outcomes[3]);
    assert_eq!(outcomes[4], Err("refused".into()));
    assert_eq!(outcomes[5], Ok(()));
    assert_eq!(db.names(), ["a", "c", "f"]);
    if replayable {
        // b failed after its insert with no savepoint to undo it alone: the group went back to its
        // start, a and b ran again in their own savepoints, and the rest in theirs.
        assert_eq!(runs, [2, 2, 1, 1, 1, 1]);
    } else {
        assert_eq!(runs, [1; 6]);
    }
}

#[tokio::test]
async fn a_write_that_fails_undoes_only_its_own_changes_in_its_savepoint() {
    a_failure_undoes_only_its_own_write(false).await;
}

#[tokio::test]
async fn a_replayable_write_that_fails_after_changes_sends_its_group_back_and_undoes_only_its_own() {
    a_failure_undoes_only_its_own_write(true).await;
}

/// Replayable writes after one that runs once run in their own savepoints: nothing is replayed.
#[tokio::test]
async fn replayable_writes_after_a_write_that_runs_once_are_not_replayed() {
    let db = open();
    let writes = [("a", Act::Insert, true), ("o", Act::Insert, false), ("b", Act::InsertThenFail, true)];
    let (answers, groups) = one_group(&db, &writes).await;
    assert_eq!(groups, 1);
    let (_, runs) = settled(answers).await;
    assert_eq!(runs, [1, 1, 1]);
    assert_eq!(db.names(), ["a", "o"]);
}

/// When SQLite ends the transaction itself, none of the group lands and every caller hears so;
/// the writes after it do not run on their own, outside a transaction.
#[tokio::test]
async fn a_group_whose_transaction_ended_fails_whole_and_the_next_group_commits() {
    for replayable in [true, false] {
        let db = open();
        let writes = [
            ("a", Act::Insert, replayable),
            ("r", Act::Fail, replayable),
            ("x", Act::EndTransaction, replayable),
            ("c", Act::Insert, replayable),
        ];
        let (outcomes, runs) = settled(one_group(&db, &writes).await.0).await;
        assert!(outcomes.iter().all(Result::is_err), "replayable {replayable}: {outcomes:?}");
        // r's refusal may have rested on a's insert, which is gone: r hears the group's error.
        assert!(outcomes[1].as_ref().is_err_and(|e| e.contains("disk")), "r: {:?}", outcomes[1]);
        assert_eq!(runs[3], 0, "c never ran outside the transaction");
        assert_eq!(db.names(), Vec::<String>::new(), "replayable {replayable}");
        the_next_group_commits(&db, replayable).await;
        assert_eq!(db.writer.stats().failed_commits, 1);
    }
}

/// The same when the transaction ends while the group runs again after a failure: the writes after
/// that point never run on their own outside it (each would commit), and nothing of the group lands.
#[tokio::test]
async fn a_group_whose_transaction_ends_while_it_runs_again_fails_whole() {
    let db = open();
    let writes = [
        ("a", Act::Insert, true),
        ("x", Act::EndTransactionWhenReplayed, true),
        ("c", Act::Insert, true),
        ("b", Act::InsertThenFail, true),
    ];
    let (outcomes, runs) = settled(one_group(&db, &writes).await.0).await;
    assert!(outcomes.iter().all(Result::is_err), "{outcomes:?}");
    assert!(outcomes[2].as_ref().is_err_and(|e| e.contains("disk")), "c hears why: {:?}", outcomes[2]);
    assert_eq!(runs, [2, 2, 1, 1], "c and b did not run again after x ended the transaction");
    assert_eq!(db.names(), Vec::<String>::new());
    assert!(db.writer.stats().storage_failing, "the node reports the disk until a group commits");
    the_next_group_commits(&db, true).await;
}
