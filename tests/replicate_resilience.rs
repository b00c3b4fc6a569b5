//! The shipper under failure: S3 outages (local and replicated acknowledgement), a slow bucket
//! during checkpoints, restarts of the replicator, and a `kill -9` of the whole process. In every case the bucket ends up
//! with L0 TXIDs 1..=n (no gap, no duplicate) and restores to exactly the live database.

mod replicate_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use mysetlist::replicate::{self, AckMode, ReplicateError, Replicator, ReplicatorOptions, RestoreTarget};
use replicate_support::*;

const DURABLE: Duration = Duration::from_secs(60);

async fn assert_restores_to(opts: &ReplicatorOptions, live: &std::path::Path) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("restored.db");
    replicate::restore(opts, &out, RestoreTarget::Latest, false, |_| {}).await.unwrap();
    assert!(integrity_ok(&out));
    assert_same_rows(&out, live);
}

fn fast(mut o: ReplicatorOptions) -> ReplicatorOptions {
    o.sync_interval = Duration::from_millis(100);
    o.checkpoint_frames = 30;
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_ack_keeps_going_through_an_s3_outage_and_ships_the_backlog_without_a_gap() {
    init_logging();
    let mut s3 = S3Server::start();
    let bucket = s3.bucket("outage");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let mut app = App::open(&db);
    app.commit(20);
    let opts = fast(s3.options(&bucket, "app.db"));
    let handle = Replicator::start(opts.clone(), &db, app.commits()).unwrap();
    for _ in 0..5 {
        let seq = app.commit(25);
        handle.wait_durable(seq, DURABLE).await.unwrap();
    }

    s3.stop();
    for _ in 0..8 {
        app.commit(40); // commits keep succeeding locally
    }
    assert!(wait_until(Duration::from_secs(20), || handle.status().upload_errors > 0), "the outage was noticed");
    let st = handle.status();
    assert!(st.shipped_seq < app.seq, "{st:?}");
    assert!(st.last_error.is_some());
    assert!(wait_until(Duration::from_secs(5), || handle.status().lag_seconds > 0.2));

    s3.resume();
    handle.wait_durable(app.seq, DURABLE).await.unwrap();
    assert_eq!(handle.status().lag_seconds, 0.0);
    let seq = app.commit(10);
    handle.wait_durable(seq, DURABLE).await.unwrap();
    handle.shutdown().await;
    assert_contiguous_l0(&s3, &bucket, "app.db");
    assert_restores_to(&opts, &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_ack_times_out_while_s3_is_down_then_catches_up() {
    init_logging();
    let mut s3 = S3Server::start();
    let bucket = s3.bucket("repl-ack");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let mut app = App::open(&db);
    let mut opts = fast(s3.options(&bucket, "app.db"));
    opts.ack = AckMode::Replicated;
    let handle = Replicator::start(opts.clone(), &db, app.commits()).unwrap();
    let seq = app.commit(30);
    handle.wait_durable(seq, DURABLE).await.unwrap();

    s3.stop();
    let seq = app.commit(30);
    let err = handle.wait_durable(seq, Duration::from_millis(800)).await.unwrap_err();
    assert!(matches!(err, ReplicateError::Timeout { seq: s, .. } if s == seq), "{err:?}");
    assert!(err.to_string().contains("not stored in S3"), "{err}");

    s3.resume();
    handle.wait_durable(seq, DURABLE).await.unwrap();
    for _ in 0..3 {
        let seq = app.commit(15);
        handle.wait_durable(seq, DURABLE).await.unwrap();
    }
    handle.shutdown().await;
    assert_contiguous_l0(&s3, &bucket, "app.db");
    assert_restores_to(&opts, &db).await;
}

/// A replicator on a fresh app database whose bucket sits behind a [`SlowProxy`] (no delay yet),
/// checkpointing every `checkpoint_frames` frames, with a first commit already durable.
struct BehindProxy {
    s3: S3Server,
    bucket: String,
    proxy: SlowProxy,
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    app: App,
    opts: ReplicatorOptions,
    handle: replicate::ReplicatorHandle,
}

impl BehindProxy {
    async fn start(bucket: &str, checkpoint_frames: u64) -> BehindProxy {
        Self::start_with(bucket, |o| o.checkpoint_frames = checkpoint_frames).await
    }

    async fn start_with(bucket: &str, options: impl FnOnce(&mut ReplicatorOptions)) -> BehindProxy {
        init_logging();
        let s3 = S3Server::start();
        let bucket = s3.bucket(bucket);
        let proxy = SlowProxy::to(s3.port);
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("app.db");
        let mut app = App::open(&db);
        let mut opts = fast(s3.options(&bucket, "app.db"));
        opts.endpoint = Some(proxy.endpoint());
        options(&mut opts);
        let handle = Replicator::start(opts.clone(), &db, app.commits()).unwrap();
        let seq = app.commit(20);
        handle.wait_durable(seq, DURABLE).await.unwrap();
        BehindProxy { s3, bucket, proxy, _dir: dir, db, app, opts, handle }
    }

    /// Commits at the app's pace (`n` rows every `every`) until `done` holds or 60 s pass.
    async fn commit_until(&mut self, n: i64, every: Duration, mut done: impl FnMut(&Self) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !done(self) && std::time::Instant::now() < deadline {
            self.app.insert(n);
            tokio::time::sleep(every).await; // the app's pace, not a wait for anything
        }
    }

    /// With the bucket answering at once again: every commit becomes durable, the L0 TXIDs are
    /// contiguous and the bucket restores to the live database.
    async fn finish(self) {
        self.proxy.set_refusing(false);
        self.proxy.set_delay(Duration::ZERO);
        self.handle.wait_durable(self.app.seq, DURABLE).await.unwrap();
        self.handle.shutdown().await;
        assert_contiguous_l0(&self.s3, &self.bucket, "app.db");
        assert_restores_to(&self.opts, &self.db).await;
    }
}

/// A slow bucket never holds up the app's writes: the checkpoint's write lock covers reading the
/// last frames and copying the WAL into the database file, not the upload of those frames. Every
/// request to the bucket here waits 0.8 s; through two checkpoints no commit waits that long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_never_hold_the_writer_while_the_bucket_answers_slowly() {
    // Checkpoints every ~120 frames; the locked step runs once at most 60 are unshipped, which
    // a sync of 0.8 s leaves at this commit rate (a few frames a commit).
    let mut run = BehindProxy::start("slow", 120).await;
    run.proxy.set_delay(Duration::from_millis(800));
    let mut last_checkpoint = run.handle.status().last_checkpoint_at;
    let (mut checkpoints, mut slowest) = (0, Duration::ZERO);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while checkpoints < 2 && std::time::Instant::now() < deadline {
        let started = std::time::Instant::now();
        run.app.insert(2);
        slowest = slowest.max(started.elapsed());
        let at = run.handle.status().last_checkpoint_at;
        if at != last_checkpoint {
            checkpoints += 1;
            last_checkpoint = at;
        }
        // The app's pace (about ten commits a second), not a wait for anything.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(checkpoints, 2, "two checkpoints within 60 s: {:?}", run.handle.status());
    assert!(slowest < Duration::from_millis(500), "a commit waited {slowest:?} behind the shipper");
    run.finish().await;
}

/// The last frames a checkpoint read under its write lock survive a failed upload: the app keeps
/// writing (its next write restarts the WAL over those frames), the staged file is uploaded as is
/// once the bucket answers again, and the bucket has every TXID and restores to the live database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoints_staged_file_that_fails_to_upload_lands_later_without_a_gap() {
    let mut run = BehindProxy::start("staged", 120).await;
    // Each request waits 1 s in the proxy: the staged file's upload is still waiting there when
    // the checkpoint's time shows up in the status, and is refused.
    run.proxy.set_delay(Duration::from_secs(1));
    let before = run.handle.status().last_checkpoint_at;
    run.commit_until(2, Duration::from_millis(100), |r| r.handle.status().last_checkpoint_at != before).await;
    run.proxy.set_refusing(true);
    assert_ne!(run.handle.status().last_checkpoint_at, before, "no checkpoint within 60 s");
    let errors = run.handle.status().upload_errors;
    assert!(
        wait_until(Duration::from_secs(10), || run.handle.status().upload_errors > errors),
        "the upload after the checkpoint was never refused"
    );
    for _ in 0..20 {
        run.app.insert(2); // over the restarted WAL
    }
    run.finish().await;
}

/// Writes that never pause, to a bucket 200 ms away: every sync leaves more unshipped WAL than
/// the checkpoint's usual bound (half of `checkpoint_frames`), yet checkpoints complete and the WAL
/// restarts instead of growing until the disk is full; the bucket restores to the live database.
/// With 2,000 frames a checkpoint, what a sync leaves (a few MB) passes half of them (~4 MB) and
/// fits the two checkpoints' worth the locked step may stage (~16 MB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_complete_while_writes_never_pause_and_the_bucket_is_distant() {
    checkpoints_complete_through_a_distant_bucket(2000).await;
}

/// The same with 16 frames a checkpoint: what a sync leaves never fits what the locked step
/// stages at first (~130 KB), so after three postponed rounds it stages the whole gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_postponed_for_three_rounds_then_stage_the_whole_gap() {
    checkpoints_complete_through_a_distant_bucket(16).await;
}

async fn checkpoints_complete_through_a_distant_bucket(checkpoint_frames: u64) {
    let mut run = BehindProxy::start("distant", checkpoint_frames).await;
    run.proxy.set_delay(Duration::from_millis(200));
    // About 6 MB of WAL a second.
    run.commit_until(200, Duration::from_millis(10), |r| r.handle.status().last_checkpoint_at.is_some()).await;
    let st = run.handle.status();
    assert!(st.last_checkpoint_at.is_some(), "no checkpoint completed in 60 s: {st:?}");
    run.finish().await;
}

/// Past `staged_at_most` unshipped bytes a checkpoint stages nothing: while the bucket stays
/// slower than the writes, checkpoints wait (the status says so) and the WAL grows on disk instead
/// of the writer's pause and the memory; once the bucket catches up, a checkpoint completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_wait_for_the_bucket_rather_than_stage_more_than_their_bound() {
    let mut run = BehindProxy::start_with("bounded", |o| {
        o.checkpoint_frames = 16;
        o.staged_at_most = 256 << 10;
    })
    .await;
    run.proxy.set_delay(Duration::from_millis(200));
    let mut seen_waiting = None;
    run.commit_until(200, Duration::from_millis(10), |r| {
        let st = r.handle.status();
        seen_waiting = st.checkpoints_waiting.then_some(st);
        seen_waiting.is_some()
    })
    .await;
    let waiting = seen_waiting.unwrap_or_else(|| panic!("checkpoints never waited in 60 s: {:?}", run.handle.status()));
    let wal_while_waiting = std::fs::metadata(run.db.with_extension("db-wal")).unwrap().len();
    assert!(wal_while_waiting > 256 << 10, "the WAL holds the gap: {wal_while_waiting} bytes");

    run.proxy.set_delay(Duration::ZERO);
    run.commit_until(5, Duration::from_millis(10), |r| {
        let st = r.handle.status();
        !st.checkpoints_waiting && st.last_checkpoint_at > waiting.last_checkpoint_at
    })
    .await;
    let caught_up = run.handle.status();
    assert!(!caught_up.checkpoints_waiting, "{caught_up:?}");
    assert!(
        caught_up.last_checkpoint_at > waiting.last_checkpoint_at,
        "no checkpoint after catching up: {caught_up:?}"
    );
    run.finish().await;
}

/// A replicator restarted next to a running app continues from the WAL (an incremental
/// L0, not a new full snapshot); after the app closed its database, it ships a full snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_from_the_wal_with_contiguous_txids() {
    init_logging();
    let s3 = S3Server::start();
    let bucket = s3.bucket("restart");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let mut app = App::open(&db);
    let mut opts = fast(s3.options(&bucket, "app.db"));
    opts.checkpoint_frames = 1_000_000;
    for round in 0..3 {
        if round > 0 {
            app.commit(5); // committed while no replicator ran; this round must ship it
        }
        let handle = Replicator::start(opts.clone(), &db, app.commits()).unwrap();
        for _ in 0..3 {
            let seq = app.commit(20);
            handle.wait_durable(seq, DURABLE).await.unwrap();
        }
        handle.shutdown().await;
        let n = assert_contiguous_l0(&s3, &bucket, "app.db");
        if round > 0 {
            let h = ltx_header(&s3, &bucket, "app.db", 0, n - 2, n - 2);
            assert!(h.wal_offset > 32, "round {round}: resumed mid-WAL, not a full snapshot: {h:?}");
        }
    }
    assert_restores_to(&opts, &db).await;

    // The app closes the database (its close checkpoints and deletes the WAL): the next
    // start cannot continue the WAL and ships a full snapshot as the next TXID.
    drop(app);
    let mut app = App::open(&db);
    let before = assert_contiguous_l0(&s3, &bucket, "app.db");
    let handle = Replicator::start(opts.clone(), &db, app.commits()).unwrap();
    let seq = app.commit(10);
    handle.wait_durable(seq, DURABLE).await.unwrap();
    handle.shutdown().await;
    assert_contiguous_l0(&s3, &bucket, "app.db");
    let h = ltx_header(&s3, &bucket, "app.db", 0, before + 1, before + 1);
    assert!(h.wal_offset <= 32, "a full snapshot, not a continuation: {h:?}");
    assert_restores_to(&opts, &db).await;
}

/// Runs in a child process (see below): replicates and commits until killed.
#[test]
#[ignore = "helper process for killed_process_resumes_without_gap_or_duplicate"]
fn child_replicator_process() {
    let Ok(db) = std::env::var("MYSETLIST_CHILD_DB") else {
        return;
    };
    let endpoint = std::env::var("MYSETLIST_CHILD_ENDPOINT").unwrap();
    let bucket = std::env::var("MYSETLIST_CHILD_BUCKET").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let db = std::path::PathBuf::from(db);
        let mut app = App::open(&db);
        let mut opts = ReplicatorOptions::new(format!("s3://{bucket}/app.db"));
        opts.endpoint = Some(endpoint);
        opts.force_path_style = true;
        opts.access_key_id = Some(ACCESS_KEY.into());
        opts.secret_access_key = Some(SECRET_KEY.into());
        opts.ack = AckMode::Replicated;
        opts.checkpoint_frames = 1_000_000;
        let handle = Replicator::start(opts, &db, app.commits()).unwrap();
        loop {
            let seq = app.commit(15);
            handle.wait_durable(seq, DURABLE).await.unwrap();
            println!("durable {}", seq.get());
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_process_resumes_without_gap_or_duplicate() {
    init_logging();
    let s3 = S3Server::start();
    let bucket = s3.bucket("killed");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_replicator_process", "--nocapture"])
        .env("MYSETLIST_CHILD_DB", &db)
        .env("MYSETLIST_CHILD_ENDPOINT", s3.endpoint())
        .env("MYSETLIST_CHILD_BUCKET", &bucket)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut durable = 0;
    while durable < 12 {
        let line = lines.next().expect("child output").unwrap();
        if line.starts_with("durable ") {
            durable += 1;
        }
    }
    child.kill().unwrap(); // SIGKILL: no final sync, no clean close
    child.wait().unwrap();
    let shipped_by_child = assert_contiguous_l0(&s3, &bucket, "app.db");
    assert!(shipped_by_child >= 12);

    let mut app = App::open(&db);
    let opts = fast(s3.options(&bucket, "app.db"));
    let handle = Replicator::start(opts.clone(), &db, app.commits()).unwrap();
    let seq = app.commit(10);
    handle.wait_durable(seq, DURABLE).await.unwrap();
    handle.shutdown().await;
    let n = assert_contiguous_l0(&s3, &bucket, "app.db");
    assert!(n > shipped_by_child);
    let resumed = ltx_header(&s3, &bucket, "app.db", 0, shipped_by_child + 1, shipped_by_child + 1);
    assert!(resumed.wal_offset > 32, "continued the WAL after the kill: {resumed:?}");
    assert_restores_to(&opts, &db).await;
    let (ok, text) =
        litestream_restore(&litestream_0_5_17(), &s3.litestream_url(&bucket, "app.db"), &dir.path().join("ls.db"), &[]);
    assert!(ok, "{text}");
    assert_same_rows(&dir.path().join("ls.db"), &db);
}
