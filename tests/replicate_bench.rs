//! Replication benchmark, run by scripts/bench-replication.sh (ignored in normal runs).
//! Prints commit throughput without replication (the baseline, measured in the same run),
//! with local-ack and with replicated-ack replication to a local s3s-fs, as ratios to the
//! baseline, plus the replicated-ack wait latency and restore speed.

mod replicate_support;

use std::path::Path;
use std::time::{Duration, Instant};

use mysetlist::replicate::{self, AckMode, Replicator, RestoreTarget};
use replicate_support::*;

const ROWS_PER_COMMIT: i64 = 10;

fn commits() -> usize {
    std::env::var("BENCH_COMMITS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

async fn run(s3: &S3Server, dir: &Path, name: &str, ack: Option<AckMode>) -> (Duration, Vec<Duration>) {
    let db = dir.join(format!("{name}.db"));
    let mut app = App::open(&db);
    let handle = ack.map(|ack| {
        let bucket = s3.bucket(name);
        let mut opts = s3.options(&bucket, "app.db");
        opts.ack = ack;
        Replicator::start(opts, &db, app.commits()).unwrap()
    });
    if let Some(h) = &handle {
        let seq = app.commit(1);
        h.wait_durable(seq, Duration::from_secs(30)).await.unwrap();
    }
    let mut waits = Vec::new();
    let started = Instant::now();
    for _ in 0..commits() {
        let seq = app.insert(ROWS_PER_COMMIT);
        if let (Some(h), Some(AckMode::Replicated)) = (&handle, ack) {
            let t = Instant::now();
            h.wait_durable(seq, Duration::from_secs(30)).await.unwrap();
            waits.push(t.elapsed());
        }
    }
    let elapsed = started.elapsed();
    if let Some(h) = handle {
        h.wait_durable(app.seq, Duration::from_secs(60)).await.unwrap();
        h.shutdown().await;
    }
    (elapsed, waits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: scripts/bench-replication.sh"]
async fn bench_replication() {
    init_logging();
    let s3 = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    let n = commits();
    let (base, _) = run(&s3, dir.path(), "baseline", None).await;
    let (local, _) = run(&s3, dir.path(), "local", Some(AckMode::Local)).await;
    let (repl, mut waits) = run(&s3, dir.path(), "replicated", Some(AckMode::Replicated)).await;
    waits.sort();

    let opts = s3.options("replicated", "app.db");
    let t = Instant::now();
    replicate::list(&opts).await.unwrap();
    let list_time = t.elapsed();
    let out = dir.path().join("restored.db");
    let t = Instant::now();
    let mut planned_at = None;
    let report = replicate::restore(&opts, &out, RestoreTarget::Latest, false, |p| {
        if p.files_done == 0 {
            planned_at = Some(t.elapsed());
        }
    })
    .await
    .unwrap();
    println!("restore planned after {planned_at:?}");
    let restore = t.elapsed();
    let db_bytes = std::fs::metadata(&out).unwrap().len();
    let theirs = dir.path().join("theirs.db");
    let t = Instant::now();
    let (ok, text) = litestream_restore(&litestream_0_5_17(), &s3.litestream_url("replicated", "app.db"), &theirs, &[]);
    assert!(ok, "{text}");
    let litestream_restore_time = t.elapsed();

    println!("commits per run: {n} ({ROWS_PER_COMMIT} rows each), S3: s3s-fs on loopback");
    println!("baseline (no replication): {:>9.0} commits/s", rate(n, base));
    println!(
        "local ack:                 {:>9.0} commits/s  ratio {:.2}",
        rate(n, local),
        base.as_secs_f64() / local.as_secs_f64()
    );
    println!(
        "replicated ack:            {:>9.0} commits/s  ratio {:.2}  wait p50 {:?} p99 {:?}",
        rate(n, repl),
        base.as_secs_f64() / repl.as_secs_f64(),
        percentile(&waits, 0.5),
        percentile(&waits, 0.99)
    );
    println!(
        "restore: {} files, {:.1} MB database in {:?} ({:.1} MB/s)",
        match &report.source {
            replicate::RestoreSource::Ltx { files } => files.len(),
            replicate::RestoreSource::V3 { .. } => 0,
        },
        db_bytes as f64 / 1e6,
        restore,
        db_bytes as f64 / 1e6 / restore.as_secs_f64()
    );
    println!("listing the bucket: {list_time:?}");
    println!(
        "litestream 0.5.17 restore of the same bucket: {:?} (ours takes {:.2}x its time)",
        litestream_restore_time,
        restore.as_secs_f64() / litestream_restore_time.as_secs_f64()
    );
}
