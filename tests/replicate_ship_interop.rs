//! What our shipper writes is restored by the real `litestream restore` 0.5.17 and 0.5.15
//! (integrity ok, identical rows), after several syncs, snapshots, compactions and WAL
//! checkpoints/restarts.

mod replicate_support;

use std::time::Duration;

use mysetlist::replicate::{self, AckMode, PageEncoding, Replicator, RestoreTarget, verify};
use replicate_support::*;

const DURABLE: Duration = Duration::from_secs(30);

async fn ship_workload(s3: &S3Server, bucket: &str, prefix: &str, encoding: PageEncoding) -> std::path::PathBuf {
    init_logging();
    let dir = tempfile::tempdir().unwrap().keep();
    let db = dir.join("app.db");
    let mut app = App::open(&db);
    app.commit(30);
    let mut opts = s3.options(bucket, prefix);
    opts.ack = AckMode::Replicated;
    opts.page_encoding = encoding;
    opts.sync_interval = Duration::from_millis(100);
    opts.snapshot_interval = Duration::from_secs(2);
    opts.compaction_intervals = vec![Duration::from_secs(1), Duration::from_secs(3)];
    opts.checkpoint_frames = 40; // several checkpoints and WAL restarts during the run
    let handle = Replicator::start(opts, &db, app.commits()).unwrap();
    for round in 0..25 {
        let seq = app.commit(20 + round);
        handle.wait_durable(seq, DURABLE).await.unwrap();
        if round == 14 {
            // VACUUM rewrites and shrinks the file: later files have a smaller commit.
            app.conn.execute_batch("VACUUM").unwrap();
            app.seq = app.seq.next();
            app.tx.send_replace(app.seq);
            handle.wait_durable(app.seq, DURABLE).await.unwrap();
        }
        if round % 5 == 4 {
            // Deleting makes pages free and the database may shrink on later writes.
            app.conn.execute("DELETE FROM votes WHERE id % 3 = ?1", [round % 3]).unwrap();
            app.seq = app.seq.next();
            app.tx.send_replace(app.seq);
            handle.wait_durable(app.seq, DURABLE).await.unwrap();
        }
    }
    // Wait for a second snapshot and an L1 compaction, then stop.
    assert!(
        wait_until(Duration::from_secs(20), || {
            ltx_ranges(s3, bucket, prefix, 9).len() >= 2 && !ltx_ranges(s3, bucket, prefix, 1).is_empty()
        }),
        "expected snapshots and a compaction: {:?}",
        s3.keys(bucket, prefix)
    );
    let status = handle.status();
    assert!(status.last_checkpoint_at.is_some(), "the shipper checkpointed: {status:?}");
    assert_eq!(status.shipped_seq, app.seq);
    assert_eq!(status.lag_seconds, 0.0);
    handle.shutdown().await;
    let n = assert_contiguous_l0(s3, bucket, prefix);
    // The WAL was checkpointed and restarted several times, and shipping followed each new
    // generation from its start.
    let mut salts: Vec<(u32, u32)> =
        (1..=n).map(|t| ltx_header(s3, bucket, prefix, 0, t, t)).map(|h| (h.wal_salt1, h.wal_salt2)).collect();
    salts.dedup();
    assert!(salts.len() >= 3, "WAL generations seen: {salts:?}");
    // TXID 1 is a full snapshot.
    let first = ltx_header(s3, bucket, prefix, 0, 1, 1);
    assert!(first.is_snapshot());
    drop(app);
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litestream_0_5_17_and_0_5_15_restore_our_frame_encoded_bucket() {
    let s3 = S3Server::start();
    let bucket = s3.bucket("ours");
    let db = ship_workload(&s3, &bucket, "app.db", PageEncoding::Frame).await;
    let out_dir = tempfile::tempdir().unwrap();
    for (name, bin) in [("0.5.17", litestream_0_5_17()), ("0.5.15", litestream_0_5_15())] {
        let out = out_dir.path().join(format!("restored-{name}.db"));
        let (ok, text) = litestream_restore(&bin, &s3.litestream_url(&bucket, "app.db"), &out, &[]);
        assert!(ok, "litestream {name} restore failed: {text}");
        assert!(integrity_ok(&out), "litestream {name}: integrity");
        assert_same_rows(&out, &db);
    }
    // An intermediate TXID too (exercises L1 + L0 choices in their planner).
    let mid = ltx_ranges(&s3, &bucket, "app.db", 0).len() as u64 / 2;
    let out = out_dir.path().join("mid.db");
    let (ok, text) = litestream_restore(
        &litestream_0_5_17(),
        &s3.litestream_url(&bucket, "app.db"),
        &out,
        &["-txid", &format!("{mid:016x}")],
    );
    assert!(ok, "{text}");
    assert!(integrity_ok(&out));

    // Our own restore and the backup drill agree.
    let opts = s3.options(&bucket, "app.db");
    let ours = out_dir.path().join("ours.db");
    replicate::restore(&opts, &ours, RestoreTarget::Latest, false, |_| {}).await.unwrap();
    assert_same_rows(&ours, &db);
    let report = verify(&opts, &db).await.unwrap();
    assert_eq!(report.live, replicate::LiveComparison::Identical, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litestream_0_5_17_restores_our_block_encoded_bucket() {
    let s3 = S3Server::start();
    let bucket = s3.bucket("blocks");
    let db = ship_workload(&s3, &bucket, "app.db", PageEncoding::Block).await;
    let out = tempfile::tempdir().unwrap();
    let restored = out.path().join("restored.db");
    let (ok, text) = litestream_restore(&litestream_0_5_17(), &s3.litestream_url(&bucket, "app.db"), &restored, &[]);
    assert!(ok, "{text}");
    assert!(integrity_ok(&restored));
    assert_same_rows(&restored, &db);
}
