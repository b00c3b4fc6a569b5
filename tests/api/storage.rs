//! The disk as a hostile environment: a corrupt page (caught by quick_check at start and reported in
//! /readyz and /metrics), and a full disk (503 + Retry-After with the `storage` problem, logged once
//! per state change, recovery by itself once space returns, the WAL kept within its limit).

use std::time::Duration;

use mysetlist::domain::Role;
use serde_json::Value;

use crate::helpers::*;
use crate::server_process::{self, ServerProcess};

#[tokio::test]
async fn a_corrupt_page_is_reported_by_readiness_and_metrics() {
    let app = spawn_app().await;
    let dir = app.stop_keeping_dir().await;
    let db = dir.path().join("mysetlist.db");
    // Damage the root page of a table nothing reads at start: opening still works. Every page must
    // be in the main file first: a copy of the page left in the WAL would hide the damage. The
    // stopped app's reader connections may still be open in this process (so closing ours need not
    // checkpoint) and its first quick_check may still be reading (so a checkpoint can be busy).
    let (root, page_size): (i64, i64) = {
        let c = rusqlite::Connection::open(&db).unwrap();
        let checkpointed = wait_for(Duration::from_secs(15), || async {
            let busy: i64 = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0)).ok()?;
            (busy == 0).then_some(())
        })
        .await;
        assert!(checkpointed.is_some(), "the stopped app's WAL checkpoints completely");
        let root = c.query_row("SELECT rootpage FROM sqlite_schema WHERE name = 'reports'", [], |r| r.get(0)).unwrap();
        (root, c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap())
    };
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
        f.write_all_at(&vec![0xA5; page_size as usize], ((root - 1) * page_size) as u64).unwrap();
    }
    let damaged: String =
        rusqlite::Connection::open(&db).unwrap().query_row("PRAGMA quick_check(1)", [], |r| r.get(0)).unwrap();
    assert_ne!(damaged, "ok", "the damage is visible to SQLite before the app starts");
    let app = spawn_app_in(dir, &[]).await;
    let c = app.client();
    let failure = wait_for(Duration::from_secs(15), || async {
        let r = c.get(app.url("/readyz")).send().await.ok()?;
        (r.status() == 503).then_some(())?;
        let body: Value = r.json().await.ok()?;
        body["failures"]
            .as_array()?
            .iter()
            .filter_map(|f| f.as_str())
            .find(|f| f.starts_with("database integrity"))
            .map(str::to_owned)
    })
    .await
    .expect("/readyz reports the damage found by quick_check");
    assert!(failure.contains("quick_check"), "{failure}");
    let metrics = c.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|l| l == "mysetlist_db_integrity_ok 0"), "{metrics}");
    app.stop().await;
}

#[tokio::test]
async fn a_healthy_database_passes_quick_check() {
    let app = spawn_app().await;
    let c = app.client();
    let ok = wait_for(Duration::from_secs(15), || async {
        let metrics = c.get(app.url("/metrics")).send().await.ok()?.text().await.ok()?;
        metrics.lines().any(|l| l == "mysetlist_db_integrity_ok 1").then_some(())
    })
    .await;
    assert!(ok.is_some(), "quick_check runs at start and finds nothing");
    assert_eq!(c.get(app.url("/readyz")).send().await.unwrap().status(), 200);
    app.stop().await;
}

/// Root, mount namespaces and tmpfs: the data directory is a small tmpfs in the server's own mount
/// namespace, filled up by the test through /proc/<pid>/root.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_answers_503_logs_once_and_recovers_when_space_returns() {
    if !server_process::is_root()
        || !std::process::Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"])
            .status()
            .is_ok_and(|s| s.success())
    {
        eprintln!("SKIPPED a_full_disk_answers_503…: needs root and mount namespaces");
        return;
    }
    // Seed fans and a show in-process, then serve a copy from a 24 MiB tmpfs.
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(7), 3).await;
    let mut tokens = Vec::new();
    for i in 0..60 {
        let user = app.user(&format!("full{i}@example.org"), Role::User).await;
        tokens.push(app.domain().create_session(&user).await.unwrap().token);
    }
    let seeded = app.stop_keeping_dir().await;
    let data = tempfile::tempdir().unwrap();
    let mut cmd = server_process::command("unshare", data.path());
    cmd.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs -o size=24m tmpfs \"$2\" && cp \"$1\"/mysetlist.db* \"$2\"/ && exec \"$3\" serve")
        .arg("sh")
        .args([seeded.path().as_os_str(), data.path().as_os_str(), server_process::binary().as_os_str()])
        .env("MYSETLIST_RATE_LIMIT__VOTES_PER_MINUTE", "1000000");
    let server = ServerProcess::start(cmd);
    let inside = std::path::PathBuf::from(format!("/proc/{}/root{}", server.pid(), data.path().display()));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let cookie = |i: usize| format!("{}={}", mysetlist::http::session_cookie_name(false), tokens[i % tokens.len()]);
    let vote = |i: usize| {
        let (client, url, cookie) =
            (client.clone(), server.url(&format!("/api/v1/shows/{}/songs/", show.show_id)), cookie(i));
        let song = show.song_ids[i / tokens.len() % show.song_ids.len()];
        async move { client.post(format!("{url}{song}/vote")).header("cookie", cookie).send().await.unwrap() }
    };
    assert_eq!(vote(0).await.status(), 200, "writes work before the disk fills");

    // Fill the disk but for a few pages, then write until the disk refuses.
    let filler = inside.join("filler");
    let free = rustix::fs::statvfs(&inside).unwrap();
    let size = (free.f_bavail * free.f_frsize).saturating_sub(16 * 1024);
    std::fs::write(&filler, vec![0u8; size as usize]).ok();
    let mut refused = None;
    for i in 1..5_000 {
        let r = vote(i).await;
        match r.status().as_u16() {
            200 => continue,
            503 => {
                refused = Some((r.headers().contains_key("retry-after"), r.json::<Value>().await.unwrap()));
                break;
            }
            other => panic!("a write on a full disk answered {other}: {}", r.text().await.unwrap()),
        }
    }
    let (retry_after, problem) = refused.expect("the disk never filled");
    assert!(retry_after, "503 carries Retry-After");
    assert_eq!(problem["code"], "storage", "{problem}");
    // While the disk is full every write is refused the same way. The node may free space by
    // itself meanwhile (a checkpoint that empties the WAL when free space runs below its size):
    // then writes succeed again until the disk is full again. Either way nothing else is answered.
    let (mut refusals, mut last_refused) = (0, true);
    for i in 5_000..5_050 {
        let r = vote(i).await;
        let status = r.status();
        let body = r.text().await.unwrap();
        match status.as_u16() {
            200 => last_refused = false,
            503 => {
                assert!(body.contains("\"storage\""), "refused as `storage`: {body}");
                (refusals, last_refused) = (refusals + 1, true);
            }
            _ => panic!("a write on a full disk answered {status}: {body}"),
        }
    }
    assert!(refusals >= 25, "most writes on a full disk are refused: {refusals} of 50");
    // End in the failing state (bounded) for the checks below.
    let mut i = 5_050;
    while !last_refused && i < 10_000 {
        last_refused = vote(i).await.status() == 503;
        i += 1;
    }
    assert!(last_refused, "the disk never filled again");
    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let count = |needle: &str| server.lines().iter().filter(|l| l.contains(needle)).count();
    let (failing, recovered) = (count("the disk refuses writes"), count("the disk accepts writes again"));
    assert_eq!(failing, recovered + 1, "logged once per state change, not per request");
    assert!(!server.lines().iter().any(|l| l.contains("\"internal error\"")), "no internal errors logged");

    // Space returns: the node recovers by itself.
    std::fs::remove_file(&filler).unwrap();
    let back = wait_for(Duration::from_secs(20), || async { (vote(9_000).await.status() == 200).then_some(()) }).await;
    assert!(back.is_some(), "writes work again once space returns");
    let ready = wait_for(Duration::from_secs(20), || async {
        (client.get(server.url("/readyz")).send().await.ok()?.status() == 200).then_some(())
    })
    .await;
    assert!(ready.is_some(), "/readyz recovers");
    assert!(server.lines().iter().any(|l| l.contains("the disk accepts writes again")));
    server.stop();
}
