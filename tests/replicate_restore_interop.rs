//! Our restore reads what the real Litestream writes: a 0.5.17 bucket (L0 files, an L1
//! compaction, an L9 snapshot) and a v0.3.13 bucket (generations layout). Corrupt or
//! truncated objects make the restore fail with the object's name and leave no target.

mod replicate_support;

use std::path::Path;
use std::time::Duration;

use mysetlist::replicate::{self, ReplicateError, RestoreSource, RestoreTarget, Txid};
use replicate_support::*;

fn ltx_keys(s3: &S3Server, bucket: &str, prefix: &str, level: &str) -> Vec<String> {
    s3.keys(bucket, &format!("{prefix}/{level}")).into_iter().filter(|k| k.ends_with(".ltx")).collect()
}

fn write_config(dir: &Path, body: &str) -> std::path::PathBuf {
    let p = dir.join("litestream.yml");
    std::fs::write(&p, body).unwrap();
    p
}

/// Writes rows in several batches while a real `litestream replicate` ships them, waiting
/// after each batch until `progress` reports a new upload; then stops it gracefully.
fn replicate_with_litestream(bin: &Path, config: &Path, db: &Path, batches: i64, mut progress: impl FnMut() -> usize) {
    let writer = open_writer(db);
    write_rows(&writer, 0, 50);
    let mut child = litestream_cmd(bin)
        .args(["replicate", "-config"])
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start litestream replicate");
    assert!(wait_until(Duration::from_secs(30), || progress() > 0), "litestream uploaded nothing");
    for b in 1..=batches {
        let before = progress();
        write_rows(&writer, b * 1000, 40 + b * 7);
        // Some updates and deletes too, so pages are rewritten, not only appended.
        writer.execute("UPDATE votes SET song = song || '!' WHERE id % 5 = ?1", [b % 5]).unwrap();
        writer.execute("DELETE FROM votes WHERE id % 11 = ?1", [b % 11]).unwrap();
        assert!(wait_until(Duration::from_secs(30), || progress() > before), "litestream did not ship batch {b}");
    }
    terminate(&mut child);
    drop(writer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_a_bucket_written_by_litestream_0_5_17() {
    let s3 = S3Server::start();
    let bucket = s3.bucket("ls-bucket");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("source.db");
    let config = write_config(
        dir.path(),
        &format!(
            "levels:\n  - interval: 2s\nsnapshot:\n  interval: 4s\n\
             dbs:\n  - path: {}\n    replica:\n      type: s3\n      bucket: {bucket}\n      path: app.db\n\
             \x20     endpoint: {}\n      region: us-east-1\n      force-path-style: true\n\
             \x20     access-key-id: {ACCESS_KEY}\n      secret-access-key: {SECRET_KEY}\n      sync-interval: 100ms\n",
            db.display(),
            s3.endpoint()
        ),
    );
    replicate_with_litestream(&litestream_0_5_17(), &config, &db, 6, || ltx_keys(&s3, &bucket, "app.db", "0000").len());
    // Make sure the bucket has what the test is about: a compaction and a snapshot.
    assert!(
        wait_until(Duration::from_secs(1), || !ltx_keys(&s3, &bucket, "app.db", "0001").is_empty()),
        "no L1 compaction: {:?}",
        s3.keys(&bucket, "app.db")
    );
    assert!(!ltx_keys(&s3, &bucket, "app.db", "0009").is_empty(), "no L9 snapshot");

    let out = dir.path().join("restored.db");
    let mut calls = 0;
    let report = replicate::restore(&s3.options(&bucket, "app.db"), &out, RestoreTarget::Latest, false, |_| calls += 1)
        .await
        .unwrap();
    assert!(calls >= 2, "progress was reported");
    assert!(matches!(report.source, RestoreSource::Ltx { .. }));
    assert!(integrity_ok(&out));
    assert_same_rows(&out, &db);

    // A restore to an earlier TXID gives an earlier, still valid, state.
    let early = dir.path().join("early.db");
    let r = replicate::restore(&s3.options(&bucket, "app.db"), &early, RestoreTarget::Txid(Txid(2)), false, |_| {})
        .await
        .unwrap();
    assert_eq!(r.txid, Some(Txid(2)));
    assert!(integrity_ok(&early));
    assert!(rows(&early).len() < rows(&db).len());

    // The real Litestream agrees with us on the same bucket.
    let theirs = dir.path().join("theirs.db");
    let (ok, text) = litestream_restore(&litestream_0_5_17(), &s3.litestream_url(&bucket, "app.db"), &theirs, &[]);
    assert!(ok, "{text}");
    assert_same_rows(&theirs, &out);

    // Listing shows the snapshot and the TXID range.
    let listing = replicate::list(&s3.options(&bucket, "app.db")).await.unwrap();
    assert!(!listing.snapshots.is_empty());
    assert_eq!(listing.restorable_txid, Ok(report.txid.unwrap().get()));
    assert_eq!(listing.max_txid, report.txid.map(Txid::get));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_a_litestream_0_3_13_generation() {
    let s3 = S3Server::start();
    let bucket = s3.bucket("v3-bucket");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("legacy.db");
    let config = write_config(
        dir.path(),
        &format!(
            "dbs:\n  - path: {}\n    replicas:\n      - type: s3\n        bucket: {bucket}\n        path: legacy.db\n\
             \x20       endpoint: {}\n        region: us-east-1\n        force-path-style: true\n\
             \x20       access-key-id: {ACCESS_KEY}\n        secret-access-key: {SECRET_KEY}\n        sync-interval: 100ms\n",
            db.display(),
            s3.endpoint()
        ),
    );
    replicate_with_litestream(&litestream_0_3_13(), &config, &db, 4, || {
        s3.keys(&bucket, "legacy.db/generations").iter().filter(|k| k.ends_with(".wal.lz4")).count()
    });

    let out = dir.path().join("restored.db");
    let report = replicate::restore(&s3.options(&bucket, "legacy.db"), &out, RestoreTarget::Latest, false, |_| {})
        .await
        .unwrap();
    assert!(matches!(report.source, RestoreSource::V3 { .. }), "{report:?}");
    assert!(integrity_ok(&out));
    assert_same_rows(&out, &db);
}

/// Flipping a byte or cutting an object short must fail the restore, name the object, and
/// leave neither the target nor a temp file behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_or_truncated_objects_fail_by_name_and_write_nothing() {
    let s3 = S3Server::start();
    let bucket = s3.bucket("bad-bucket");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("source.db");
    let config = write_config(
        dir.path(),
        &format!(
            "dbs:\n  - path: {}\n    replica:\n      type: s3\n      bucket: {bucket}\n      path: app.db\n\
             \x20     endpoint: {}\n      region: us-east-1\n      force-path-style: true\n\
             \x20     access-key-id: {ACCESS_KEY}\n      secret-access-key: {SECRET_KEY}\n      sync-interval: 100ms\n",
            db.display(),
            s3.endpoint()
        ),
    );
    replicate_with_litestream(&litestream_0_5_17(), &config, &db, 3, || ltx_keys(&s3, &bucket, "app.db", "0000").len());
    let opts = s3.options(&bucket, "app.db");
    let l0 = ltx_keys(&s3, &bucket, "app.db", "0000");
    let victim = l0.last().unwrap().clone();
    let path = s3.object_path(&bucket, &victim);
    let original = std::fs::read(&path).unwrap();

    let out = dir.path().join("out.db");
    for (what, bytes) in [
        ("flipped byte", {
            let mut b = original.clone();
            let mid = b.len() / 2;
            b[mid] ^= 0x40;
            b
        }),
        ("truncated", original[..original.len() - 20].to_vec()),
    ] {
        std::fs::write(&path, &bytes).unwrap();
        let err = replicate::restore(&opts, &out, RestoreTarget::Latest, false, |_| {}).await.expect_err(what);
        assert!(err.to_string().contains(&victim), "{what}: error names the object: {err}");
        assert!(matches!(err, ReplicateError::CorruptObject { .. }), "{what}: {err:?}");
        assert!(!out.exists(), "{what}: no target written");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("out.db"))
            .collect();
        assert!(leftovers.is_empty(), "{what}: leftovers {leftovers:?}");
    }

    // Restored again, the object is fine; an existing target is refused without force.
    std::fs::write(&path, &original).unwrap();
    replicate::restore(&opts, &out, RestoreTarget::Latest, false, |_| {}).await.unwrap();
    let err = replicate::restore(&opts, &out, RestoreTarget::Latest, false, |_| {}).await.unwrap_err();
    assert!(matches!(err, ReplicateError::TargetExists(_)), "{err:?}");
    replicate::restore(&opts, &out, RestoreTarget::Latest, true, |_| {}).await.unwrap();
    assert_same_rows(&out, &db);
}
