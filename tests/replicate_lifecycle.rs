//! Long-running behaviour of a bucket: compaction and retention keep the newest state
//! restorable, timestamps allow point-in-time restores (ours and Litestream's), and a second
//! writer on the same bucket fences the first.

mod replicate_support;

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use mysetlist::replicate::{self, AckMode, ReplicateError, Replicator, RestoreTarget};
use replicate_support::*;

const DURABLE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_files_but_never_what_the_newest_restore_needs() {
    init_logging();
    let s3 = S3Server::start();
    let bucket = s3.bucket("retention");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let mut app = App::open(&db);
    let mut opts = s3.options(&bucket, "app.db");
    opts.sync_interval = Duration::from_millis(100);
    opts.compaction_intervals = vec![Duration::from_secs(1), Duration::from_secs(2)];
    opts.l0_retention = Duration::from_secs(1);
    opts.snapshot_interval = Duration::from_secs(1);
    opts.retention = Duration::from_secs(2);
    opts.checkpoint_frames = 50;
    let handle = Replicator::start(opts.clone(), &db, app.commits()).unwrap();
    let pruned = |s3: &S3Server| {
        let l0 = ltx_ranges(s3, &bucket, "app.db", 0);
        let l9 = ltx_ranges(s3, &bucket, "app.db", 9);
        // Old L0 files are gone (TXID 1 was compacted and aged out) and old snapshots too.
        !l0.is_empty() && l0[0].0 > 1 && !l9.is_empty() && l9[0].1 > 1
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    while !pruned(&s3) {
        assert!(std::time::Instant::now() < deadline, "retention never ran: {:?}", s3.keys(&bucket, "app.db"));
        let seq = app.commit(10);
        handle.wait_durable(seq, DURABLE).await.unwrap();
    }
    let seq = app.commit(10);
    handle.wait_durable(seq, DURABLE).await.unwrap();
    let st = handle.status();
    assert!(st.last_compaction_at.is_some() && st.last_snapshot_at.is_some(), "{st:?}");
    handle.shutdown().await;

    // The newest L0 file stays (the shipper resumes from it) and the newest state restores.
    let l0 = ltx_ranges(&s3, &bucket, "app.db", 0);
    assert_eq!(l0.last().unwrap().1, st.txid.get(), "newest L0 kept");
    let out = dir.path().join("restored.db");
    replicate::restore(&opts, &out, RestoreTarget::Latest, false, |_| {}).await.unwrap();
    assert_same_rows(&out, &db);
    let theirs = dir.path().join("theirs.db");
    let (ok, text) = litestream_restore(&litestream_0_5_17(), &s3.litestream_url(&bucket, "app.db"), &theirs, &[]);
    assert!(ok, "{text}");
    assert_same_rows(&theirs, &db);
    let listing = replicate::list(&opts).await.unwrap();
    assert_eq!(listing.restorable_txid, Ok(st.txid.get()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamp_restores_agree_with_litestream() {
    init_logging();
    let s3 = S3Server::start();
    let bucket = s3.bucket("pitr");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let mut app = App::open(&db);
    let mut opts = s3.options(&bucket, "app.db");
    opts.ack = AckMode::Replicated;
    let handle = Replicator::start(opts.clone(), &db, app.commits()).unwrap();
    let seq = app.commit(40);
    handle.wait_durable(seq, DURABLE).await.unwrap();
    let seq = app.commit(40);
    handle.wait_durable(seq, DURABLE).await.unwrap();
    let count_at_t = rows(&db).len();
    // A point strictly after the last upload's timestamp and before the next one's.
    let t = Utc::now() + chrono::Duration::milliseconds(2);
    assert!(wait_until(Duration::from_secs(1), || Utc::now() > t + chrono::Duration::milliseconds(2)));
    for _ in 0..3 {
        let seq = app.commit(40);
        handle.wait_durable(seq, DURABLE).await.unwrap();
    }
    handle.shutdown().await;
    // Every object carries Litestream's timestamp metadata (s3s-fs keeps it beside the data).
    let metadata: Vec<String> = std::fs::read_dir(s3.root.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".metadata.json"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(!metadata.is_empty());
    assert!(metadata.iter().all(|m| m.contains("litestream-timestamp")), "{metadata:?}");

    let ours = dir.path().join("ours.db");
    replicate::restore(&opts, &ours, RestoreTarget::Timestamp(t), false, |_| {}).await.unwrap();
    assert_eq!(rows(&ours).len(), count_at_t);
    let theirs = dir.path().join("theirs.db");
    let (ok, text) = litestream_restore(
        &litestream_0_5_17(),
        &s3.litestream_url(&bucket, "app.db"),
        &theirs,
        &["-timestamp", &t.to_rfc3339_opts(SecondsFormat::Millis, true)],
    );
    assert!(ok, "{text}");
    assert_same_rows(&theirs, &ours);
}

/// The failover fence: once another node has written the next TXID, the old primary's
/// create-only upload fails and it stops, and the bucket holds the new node's history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_writer_fences_the_first() {
    init_logging();
    let s3 = S3Server::start();
    let bucket = s3.bucket("fence");
    let dir = tempfile::tempdir().unwrap();
    let mut opts = s3.options(&bucket, "app.db");
    opts.ack = AckMode::Replicated;

    let db_a = dir.path().join("a.db");
    let mut a = App::open(&db_a);
    let handle_a = Replicator::start(opts.clone(), &db_a, a.commits()).unwrap();
    for _ in 0..3 {
        let seq = a.commit(20);
        handle_a.wait_durable(seq, DURABLE).await.unwrap();
    }

    let db_b = dir.path().join("b.db");
    let mut b = App::open(&db_b);
    b.commit(7);
    let handle_b = Replicator::start(opts.clone(), &db_b, b.commits()).unwrap();
    let seq = b.commit(3);
    handle_b.wait_durable(seq, DURABLE).await.unwrap();

    let seq = a.commit(20);
    let err = handle_a.wait_durable(seq, DURABLE).await.unwrap_err();
    assert!(matches!(err, ReplicateError::Fenced { .. }), "{err:?}");
    assert!(handle_a.status().fenced);
    handle_a.shutdown().await;
    handle_b.shutdown().await;

    assert_contiguous_l0(&s3, &bucket, "app.db");
    let out = dir.path().join("restored.db");
    replicate::restore(&opts, &out, RestoreTarget::Latest, false, |_| {}).await.unwrap();
    assert_same_rows(&out, &db_b);
}

/// The in-process drill compares exactly at a TXID even while the app keeps writing, and
/// fails when the bucket holds a well-formed backup whose content differs from the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_verify_matches_under_writes_and_catches_a_divergent_backup() {
    use mysetlist::replicate::ltx::{self, Encoder, PageEncoding};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    init_logging();
    let s3 = S3Server::start();
    let bucket = s3.bucket("drill");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let mut app = App::open(&db);
    app.commit(20);
    let mut opts = s3.options(&bucket, "app.db");
    opts.sync_interval = Duration::from_millis(50);
    opts.checkpoint_frames = 40;
    let handle = Replicator::start(opts.clone(), &db, app.commits()).unwrap();
    handle.wait_durable(app.seq, DURABLE).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // Small inserts, like votes (`commit` also rewrites a seventh of the table).
                app.insert(3);
                // Pace the load like a busy app (hundreds of commits a second).
                std::thread::sleep(Duration::from_millis(1));
            }
            app
        })
    };
    for _ in 0..3 {
        // Let a few more TXIDs ship (with checkpoints in between) before each drill.
        let before = handle.status().txid;
        assert!(wait_until(Duration::from_secs(20), || handle.status().txid.get() >= before.get() + 3));
        let report = handle.verify(&opts).await.unwrap();
        assert_eq!(report.live, replicate::LiveComparison::Identical);
        assert!(report.txid.get() >= before.get() + 3 && report.pages > 0, "{report:?}");
    }
    assert!(handle.status().last_checkpoint_at.is_some());
    stop.store(true, Ordering::Relaxed);
    let app = writer.join().unwrap();
    handle.wait_durable(app.seq, DURABLE).await.unwrap();

    // Rewrite the newest L0 file with one changed byte and a valid checksum.
    let (min, max) = *ltx_ranges(&s3, &bucket, "app.db", 0).last().unwrap();
    let key = format!("app.db/0000/{}", ltx::file_name(min, max));
    let path = s3.object_path(&bucket, &key);
    let original = std::fs::read(&path).unwrap();
    let mut pages = Vec::new();
    let h = ltx::decode_all(&original, |pgno, data| {
        pages.push((pgno, data.to_vec()));
        Ok(())
    })
    .unwrap();
    let mut enc = Encoder::new(h, PageEncoding::Frame).unwrap();
    // Flip the last byte of one table leaf page (type 0x0d): that is the end of a row's
    // blob, so the database stays well-formed but differs from the live one.
    let leaf = pages
        .iter()
        .position(|(pgno, data)| *pgno > 1 && data[0] == 0x0d)
        .expect("a table leaf page in the newest L0 file");
    let n = pages[leaf].1.len();
    pages[leaf].1[n - 1] ^= 0x01;
    for (pgno, data) in &pages {
        enc.encode_page(*pgno, data).unwrap();
    }
    std::fs::write(&path, enc.finish().unwrap()).unwrap();
    let err = handle.verify(&opts).await.unwrap_err();
    assert!(matches!(err, ReplicateError::VerifyMismatch { .. } | ReplicateError::IntegrityCheck { .. }), "{err:?}");
    handle.shutdown().await;
}
