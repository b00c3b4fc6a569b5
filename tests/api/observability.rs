//! Monitoring: /metrics (families, movement, access rules, separate listener), request logs,
//! readiness when the database turns read-only, built-in alerts through a webhook, status pages.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mysetlist::domain::Role;
use mysetlist::observability::{FailoverFacts, ShippingFacts};
use parking_lot::Mutex;
use poem::listener::{Acceptor, Listener};
use serde_json::Value;

use crate::helpers::*;
use crate::server_process::{self, ServerProcess};

/// The value of one exposition line `series value`, e.g. `mysetlist_votes_total` or
/// `mysetlist_votes_rejected_total{reason="not_found"}`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.split_whitespace().next()?.parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let r = app.client().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    r.text().await.unwrap()
}

#[tokio::test]
async fn metrics_expose_every_family_and_a_vote_moves_the_counter() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(3), 4).await;
    let (fan, _) = app.signed_in("fan@example.org", Role::User).await;

    let before = scrape(&app).await;
    for family in [
        "# TYPE mysetlist_http_requests counter",
        "# TYPE mysetlist_http_request_duration_seconds histogram",
        "mysetlist_http_requests_in_flight ",
        "mysetlist_votes_total ",
        "mysetlist_votes_retracted_total ",
        "mysetlist_votes_rejected_total{reason=\"voting_closed\"} ",
        "mysetlist_sse_connections ",
        "mysetlist_live_rankings_unchanged_total ",
        "mysetlist_db_writer_queue_depth ",
        "mysetlist_db_writer_last_batch_size ",
        "mysetlist_db_commits_total ",
        "mysetlist_db_commit_duration_seconds_bucket{le=\"+Inf\"} ",
        "mysetlist_db_size_bytes ",
        "mysetlist_db_wal_size_bytes ",
        "mysetlist_log_lines_dropped_total 0",
        "mysetlist_disk_available_bytes ",
        "mysetlist_replication_lag_seconds ",
        "mysetlist_replication_upload_errors_total ",
        "mysetlist_role{role=\"primary\"} 1",
        "mysetlist_build_info{version=",
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "# EOF",
    ] {
        assert!(before.contains(family), "missing `{family}` in:\n{before}");
    }
    // Absent until their subsystem reports: a node without failover must not look leaderless.
    assert!(!before.contains("mysetlist_failover_is_leader "));
    assert!(!before.contains("mysetlist_backup_verify_last_success_timestamp_seconds "));

    let votes_before = sample(&before, "mysetlist_votes_total").unwrap();
    let commits_before = sample(&before, "mysetlist_db_commits_total").unwrap();
    let vote_url = app.url(&format!("/api/v1/shows/{}/songs/{}/vote", show.show_id, show.song_ids[0]));
    assert_eq!(fan.post(&vote_url).send().await.unwrap().status(), 200);
    let missing = app.url(&format!("/api/v1/shows/{}/songs/999999/vote", show.show_id));
    assert_eq!(fan.post(&missing).send().await.unwrap().status(), 404);

    // A live-ranking connection shows up while it is open.
    let live = app.client().get(app.url(&format!("/shows/{}/live", show.show_id))).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let after = wait_for(Duration::from_secs(5), || async {
        let t = scrape(&app).await;
        (sample(&t, "mysetlist_sse_connections") == Some(1.0)).then_some(t)
    })
    .await
    .expect("the open SSE connection is counted");
    drop(live);

    assert_eq!(sample(&after, "mysetlist_votes_total"), Some(votes_before + 1.0));
    assert_eq!(sample(&after, "mysetlist_votes_rejected_total{reason=\"not_found\"}"), Some(1.0));
    assert!(sample(&after, "mysetlist_db_commits_total").unwrap() > commits_before);
    // The router's own pattern (poem-openapi names path parameters by position).
    let route = "route=\"/api/v1/shows/:param0/songs/:param1/vote\"";
    assert_eq!(
        sample(&after, &format!("mysetlist_http_requests_total{{{route},method=\"POST\",status=\"200\"}}")),
        Some(1.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, &format!("mysetlist_http_requests_total{{{route},method=\"POST\",status=\"404\"}}")),
        Some(1.0)
    );
    assert!(after.contains(&format!("mysetlist_http_request_duration_seconds_count{{{route}}} 2")), "{after}");
    // Unknown paths share one label value instead of adding series.
    app.client().get(app.url("/no/such/page-123")).send().await.unwrap();
    let t = scrape(&app).await;
    assert!(t.contains("route=\"unmatched\",method=\"GET\",status=\"404\"} 1"), "{t}");
    assert!(!t.contains("page-123"));

    // Reports from other subsystems appear once made.
    // Failover (here a stand-in for it) is read at scrape time.
    let failover = std::sync::Arc::new(std::sync::Mutex::new(FailoverFacts { leader: true, ..Default::default() }));
    let read = failover.clone();
    app.state.obs.metrics.failover.read_from(std::sync::Arc::new(move || Some(read.lock().unwrap().clone())));
    app.state.obs.metrics.tls.read_from(std::sync::Arc::new(|| mysetlist::observability::CertificateFacts {
        expiries: vec![("vote.example".into(), 1_900_000_000)],
        ..Default::default()
    }));
    app.state.obs.metrics.rate_limits.rejected("votes");
    let t = scrape(&app).await;
    assert_eq!(sample(&t, "mysetlist_rate_limit_rejections_total{limit=\"votes\"}"), Some(1.0));
    assert_eq!(sample(&t, "mysetlist_failover_is_leader"), Some(1.0));
    // The contract with ops/: every metric ops/README.md names is exposed once everything reported.
    let m = &app.state.obs.metrics;
    m.backup.verify_failed(1_800_000_000);
    m.backup.verify_succeeded(1_800_000_100);
    *failover.lock().unwrap() = FailoverFacts {
        leader: true,
        txid: 7,
        follower_lag: std::time::Duration::from_millis(250),
        uploads: 1,
        last_upload: Some(1_800_000_200),
        shipping: Some(ShippingFacts { txid: 7, commits_behind: 0, last_snapshot: Some(1_800_000_300) }),
        ..Default::default()
    };
    app.database().write(|c| mysetlist::db::jobs::record(c, "drill", 1, 2, None)).await.unwrap();
    let t = scrape(&app).await;
    let documented = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/ops/README.md")).unwrap();
    let names: std::collections::BTreeSet<&str> = documented
        .split('`')
        .filter(|w| (w.starts_with("mysetlist_") || w.starts_with("process_")) && !w.contains(' '))
        .collect();
    assert!(names.len() > 30, "{names:?}");
    for name in names {
        assert!(t.contains(name), "ops/README.md names `{name}`, /metrics lacks it:\n{t}");
    }
    assert_eq!(
        sample(&t, "mysetlist_tls_certificate_expiry_timestamp_seconds{domain=\"vote.example\"}"),
        Some(1_900_000_000.0)
    );
    app.stop().await;
}

#[tokio::test]
async fn scheduled_jobs_last_runs_are_on_metrics() {
    let app = spawn_app().await;
    // The scheduler runs `lock_shows` at start; its row in job_runs shows up at the next scrape.
    let text = wait_for(Duration::from_secs(10), || async {
        let t = scrape(&app).await;
        (sample(&t, "mysetlist_job_last_run_ok{name=\"lock_shows\"}") == Some(1.0)).then_some(t)
    })
    .await
    .expect("the lock_shows run never showed on /metrics");
    let ran = sample(&text, "mysetlist_job_last_run_timestamp_seconds{name=\"lock_shows\"}").unwrap();
    assert!((ran - mysetlist::db::now() as f64).abs() < 60.0, "{text}");
    assert_eq!(sample(&text, "mysetlist_job_last_success_timestamp_seconds{name=\"lock_shows\"}"), Some(ran));
    assert_eq!(sample(&text, "mysetlist_job_consecutive_failures{name=\"lock_shows\"}"), Some(0.0));

    // A success then two failures: the last success stays, the failures count up.
    let record = |finished: i64, error: Option<&'static str>| {
        app.database().write(move |c| mysetlist::db::jobs::record(c, "drill", finished - 5, finished, error))
    };
    record(1_700_000_000, None).await.unwrap();
    record(1_700_000_100, Some("bucket unreachable")).await.unwrap();
    record(1_700_000_200, Some("bucket unreachable")).await.unwrap();
    let t = scrape(&app).await;
    assert_eq!(sample(&t, "mysetlist_job_last_run_timestamp_seconds{name=\"drill\"}"), Some(1_700_000_200.0));
    assert_eq!(sample(&t, "mysetlist_job_last_success_timestamp_seconds{name=\"drill\"}"), Some(1_700_000_000.0));
    assert_eq!(sample(&t, "mysetlist_job_last_run_ok{name=\"drill\"}"), Some(0.0));
    assert_eq!(sample(&t, "mysetlist_job_consecutive_failures{name=\"drill\"}"), Some(2.0));
    assert!(t.contains("# TYPE mysetlist_job_last_run_ok gauge"), "{t}");
    assert!(!t.contains("bucket unreachable"), "error texts stay off /metrics");
    app.stop().await;
}

#[tokio::test]
async fn metrics_refuse_other_networks_and_accept_the_bearer_token() {
    let token = "scrape-token-7f3a9c";
    let app =
        spawn_app_with(&[("MYSETLIST_METRICS__ALLOW", "[\"10.0.0.0/8\"]"), ("MYSETLIST_METRICS__TOKEN", token)]).await;
    let c = app.client();
    let url = app.url("/metrics");
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 403, "127.0.0.1 is not in metrics.allow");
    assert!(r.text().await.unwrap().contains("metrics.allow"));
    assert_eq!(c.get(&url).bearer_auth("wrong").send().await.unwrap().status(), 403);
    let ok = c.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("mysetlist_http_requests_total"));
    app.stop().await;

    // Default allow list (loopback), but the request was forwarded by a proxy nobody trusts.
    let app = spawn_app().await;
    let c = app.client();
    assert_eq!(c.get(app.url("/metrics")).send().await.unwrap().status(), 200);
    let r = c.get(app.url("/metrics")).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
    assert_eq!(r.status(), 403, "a forwarded request does not count as loopback");
    app.stop().await;
}

#[tokio::test]
async fn metrics_by_address_refuse_a_host_that_does_not_name_this_server() {
    let app = spawn_app_with(&[("MYSETLIST_PUBLIC_URL", "https://vote.example.org")]).await;
    let c = app.client();
    let port = app.addr.port();
    let get = |host: String| c.get(app.url("/metrics")).header("host", host).send();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "LOCALHOST".to_owned(),
        format!("[::1]:{port}"),
        "vote.example.org".to_owned(),
    ] {
        assert_eq!(get(host.clone()).await.unwrap().status(), 200, "{host}");
    }
    // DNS rebinding: a page of another site re-points its name at 127.0.0.1.
    for host in
        [format!("evil.example:{port}"), "127.0.0.1.evil.example".to_owned(), "vote.example.org.evil".to_owned()]
    {
        let r = get(host.clone()).await.unwrap();
        assert_eq!(r.status(), 403, "{host}");
        assert!(r.text().await.unwrap().contains("Host"));
    }
    app.stop().await;
}

#[tokio::test]
async fn the_metrics_bearer_scheme_is_case_insensitive() {
    let token = "scrape-token-7f3a9c";
    let app =
        spawn_app_with(&[("MYSETLIST_METRICS__ALLOW", "[\"10.0.0.0/8\"]"), ("MYSETLIST_METRICS__TOKEN", token)]).await;
    let c = app.client();
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let r = c.get(app.url("/metrics")).header("authorization", format!("{scheme} {token}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{scheme}");
    }
    let r = c.get(app.url("/metrics")).header("authorization", format!("Basic {token}")).send().await.unwrap();
    assert_eq!(r.status(), 403, "another scheme is not a bearer token");
    app.stop().await;
}

#[tokio::test]
async fn metrics_can_have_their_own_listener() {
    let app = spawn_app_with(&[("MYSETLIST_METRICS__LISTEN", "127.0.0.1:0")]).await;
    let metrics_addr = app.metrics_addr.expect("metrics.listen binds a listener");
    assert_ne!(metrics_addr, app.addr);
    let c = app.client();
    assert_eq!(c.get(app.url("/metrics")).send().await.unwrap().status(), 404, "not on the main listener");
    let r = c.get(format!("http://{metrics_addr}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // A request is counted once answered: the second scrape sees the first.
    let text = c.get(format!("http://{metrics_addr}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("mysetlist_build_info"));
    assert!(text.contains("route=\"/metrics\""), "the metrics listener counts its own requests too");
    assert_eq!(c.get(format!("http://{metrics_addr}/")).send().await.unwrap().status(), 404);
    app.stop().await;
}

/// Runs `mysetlist admin create-user` for the subprocess tests.
fn create_user(data_dir: &std::path::Path, email: &str, password: &str) {
    let pw = data_dir.join("password.txt");
    std::fs::write(&pw, password).unwrap();
    let mut cmd = server_process::command(server_process::binary(), data_dir);
    cmd.args(["admin", "create-user", "--email", email, "--password-file"])
        .arg(&pw)
        .stderr(std::process::Stdio::null());
    assert!(cmd.status().unwrap().success(), "create-user failed");
    std::fs::remove_file(pw).unwrap();
}

#[tokio::test]
async fn request_logs_are_json_lines_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let password = "Correct-Horse-Battery-0xA1";
    create_user(dir.path(), "logger@example.org", password);
    let server = ServerProcess::start({
        let mut cmd = server_process::command(server_process::binary(), dir.path());
        cmd.arg("serve");
        cmd
    });
    let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = c
        .post(server.url("/api/v1/auth/login?next=query-secret-1"))
        .header("x-request-id", "login-req-1")
        .json(&serde_json::json!({"email": "logger@example.org", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let set_cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    let session = set_cookie.split(';').next().unwrap().to_owned(); // "session=<value>"
    let session_value = session.split_once('=').unwrap().1.to_owned();
    let home = c
        .get(server.url("/?token=query-secret-2"))
        .header("cookie", &session)
        .header("authorization", "Bearer bearer-secret-3")
        .header("x-request-id", "home-req-2")
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    assert_eq!(home.headers()["x-request-id"], "home-req-2");
    let failing = c.post(server.url("/api/v1/auth/login")).header("x-request-id", "bad-req-3").body("{not json").send();
    let failing_status = failing.await.unwrap().status();
    assert!(failing_status.is_client_error());

    let lines = server.stop();
    let json: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let request = |id: &str| {
        json.iter()
            .find(|v| v["message"] == "request" && v["request_id"] == id)
            .unwrap_or_else(|| panic!("no request line for {id}:\n{}", lines.join("\n")))
    };
    let l = request("login-req-1");
    assert_eq!(
        (l["method"].as_str(), l["route"].as_str(), l["status"].as_u64()),
        (Some("POST"), Some("/api/v1/auth/login"), Some(200))
    );
    assert!(l["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    assert_eq!(l["level"], "INFO");
    let h = request("home-req-2");
    assert_eq!((h["route"].as_str(), h["status"].as_u64()), (Some("/"), Some(200)));
    let b = request("bad-req-3");
    assert_eq!(b["status"].as_u64(), Some(u64::from(failing_status.as_u16())));
    for v in json.iter().filter(|v| v["message"] == "request") {
        for field in ["timestamp", "level", "request_id", "method", "route", "status", "latency_ms"] {
            assert!(!v[field].is_null(), "{field} missing in {v}");
        }
    }
    let all = lines.join("\n");
    for secret in
        [password, "query-secret-1", "query-secret-2", "bearer-secret-3", session_value.as_str(), "logger@example.org"]
    {
        assert!(!all.contains(secret), "`{secret}` leaked into the log:\n{all}");
    }
    // Only the lines announcing the server's own listening address may hold an address.
    for (l, _) in lines.iter().zip(&json).filter(|(_, v)| v["message"] != "serving" && v["message"] != "listening") {
        assert!(!l.contains("127.0.0.1"), "a client address leaked into the log: {l}");
    }
}

/// How the test makes the database read-only under a running server.
enum ReadOnlyMechanism {
    /// As root: the data directory is an ext4 filesystem (a loop-mounted image, `errors=remount-ro`)
    /// in the server's own mount namespace, and the test injects a filesystem error through
    /// /sys/fs/ext4/<dev>/trigger_fs_error: the kernel's real error path, after which every write
    /// fails with EROFS/EIO exactly as after a disk fault. There is no way back short of unmounting.
    Ext4Error,
    /// Not root: the database file loses its write permission (and gets it back).
    Permissions,
}

fn tool_works(program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn readiness_fails_while_the_database_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mechanism = if !server_process::is_root() {
        ReadOnlyMechanism::Permissions
    } else if tool_works("unshare", &["-m", "--propagation", "private", "true"])
        && tool_works("mkfs.ext4", &["-V"])
        && std::path::Path::new("/dev/loop-control").exists()
    {
        ReadOnlyMechanism::Ext4Error
    } else {
        // Root ignores permissions, and without mount namespaces and loop devices nothing else
        // can make a file read-only for it.
        eprintln!(
            "SKIPPED readiness_fails_while_the_database_is_read_only: root without mount namespaces or loop devices"
        );
        return;
    };
    let image = dir.path().join("data.ext4");
    if let ReadOnlyMechanism::Ext4Error = mechanism {
        let mkfs = |path: &std::path::Path, size: u64| {
            std::fs::File::create(path).unwrap().set_len(size).unwrap();
            assert!(tool_works("mkfs.ext4", &["-q", "-F", path.to_str().unwrap()]), "mkfs.ext4 failed");
        };
        // Probe with a throwaway image: a loop device is released asynchronously after umount, and
        // the real image must not still be attached when the server mounts it.
        let probe_image = dir.path().join("probe.ext4");
        mkfs(&probe_image, 8 << 20);
        let probe =
            format!("mount -o loop,ro '{}' '{}' && umount '{}'", probe_image.display(), data.display(), data.display());
        if !tool_works("unshare", &["-m", "--propagation", "private", "sh", "-c", &probe]) {
            eprintln!("SKIPPED readiness_fails_while_the_database_is_read_only: cannot loop-mount an image here");
            return;
        }
        mkfs(&image, 64 << 20);
    }
    let server = ServerProcess::start(match mechanism {
        ReadOnlyMechanism::Ext4Error => {
            let mut cmd = server_process::command("unshare", &data);
            cmd.args(["-m", "--propagation", "private", "sh", "-c"])
                .arg("mount -o loop,errors=remount-ro \"$1\" \"$2\" && exec \"$3\" serve")
                .arg("sh")
                .args([image.as_os_str(), data.as_os_str(), server_process::binary().as_os_str()]);
            cmd
        }
        ReadOnlyMechanism::Permissions => {
            let mut cmd = server_process::command(server_process::binary(), &data);
            cmd.arg("serve");
            cmd
        }
    });
    let c = reqwest::Client::new();
    let ready = || async { c.get(server.url("/readyz")).send().await.unwrap() };
    assert_eq!(ready().await.status(), 200);
    let sign_up = |email: &'static str| {
        let c = c.clone();
        let url = server.url("/api/v1/auth/signup");
        async move {
            let body =
                serde_json::json!({"email": email, "password": "a long enough passphrase 42", "display_name": "x"});
            c.post(url).json(&body).send().await.unwrap().status()
        }
    };
    assert!(sign_up("before@example.org").await.is_success(), "writes work before");

    match mechanism {
        ReadOnlyMechanism::Ext4Error => {
            let out = std::process::Command::new("nsenter")
                .args(["-t", &server.pid().to_string(), "-m", "findmnt", "-n", "-o", "SOURCE"])
                .arg(&data)
                .output()
                .unwrap();
            let source = String::from_utf8(out.stdout).unwrap();
            let device = source.trim().rsplit('/').next().unwrap().to_owned();
            assert!(device.starts_with("loop"), "data directory is not on the loop device: {source:?}");
            std::fs::write(format!("/sys/fs/ext4/{device}/trigger_fs_error"), "mysetlist readiness test").unwrap();
        }
        ReadOnlyMechanism::Permissions => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(data.join("mysetlist.db"), std::fs::Permissions::from_mode(0o444)).unwrap();
        }
    }
    // The files check names the cause. (The write probe may notice first: ext4 marks the
    // filesystem read-only a moment after the error, so wait for the files check itself.)
    let reason = wait_for(Duration::from_secs(10), || async {
        let r = ready().await;
        (r.status() == 503).then_some(())?;
        let body = r.json::<Value>().await.unwrap();
        assert_eq!(body["ready"], false);
        body["failures"]
            .as_array()?
            .iter()
            .filter_map(|f| f.as_str())
            .find(|f| f.starts_with("database files: "))
            .map(str::to_owned)
    })
    .await
    .expect("/readyz turns 503 and names the database files while they cannot be written");

    match mechanism {
        ReadOnlyMechanism::Ext4Error => {
            assert!(reason.contains("Read-only file system") || reason.contains("mounted read-only"), "{reason}");
            // The readiness answer matches reality: writes fail too.
            assert!(sign_up("after@example.org").await.is_server_error(), "writes fail on the broken filesystem");
        }
        ReadOnlyMechanism::Permissions => {
            use std::os::unix::fs::PermissionsExt;
            assert!(reason.starts_with("database files: the database file is not writable"), "{reason}");
            std::fs::set_permissions(data.join("mysetlist.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
            let back =
                wait_for(Duration::from_secs(10), || async { (ready().await.status() == 200).then_some(()) }).await;
            assert!(back.is_some(), "/readyz recovers once the file is writable again");
        }
    }
    server.stop();
}

/// A local webhook receiver that records every JSON body posted to /hook.
struct Receiver {
    addr: SocketAddr,
    bodies: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Keeps the notifications about `alert` only: on a machine whose disk is nearly full, the
    /// disk alert fires too, and that is not what these tests are about.
    async fn start(alert: &'static str) -> Receiver {
        let bodies: Arc<Mutex<Vec<Value>>> = Arc::default();
        let sink = bodies.clone();
        let ep = poem::endpoint::make(move |mut req: poem::Request| {
            let sink = sink.clone();
            async move {
                let v: Value = req.take_body().into_json().await.unwrap_or(Value::Null);
                if v["alert"] == alert {
                    sink.lock().push(v);
                }
                poem::http::StatusCode::NO_CONTENT
            }
        });
        let acceptor = poem::listener::TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
        let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
        let route = poem::Route::new().at("/hook", poem::post(ep));
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(route).await;
        });
        Receiver { addr, bodies, task }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    async fn wait_for_count(&self, n: usize) -> Vec<Value> {
        wait_for(Duration::from_secs(10), || async {
            let b = self.bodies.lock().clone();
            (b.len() >= n).then_some(b)
        })
        .await
        .unwrap_or_else(|| panic!("expected {n} notifications, got {:?}", self.bodies.lock()))
    }
}

/// The fired alerts other than the disk alert (which a nearly full test machine fires too).
fn without_disk(fired: &[impl AsRef<str>]) -> Vec<String> {
    fired.iter().map(|a| a.as_ref().to_owned()).filter(|a| a != "MySetlistDiskAlmostFull").collect()
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn replication_lag_alert_fires_once_and_resolves_once() {
    let hook = Receiver::start("MySetlistReplicationLagging").await;
    let app = spawn_app_with(&[("MYSETLIST_ALERTS__WEBHOOK_URL", &hook.url())]).await;
    let obs = app.state.obs.clone();
    // What the replication shipper reports when S3 does not take uploads (a stand-in for failover).
    let lag = std::sync::Arc::new(std::sync::Mutex::new(600.0));
    let read = lag.clone();
    obs.metrics.failover.read_from(std::sync::Arc::new(move || {
        Some(FailoverFacts { leader: true, replication_lag_seconds: *read.lock().unwrap(), ..Default::default() })
    }));
    let t0 = mysetlist::db::now();
    let first = obs.evaluate_alerts_at(t0).await;
    assert!(without_disk(&first.fired).is_empty(), "the lag must last 5 minutes first: {:?}", first.fired);
    let fired = obs.evaluate_alerts_at(t0 + 300).await;
    assert_eq!(without_disk(&fired.fired), ["MySetlistReplicationLagging"]);
    let bodies = hook.wait_for_count(1).await;
    assert_eq!(bodies[0]["status"], "firing");
    assert_eq!(bodies[0]["alert"], "MySetlistReplicationLagging");
    assert_eq!(bodies[0]["severity"], "critical");
    assert_eq!(bodies[0]["value"], 600.0);
    assert!(bodies[0]["summary"].as_str().unwrap().contains("10m"));

    // Still lagging: no repeat.
    let again = obs.evaluate_alerts_at(t0 + 330).await;
    assert_eq!(without_disk(&again.fired), Vec::<String>::new());
    let t = scrape(&app).await;
    assert_eq!(sample(&t, "mysetlist_alerts_firing{alert=\"MySetlistReplicationLagging\"}"), Some(1.0));

    *lag.lock().unwrap() = 0.0;
    obs.evaluate_alerts_at(t0 + 345).await;
    let bodies = hook.wait_for_count(2).await;
    assert_eq!(bodies[1]["status"], "resolved");
    assert_eq!(bodies[1]["alert"], "MySetlistReplicationLagging");
    assert!(bodies[1]["ends_at"].is_string());
    obs.evaluate_alerts_at(t0 + 360).await;
    assert_eq!(hook.bodies.lock().len(), 2, "exactly one firing and one resolved notification");
    assert!(!scrape(&app).await.contains("mysetlist_alerts_firing{alert=\"MySetlistReplicationLagging\"}"));
    app.stop().await;
}

#[tokio::test]
async fn writer_stalled_alert_follows_a_hung_write() {
    let hook = Receiver::start("MySetlistWriterStalled").await;
    let app = spawn_app_with(&[("MYSETLIST_ALERTS__WEBHOOK_URL", &hook.url())]).await;
    let obs = app.state.obs.clone();
    let db = app.database().clone();
    // A write that hangs inside the writer thread (as on a disk that stopped answering).
    let (release, hang) = std::sync::mpsc::channel::<()>();
    let blocked = tokio::spawn(async move {
        db.write(move |_conn| {
            let _ = hang.recv_timeout(Duration::from_secs(30));
            Ok::<_, mysetlist::db::DbError>(())
        })
        .await
    });
    let writer = app.database().clone();
    wait_for(Duration::from_secs(5), || async { writer.writer_stats().busy_since_unix_ms.map(|_| ()) })
        .await
        .expect("the writer picks up the hanging write");
    let now = mysetlist::db::now();
    assert!(without_disk(&obs.evaluate_alerts_at(now).await.fired).is_empty(), "busy for a moment is not stalled");
    let eval = obs.evaluate_alerts_at(now + 45).await;
    assert_eq!(without_disk(&eval.fired), ["MySetlistWriterStalled"]);
    let bodies = hook.wait_for_count(1).await;
    assert_eq!(
        (bodies[0]["status"].as_str(), bodies[0]["alert"].as_str()),
        (Some("firing"), Some("MySetlistWriterStalled"))
    );

    release.send(()).unwrap();
    blocked.await.unwrap().unwrap();
    wait_for(Duration::from_secs(5), || async { writer.writer_stats().busy_since_unix_ms.is_none().then_some(()) })
        .await
        .expect("the writer is idle again");
    obs.evaluate_alerts_at(now + 60).await;
    let bodies = hook.wait_for_count(2).await;
    assert_eq!(
        (bodies[1]["status"].as_str(), bodies[1]["alert"].as_str()),
        (Some("resolved"), Some("MySetlistWriterStalled"))
    );
    app.stop().await;
}

#[tokio::test]
async fn status_pages_are_for_admins_only() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(2), 3).await;
    let (fan, _) = app.signed_in("fan2@example.org", Role::User).await;
    let vote_url = app.url(&format!("/api/v1/shows/{}/songs/{}/vote", show.show_id, show.song_ids[1]));
    assert_eq!(fan.post(&vote_url).send().await.unwrap().status(), 200);
    app.database()
        .write(|c| {
            mysetlist::db::jobs::record(c, "backup-verify", 1_700_000_000, 1_700_000_030, Some("checksum mismatch"))
        })
        .await
        .unwrap();
    // Samples in the previous 5-minute slot and now: a line needs two neighbouring points.
    let now = mysetlist::db::now();
    app.state.obs.sample(now - 300);
    app.state.obs.sample(now);

    for path in ["/admin/status", "/admin/status/technical"] {
        assert_eq!(fan.get(app.url(path)).send().await.unwrap().status(), 403, "{path} for a user");
        let anon = app.client().get(app.url(path)).send().await.unwrap();
        assert_eq!(anon.status(), 303, "{path} signed out");
        assert!(anon.headers()["location"].to_str().unwrap().starts_with("/login?next=/admin/status"));
    }

    let (admin, _) = app.signed_in("boss@example.org", Role::Admin).await;
    let r = admin.get(app.url("/admin/status")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let executive = r.text().await.unwrap();
    let html = executive.clone();
    for text in [
        "Votes per hour, last 24 hours",
        "Votes in the last hour",
        "Upcoming shows",
        "Most wanted songs",
        "Song 1",
        "<svg",
    ] {
        assert!(html.contains(text), "executive view lacks `{text}`");
    }
    assert!(html.contains(&format!("/shows/{}", show.slug)));

    let r = admin.get(app.url("/admin/status/technical")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    for text in [
        "Requests per minute",
        "Latency percentiles",
        "Replication lag",
        "p50 / p95 / p99, last 5 min",
        "Disk available",
        "database files",
        "backup-verify",
        "checksum mismatch",
        "No alerts.",
        "<polyline",
    ] {
        assert!(html.contains(text), "technical view lacks `{text}`");
    }
    for page in [&executive, &html] {
        assert!(!page.contains("style="), "inline style would break the CSP");
        assert_eq!(page.matches("<script").count(), 1, "only the site's external script");
    }
    app.stop().await;
}
