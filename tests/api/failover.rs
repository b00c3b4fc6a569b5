//! Warm-standby failover between real nodes over a real S3 server (s3s-fs on loopback):
//! conditional writes are enforced, a standby follows and serves reads while refusing writes,
//! applies under concurrent readers never show a partial state, a killed primary is replaced
//! within the lease TTL without losing an acknowledged vote, a primary cut off from S3 fences
//! itself, and a planned promotion loses nothing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mysetlist::app::Application;
use mysetlist::db::CommitSeq;
use mysetlist::failover::{self, Failover, FailoverConfig, Lease, LeaseStore, Written};
use mysetlist::replicate::{self, AckMode, Applier, Replicator, RestoreTarget, Sidecar, Txid};
use parking_lot::Mutex;
use rusqlite::Connection;
use tokio::net::{TcpListener, TcpStream};

#[path = "../support/lost_votes.rs"]
mod lost_votes;

use crate::helpers::*;
use crate::replicate_support::{
    S3Server, assert_contiguous_l0, free_port, init_logging, litestream_0_5_17, litestream_restore,
};
use lost_votes::lost_votes;

/// The multi-node tests run one at a time (their own group): several at once on a 2-core machine
/// starve the lease renewals they time.
async fn multi_node_group() -> tokio::sync::MutexGuard<'static, ()> {
    static GROUP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    GROUP.lock().await
}

/// Short enough for quick tests, long enough for a loaded 2-core machine to renew in time.
const TTL: Duration = Duration::from_secs(3);
const TTL_SETTING: &str = "3s";

struct Node {
    app: TestApp,
    failover: Arc<Failover>,
    config_env: Vec<(String, String)>,
}

fn node_env(endpoint: &str, bucket: &str, node: &str, role: &str, ack: &str) -> Vec<(String, String)> {
    [
        ("MYSETLIST_ROLE", role),
        ("MYSETLIST_REPLICATION__URL", &format!("s3://{bucket}/db")),
        ("MYSETLIST_REPLICATION__ENDPOINT", endpoint),
        ("MYSETLIST_REPLICATION__FORCE_PATH_STYLE", "true"),
        ("MYSETLIST_REPLICATION__ACCESS_KEY_ID", "test"),
        ("MYSETLIST_REPLICATION__SECRET_ACCESS_KEY", "test"),
        ("MYSETLIST_REPLICATION__SYNC_INTERVAL", "100ms"),
        ("MYSETLIST_REPLICATION__ACK", ack),
        ("MYSETLIST_REPLICATION__REPLICATED_ACK_TIMEOUT", "3s"),
        ("MYSETLIST_FAILOVER__LEASE_TTL", TTL_SETTING),
        ("MYSETLIST_FAILOVER__NODE_ID", node),
        ("MYSETLIST_RATE_LIMIT__SIGNUPS_PER_HOUR", "100000"),
        ("MYSETLIST_RATE_LIMIT__VOTES_PER_MINUTE", "100000"),
        ("MYSETLIST_RATE_LIMIT__LOGINS_PER_MINUTE", "100000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Starts a node in this process (like `spawn_app_with`, keeping its failover handle).
async fn spawn_node(env: Vec<(String, String)>) -> Node {
    spawn_node_in(tempfile::tempdir().expect("temp dir"), env).await
}

/// Starts a node on a data directory prepared beforehand.
async fn spawn_node_in(dir: tempfile::TempDir, env: Vec<(String, String)>) -> Node {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let config = test_config(dir.path(), &refs);
    let app = Application::build(config, false).await.expect("node builds");
    let failover = app.failover().expect("replication is on, so failover is");
    let app = TestApp::serve(app, dir);
    Node { app, failover, config_env: env }
}

impl Node {
    fn failover_config(&self) -> FailoverConfig {
        let refs: Vec<(&str, &str)> = self.config_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let c = test_config(self.app.dir.path(), &refs);
        FailoverConfig::from_config(&c, mysetlist::app::replication::options(&c))
    }

    fn db(&self) -> std::path::PathBuf {
        self.app.dir.path().join("mysetlist.db")
    }
}

async fn status_of(c: &reqwest::Client, url: String) -> u16 {
    c.get(url).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

async fn readyz(base: &str) -> u16 {
    status_of(&reqwest::Client::new(), format!("{base}/readyz")).await
}

/// Signs up and, once sign-up is accepted (202), signs in: the sign-in's answer (200 with the
/// session cookie in `c`'s jar), else the sign-up's (a standby's 503).
async fn signup(c: &reqwest::Client, base: &str, email: &str) -> reqwest::Response {
    let r = c
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&serde_json::json!({"email": email, "password": "correct horse battery", "display_name": "fan"}))
        .send()
        .await
        .unwrap();
    if r.status() != 202 {
        return r;
    }
    c.post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap()
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(10)).build().unwrap()
}

async fn put_vote(c: &reqwest::Client, base: &str, show: i64, song: i64) -> Result<reqwest::Response, reqwest::Error> {
    c.put(format!("{base}/api/v1/shows/{show}/songs/{song}/vote")).send().await
}

async fn votes_on(base: &str, show: i64, song: i64) -> Option<i64> {
    let r = reqwest::get(format!("{base}/api/v1/shows/{show}/ranking")).await.ok()?;
    if r.status() != 200 {
        return None;
    }
    let ranking: serde_json::Value = r.json().await.ok()?;
    ranking.as_array()?.iter().find(|s| s["song_id"] == song).map(|s| s["votes"].as_i64().unwrap_or(0))
}

/// The number of votes in a node's database file, read the way an operator would.
fn vote_pairs(db: &std::path::Path) -> Vec<(String, i64)> {
    let c = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut st =
        c.prepare("SELECT u.email, v.song_id FROM votes v JOIN users u ON u.id = v.user_id ORDER BY 1, 2").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
}

// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_fs_enforces_the_lease_conditional_writes() {
    let s3 = S3Server::start();
    let bucket = s3.bucket("lease-cas");
    let store = LeaseStore::new(&s3.options(&bucket, "db"), TTL).unwrap();
    assert_eq!(store.key(), "db/lease.json");
    assert_eq!(store.read().await.unwrap(), None);
    let a = Lease {
        holder: "a".into(),
        instance: "1".into(),
        term: 1,
        seq: 0,
        ttl_ms: 2000,
        txid: Txid(0),
        released: false,
        handover_to: None,
        written_at: String::new(),
    };
    let Written::Stored(etag_a) = store.create(&a).await.unwrap() else { panic!("first create must win") };
    // If-None-Match: * on an existing object: 412.
    let b = Lease { holder: "b".into(), ..a.clone() };
    assert_eq!(store.create(&b).await.unwrap(), Written::Conflict);
    // If-Match with a version that is not the current one: 412.
    let renewed = Lease { seq: 1, ..a.clone() };
    let Written::Stored(etag_a1) = store.replace(&etag_a, &renewed).await.unwrap() else { panic!("If-Match") };
    assert_ne!(etag_a, etag_a1);
    assert_eq!(store.replace(&etag_a, &b).await.unwrap(), Written::Conflict, "stale ETag must lose");
    let now = store.read().await.unwrap().unwrap();
    assert_eq!((now.lease, now.etag), (renewed, etag_a1));
}

/// The standby's apply runs while readers hammer the same database: every read transaction must
/// see one whole TXID (a bank invariant plus a row count that the writer keeps in step), through
/// growth, updates and VACUUM (which shrinks the file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_ltx_under_concurrent_readers_never_shows_a_partial_state() {
    init_logging();
    let _group = multi_node_group().await;
    let s3 = S3Server::start();
    let bucket = s3.bucket("apply-readers");
    let dir = tempfile::tempdir().unwrap();
    let primary = dir.path().join("primary.db");
    let w = Connection::open(&primary).unwrap();
    w.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
         CREATE TABLE events(id INTEGER PRIMARY KEY, body BLOB NOT NULL);
         CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);
         INSERT INTO meta VALUES ('events', 0);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
         INSERT INTO accounts SELECT i, 100 FROM n;",
    )
    .unwrap();
    let (tx, commits) = tokio::sync::watch::channel(CommitSeq::default());
    let mut opts = s3.options(&bucket, "db");
    opts.sync_interval = Duration::from_millis(50);
    opts.ack = AckMode::Replicated;
    opts.checkpoint_frames = 200;
    let handle = Replicator::start(opts.clone(), &primary, commits).unwrap();
    let mut seq = CommitSeq(1);
    tx.send_replace(seq);
    handle.wait_durable(seq, Duration::from_secs(30)).await.unwrap();

    let standby = dir.path().join("standby.db");
    let report = replicate::restore(&opts, &standby, RestoreTarget::Latest, false, |_| {}).await.unwrap();
    let mut applied = report.txid.unwrap();
    let applier = Arc::new(Mutex::new(Applier::open(&standby).unwrap()));

    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let violations = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut readers = Vec::new();
    for r in 0..3 {
        let (standby, stop, reads, violations) = (standby.clone(), stop.clone(), reads.clone(), violations.clone());
        readers.push(std::thread::spawn(move || {
            // Configured like the app's readers (WAL, mmap on, query_only).
            let c = Connection::open(&standby).unwrap();
            c.execute_batch("PRAGMA mmap_size = 268435456; PRAGMA query_only = ON; PRAGMA busy_timeout = 5000;")
                .unwrap();
            while !stop.load(Ordering::Relaxed) {
                let check = (|| -> rusqlite::Result<Option<String>> {
                    c.execute_batch("BEGIN")?;
                    let (sum, n): (i64, i64) =
                        c.query_row("SELECT sum(balance), count(*) FROM accounts", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    let events: i64 = c.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
                    let said: i64 = c.query_row("SELECT v FROM meta WHERE k = 'events'", [], |r| r.get(0))?;
                    let quick = if r == 0 && reads.load(Ordering::Relaxed) % 50 == 0 {
                        c.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0))?
                    } else {
                        "ok".into()
                    };
                    c.execute_batch("COMMIT")?;
                    Ok((sum != 5000 || n != 50 || events != said || quick != "ok")
                        .then(|| format!("sum {sum} rows {n} events {events} meta {said} quick_check {quick}")))
                })();
                match check {
                    Ok(None) => {}
                    Ok(Some(v)) => violations.lock().push(v),
                    Err(e) => violations.lock().push(format!("read failed: {e}")),
                }
                let _ = c.execute_batch("ROLLBACK");
                reads.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    let store = replicate::BucketStore::new(&opts).unwrap();
    let mut next_id = 1i64;
    for round in 0..40 {
        // One commit: money moves (sum kept), events grow, meta counts them.
        let t = w.unchecked_transaction().unwrap();
        for k in 0..20 {
            let (from, to) = ((round * 7 + k) % 50 + 1, (round * 13 + k * 3) % 50 + 1);
            t.execute("UPDATE accounts SET balance = balance - 3 WHERE id = ?1", [from]).unwrap();
            t.execute("UPDATE accounts SET balance = balance + 3 WHERE id = ?1", [to]).unwrap();
        }
        for _ in 0..15 {
            let body: Vec<u8> = (0..900).map(|i| ((next_id * 31 + i) % 251) as u8).collect();
            t.execute("INSERT INTO events(id, body) VALUES (?1, ?2)", rusqlite::params![next_id, body]).unwrap();
            next_id += 1;
        }
        if round % 10 == 9 {
            t.execute("DELETE FROM events WHERE id % 3 != 0", []).unwrap();
        }
        t.execute("UPDATE meta SET v = (SELECT count(*) FROM events) WHERE k = 'events'", []).unwrap();
        t.commit().unwrap();
        if round % 10 == 9 {
            w.execute_batch("VACUUM").unwrap(); // rewrites and shrinks the file: pages beyond commit go
        }
        seq = seq.next();
        tx.send_replace(seq);
        handle.wait_durable(seq, Duration::from_secs(30)).await.unwrap();
        // Follow like the standby does: the next L0 files by name.
        loop {
            let key = store.ltx_key(0, applied.next().get(), applied.next().get());
            let Ok(data) = store.get(&key).await else { break };
            let a = applier.clone();
            let after = applied.get();
            let done = tokio::task::spawn_blocking(move || a.lock().apply(&key, &data, after)).await.unwrap().unwrap();
            applied = Txid(done.header.max_txid);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    handle.shutdown().await;
    let violations = violations.lock().clone();
    assert!(violations.is_empty(), "readers saw partial applies: {:?}", &violations[..violations.len().min(5)]);
    assert!(reads.load(Ordering::Relaxed) > 200, "readers ran concurrently with the applies");
    assert!(applied > Txid(40), "every commit was applied one LTX file at a time (TXID {applied})");
    // The copy equals the primary, page for page where it matters: same rows, integrity ok.
    let dump = |p: &std::path::Path| -> (i64, i64, Vec<(i64, i64)>) {
        let c = Connection::open(p).unwrap();
        let ev: i64 = c.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
        let ic: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ic, "ok", "{}", p.display());
        let sum: i64 = c.query_row("SELECT sum(balance) FROM accounts", [], |r| r.get(0)).unwrap();
        let mut st = c.prepare("SELECT id, balance FROM accounts ORDER BY id").unwrap();
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
        (ev, sum, rows)
    };
    drop(w);
    assert_eq!(dump(&standby), dump(&primary));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_follows_serves_reads_refuses_writes_and_only_the_leader_is_ready() {
    init_logging();
    let _group = multi_node_group().await;
    let s3 = S3Server::start();
    let bucket = s3.bucket("follow");
    let p = spawn_node(node_env(&s3.endpoint(), &bucket, "p", "primary", "replicated")).await;
    let seeded = p.app.seed_show(chrono::Duration::days(3), 4).await;
    let s = spawn_node(node_env(&s3.endpoint(), &bucket, "s", "standby", "replicated")).await;
    assert!(p.failover.accepting_writes());
    assert!(!s.failover.accepting_writes());

    let fan = browser();
    assert_eq!(signup(&fan, &p.app.base, "fan@example.org").await.status(), 200);
    let started = Instant::now();
    assert_eq!(put_vote(&fan, &p.app.base, seeded.show_id, seeded.song_ids[1]).await.unwrap().status(), 200);
    let seen = wait_for(Duration::from_secs(10), || async {
        (votes_on(&s.app.base, seeded.show_id, seeded.song_ids[1]).await == Some(1)).then_some(())
    })
    .await;
    assert!(seen.is_some(), "the vote never appeared on the standby");
    let lag = started.elapsed();
    assert!(lag < Duration::from_secs(3), "the standby applies within about a second (took {lag:?})");

    // Pages and reads are served from the copy, also for the signed-in fan (sessions replicate).
    for path in ["/", &format!("/shows/{}", seeded.slug), &format!("/api/v1/shows/{}", seeded.show_id)] {
        assert_eq!(status_of(&fan, s.app.url(path)).await, 200, "GET {path} on the standby");
    }
    // Writes: 503, Retry-After, and the role header; nothing changes.
    let r = put_vote(&fan, &s.app.base, seeded.show_id, seeded.song_ids[2]).await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(r.headers().get("x-mysetlist-role").unwrap(), "standby");
    assert_eq!(signup(&browser(), &s.app.base, "other@example.org").await.status(), 503);
    assert_eq!(votes_on(&s.app.base, seeded.show_id, seeded.song_ids[2]).await, Some(0));

    assert_eq!(readyz(&p.app.base).await, 200);
    assert_eq!(readyz(&s.app.base).await, 503);
    for base in [&p.app.base, &s.app.base] {
        assert_eq!(status_of(&fan, format!("{base}/livez")).await, 200);
    }
    // Role, followed TXID and uploads are on /metrics (read from failover's status at scrape time).
    let metric = |text: &str, series: &str| -> Option<f64> {
        text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.split_whitespace().next()?.parse().ok())
    };
    for (node, leader, role) in [(&p, 1.0, "primary"), (&s, 0.0, "standby")] {
        let text = wait_for(Duration::from_secs(5), || async {
            let text = fan.get(node.app.url("/metrics")).send().await.ok()?.text().await.ok()?;
            (metric(&text, "mysetlist_failover_txid").unwrap_or(0.0) >= 2.0).then_some(text)
        })
        .await
        .unwrap_or_else(|| panic!("{role}: /metrics never showed the TXID"));
        assert_eq!(metric(&text, "mysetlist_failover_is_leader"), Some(leader), "{role}");
        assert_eq!(metric(&text, &format!("mysetlist_role{{role=\"{role}\"}}")), Some(1.0), "{role}");
    }
    // The leader reports what it stored (TXID, first snapshot) and, caught up, no commit behind.
    let text = wait_for(Duration::from_secs(10), || async {
        let text = fan.get(p.app.url("/metrics")).send().await.ok()?.text().await.ok()?;
        (metric(&text, "mysetlist_replication_txid").unwrap_or(0.0) >= 2.0
            && metric(&text, "mysetlist_replication_commits_behind") == Some(0.0)
            && metric(&text, "mysetlist_replication_last_snapshot_timestamp_seconds").is_some())
        .then_some(text)
    })
    .await
    .unwrap_or_else(|| panic!("primary: /metrics never showed the stored TXID and snapshot"));
    assert!(metric(&text, "mysetlist_replication_uploads_total").unwrap_or(0.0) >= 1.0, "{text}");
    let snapshot_at = metric(&text, "mysetlist_replication_last_snapshot_timestamp_seconds").unwrap();
    assert!((snapshot_at - chrono::Utc::now().timestamp() as f64).abs() < 120.0, "{text}");
    // The standby ships nothing: no shipping gauges.
    let text = fan.get(s.app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains("mysetlist_replication_txid "), "{text}");
    assert!(!text.contains("mysetlist_replication_commits_behind "), "{text}");
    let st = s.failover.status();
    assert_eq!((st.role, st.leader.as_deref()), (failover::NodeRole::Standby, Some("p")));
    assert!(st.txid >= Txid(2) && st.applied_files >= 1, "{st:?}");
    assert!(Sidecar::read(&s.db(), &format!("s3://{bucket}/db")).is_some());
    // Commands that write the database directly refuse a standby's copy.
    let out = Command::new(env!("CARGO_BIN_EXE_mysetlist"))
        .arg("migrate")
        .envs(s.config_env.iter().cloned())
        .env("MYSETLIST_DATA_DIR", s.app.dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("run this on the node that leads"), "{stderr}");
    s.app.stop().await;
    p.app.stop().await;
}

/// A standby that starts while the new leader's first backup is all the bucket holds (the
/// leader's next sync round is far off) comes up: everything it needs from the leader, the
/// server secret included, is in that first backup, since a standby cannot write it itself. The
/// leader's database was made before its first start (as `mysetlist import` or `admin` do). The
/// race this guards against (a first backup taken before the leader wrote the secret) depends on
/// timing; the deterministic check that the schema carries the secret is in `db/migrate.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_started_from_a_new_leaders_first_backup_comes_up() {
    init_logging();
    let _group = multi_node_group().await;
    let s3 = S3Server::start();
    let bucket = s3.bucket("first-backup");
    let slow_rounds = |node: &str, role: &str| {
        let mut env = node_env(&s3.endpoint(), &bucket, node, role, "local");
        env.retain(|(k, _)| k != "MYSETLIST_REPLICATION__SYNC_INTERVAL");
        env.push(("MYSETLIST_REPLICATION__SYNC_INTERVAL".into(), "1h".into()));
        env
    };
    let prepared = tempfile::tempdir().unwrap();
    let made = mysetlist::db::Database::open(&mysetlist::db::DbOptions::new(prepared.path().join("mysetlist.db")));
    made.expect("the database is made before the server's first start").close().await;
    let p = spawn_node_in(prepared, slow_rounds("p", "primary")).await;
    let s = spawn_node(slow_rounds("s", "standby")).await;
    assert!(!s.failover.accepting_writes());
    for base in [&p.app.base, &s.app.base] {
        assert_eq!(status_of(&reqwest::Client::new(), format!("{base}/")).await, 200, "home page on {base}");
    }
    // Both nodes hash a device the same way: the standby serves with the leader's secret.
    assert_eq!(p.app.domain().device_key("device-1"), s.app.domain().device_key("device-1"));
    s.app.stop().await;
    p.app.stop().await;
}

/// A TCP proxy to S3 that can be cut: a partition between one node and the bucket.
struct Cable {
    port: u16,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Cable {
    async fn to(upstream: u16) -> Cable {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (c, l) = (cut.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is reset
                }
                l.lock().push(tokio::spawn(async move {
                    if let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                }));
            }
        });
        Cable { port, cut, links, accept }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().drain(..) {
            link.abort();
        }
    }

    fn plug(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Cable {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_cut_off_from_s3_fences_itself_and_the_standby_takes_over() {
    init_logging();
    let _group = multi_node_group().await;
    let s3 = S3Server::start();
    let bucket = s3.bucket("partition");
    let cable = Cable::to(s3.port).await;
    let p = spawn_node(node_env(&cable.endpoint(), &bucket, "p", "primary", "local")).await;
    let seeded = p.app.seed_show(chrono::Duration::days(3), 4).await;
    let s = spawn_node(node_env(&s3.endpoint(), &bucket, "s", "standby", "local")).await;
    let fan = browser();
    assert_eq!(signup(&fan, &p.app.base, "fan@example.org").await.status(), 200);
    assert_eq!(put_vote(&fan, &p.app.base, seeded.show_id, seeded.song_ids[0]).await.unwrap().status(), 200);
    let followed = wait_for(Duration::from_secs(10), || async {
        (votes_on(&s.app.base, seeded.show_id, seeded.song_ids[0]).await == Some(1)).then_some(())
    })
    .await;
    assert!(followed.is_some());

    cable.cut();
    let cut_at = std::time::SystemTime::now();
    // The old primary refuses writes once its lease can no longer be valid...
    wait_for(TTL + Duration::from_secs(5), || async {
        let r = put_vote(&fan, &p.app.base, seeded.show_id, seeded.song_ids[3]).await.ok()?;
        (r.status() == 503).then_some(())
    })
    .await
    .expect("the cut-off primary kept accepting writes");
    // ... strictly before the standby may take over. Judged on the deadlines the nodes report (one
    // machine, one wall clock), not on when a polling client happened to notice: on a loaded
    // 2-core machine the client's view lags by seconds.
    wait_for(TTL * 4, || async { (readyz(&s.app.base).await == 200).then_some(()) })
        .await
        .expect("the standby never took over");
    let deadline = p.failover.status().write_deadline.expect("the primary set a write deadline");
    let since = s.failover.status().leading_since.expect("the new leader says since when it leads");
    assert!(deadline < since, "the old primary accepted writes until {deadline:?}, the new leader from {since:?}");
    let fenced_after = deadline.duration_since(cut_at).unwrap_or_default();
    assert!(fenced_after <= TTL, "the old primary's deadline fell {fenced_after:?} after the cut, within the TTL");
    assert_eq!(put_vote(&fan, &s.app.base, seeded.show_id, seeded.song_ids[1]).await.unwrap().status(), 200);

    // Reconnected, the old primary sees the lease taken: it keeps refusing writes and follows.
    cable.plug();
    let follows = wait_for(Duration::from_secs(15), || async {
        (votes_on(&p.app.base, seeded.show_id, seeded.song_ids[1]).await == Some(1)).then_some(())
    })
    .await;
    assert!(follows.is_some(), "the old primary does not follow the new leader: {:?}", p.failover.status());
    let r = put_vote(&fan, &p.app.base, seeded.show_id, seeded.song_ids[2]).await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers().get("x-mysetlist-role").unwrap(), "standby");
    assert_eq!(readyz(&p.app.base).await, 503);
    let st = p.failover.status();
    assert!(st.step_downs >= 1 && st.leader.as_deref() == Some("s"), "{st:?}");
    // The refused vote never reached either node, and the history has no gap.
    assert_eq!(votes_on(&s.app.base, seeded.show_id, seeded.song_ids[3]).await, Some(0));
    s.app.stop().await;
    p.app.stop().await;
    assert_contiguous_l0(&s3, &bucket, "db");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planned_promotion_hands_over_without_losing_a_write() {
    init_logging();
    let _group = multi_node_group().await;
    let s3 = S3Server::start();
    let bucket = s3.bucket("promote");
    // Local acknowledgement: only the hand-over's flush protects these writes.
    let p = spawn_node(node_env(&s3.endpoint(), &bucket, "p", "primary", "local")).await;
    let seeded = p.app.seed_show(chrono::Duration::days(3), 5).await;
    let s = spawn_node(node_env(&s3.endpoint(), &bucket, "s", "standby", "local")).await;
    let mut fans = Vec::new();
    for i in 0..4 {
        let c = browser();
        assert_eq!(signup(&c, &p.app.base, &format!("fan{i}@example.org")).await.status(), 200);
        fans.push(c);
    }
    let mut acknowledged = 0;
    for (i, c) in fans.iter().enumerate() {
        for song in &seeded.song_ids[..(i + 2)] {
            assert_eq!(put_vote(c, &p.app.base, seeded.show_id, *song).await.unwrap().status(), 200);
            acknowledged += 1;
        }
    }
    let started = Instant::now();
    let outcome = failover::promote(&s.failover_config(), Duration::from_secs(20)).await.unwrap();
    let switch = started.elapsed();
    assert!(matches!(&outcome, failover::Promoted::TookOver { from, .. } if from == "p"), "{outcome:?}");
    let ready = wait_for(Duration::from_secs(10), || async { (readyz(&s.app.base).await == 200).then_some(()) }).await;
    assert!(ready.is_some(), "the promoted standby is not ready: {:?}", s.failover.status());
    eprintln!("planned switch-over took {switch:?}");
    // Nothing acknowledged by the old leader is missing on the new one.
    assert_eq!(vote_pairs(&s.db()).len(), acknowledged);
    assert_eq!(vote_pairs(&s.db()), vote_pairs(&p.db()));
    // The roles swapped. Song 4 had fan 3's vote; fan 0 adds one on the new leader.
    assert_eq!(put_vote(&fans[0], &s.app.base, seeded.show_id, seeded.song_ids[4]).await.unwrap().status(), 200);
    let r = put_vote(&fans[1], &p.app.base, seeded.show_id, seeded.song_ids[4]).await.unwrap();
    assert_eq!(r.status(), 503);
    let follows = wait_for(Duration::from_secs(10), || async {
        (votes_on(&p.app.base, seeded.show_id, seeded.song_ids[4]).await == Some(2)).then_some(())
    })
    .await;
    assert!(follows.is_some(), "the old leader does not follow: {:?}", p.failover.status());
    // Promoting the leader itself is a no-op.
    let again = failover::promote(&s.failover_config(), Duration::from_secs(5)).await.unwrap();
    assert!(matches!(again, failover::Promoted::AlreadyLeader { .. }), "{again:?}");
    p.app.stop().await;
    s.app.stop().await;
    assert_contiguous_l0(&s3, &bucket, "db");
}

/// A primary in its own process (the real binary), so that it can be killed with SIGKILL.
struct Process {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl Process {
    fn serve(s3: &S3Server, bucket: &str, node: &str, role: &str, ack: &str, flags: &[&str]) -> Process {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("mysetlist.toml");
        std::fs::write(
            &config,
            format!(
                r#"data_dir = "{data}"
listen = "127.0.0.1:{port}"
role = "{role}"
[log]
format = "json"
level = "info"
[rate_limit]
signups_per_hour = 100000
votes_per_minute = 100000
[replication]
url = "s3://{bucket}/db"
endpoint = "{endpoint}"
force_path_style = true
access_key_id = "test"
secret_access_key = "test"
sync_interval = "100ms"
ack = "{ack}"
replicated_ack_timeout = "3s"
[failover]
lease_ttl = "{TTL_SETTING}"
node_id = "{node}"
"#,
                data = dir.path().join("data").display(),
                endpoint = s3.endpoint(),
            ),
        )
        .unwrap();
        let child = Self::spawn(&dir, flags);
        Process { child, base: format!("http://127.0.0.1:{port}"), dir }
    }

    fn spawn(dir: &tempfile::TempDir, flags: &[&str]) -> Child {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.path().join("server.log")).unwrap();
        Command::new(env!("CARGO_BIN_EXE_mysetlist"))
            .arg("serve")
            .args(flags)
            .arg("--config")
            .arg(dir.path().join("mysetlist.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("run the mysetlist binary")
    }

    /// Starts the server again with the same configuration and data (after a kill).
    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Self::spawn(&self.dir, &[]);
    }

    fn log(&self) -> String {
        let f = std::fs::File::open(self.dir.path().join("server.log")).unwrap();
        BufReader::new(f).lines().map_while(Result::ok).collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_primary_is_replaced_within_the_ttl_and_no_acknowledged_vote_is_lost() {
    init_logging();
    let _group = multi_node_group().await;
    let s3 = S3Server::start();
    let bucket = s3.bucket("kill");
    let mut primary = Process::serve(&s3, &bucket, "p", "primary", "replicated", &["--demo"]);
    let up = wait_for(Duration::from_secs(60), || async { (readyz(&primary.base).await == 200).then_some(()) }).await;
    assert!(up.is_some(), "the primary did not start:\n{}", primary.log());
    let s = spawn_node(node_env(&s3.endpoint(), &bucket, "s", "standby", "replicated")).await;

    let shows: serde_json::Value =
        reqwest::get(format!("{}/api/v1/shows", primary.base)).await.unwrap().json().await.unwrap();
    let items = shows.get("items").unwrap_or(&shows).as_array().unwrap().clone();
    let show = items[0]["id"].as_i64().unwrap();
    let ranking: serde_json::Value =
        reqwest::get(format!("{}/api/v1/shows/{show}/ranking", primary.base)).await.unwrap().json().await.unwrap();
    let songs: Vec<i64> = ranking.as_array().unwrap().iter().map(|s| s["song_id"].as_i64().unwrap()).collect();
    assert!(songs.len() >= 8, "the demo show has songs: {songs:?}");

    // Voters under load until the power cut; each records the votes the primary acknowledged.
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, i64)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut voters = Vec::new();
    for v in 0..6 {
        let email = format!("voter{v}@example.org");
        let c = browser();
        assert_eq!(signup(&c, &primary.base, &email).await.status(), 200);
        let (base, songs, acknowledged, stop) =
            (primary.base.clone(), songs.clone(), acknowledged.clone(), stop.clone());
        voters.push(tokio::spawn(async move {
            for song in songs.iter().cycle().skip(v).take(songs.len()) {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(r) = put_vote(&c, &base, show, *song).await
                    && r.status() == 200
                {
                    acknowledged.lock().push((email.clone(), *song));
                }
            }
        }));
    }
    let loaded = wait_for(Duration::from_secs(30), || async { (acknowledged.lock().len() >= 12).then_some(()) }).await;
    assert!(loaded.is_some(), "the primary acknowledged too few votes:\n{}", primary.log());
    primary.child.kill().unwrap(); // SIGKILL: no final sync, no lease release
    primary.child.wait().unwrap();
    let killed_at = Instant::now();
    stop.store(true, Ordering::SeqCst);
    for v in voters {
        v.await.unwrap();
    }

    let rto = wait_for(TTL * 3 + Duration::from_secs(5), || async {
        (readyz(&s.app.base).await == 200).then_some(killed_at.elapsed())
    })
    .await
    .unwrap_or_else(|| panic!("the standby never took over: {:?}", s.failover.status()));
    eprintln!("RTO after kill -9: {rto:?} (lease TTL {TTL:?})");
    assert!(rto <= TTL * 2 + Duration::from_secs(3), "took over {rto:?} after the kill");

    let acknowledged = acknowledged.lock().clone();
    let present = vote_pairs(&s.db());
    let loss = lost_votes(&acknowledged, |vote| present.contains(vote));
    assert!(
        loss.lost.is_empty(),
        "{} of {} acknowledged votes lost: {:?}",
        loss.lost.len(),
        loss.acknowledged,
        loss.lost
    );
    eprintln!("acknowledged {} votes before the kill, lost 0", loss.acknowledged);

    // The new leader writes, and continues the TXID sequence without a gap.
    let fan = browser();
    assert_eq!(signup(&fan, &s.app.base, "after@example.org").await.status(), 200);
    assert_eq!(put_vote(&fan, &s.app.base, show, songs[0]).await.unwrap().status(), 200);
    let st = s.failover.status();
    assert_eq!((st.role, st.takeovers), (failover::NodeRole::Leader, 1), "{st:?}");
    let final_votes = vote_pairs(&s.db());
    s.app.stop().await;
    assert_contiguous_l0(&s3, &bucket, "db");
    // The lease object does not disturb the real Litestream.
    let out = tempfile::tempdir().unwrap();
    let (ok, text) =
        litestream_restore(&litestream_0_5_17(), &s3.litestream_url(&bucket, "db"), &out.path().join("ls.db"), &[]);
    assert!(ok, "{text}");
    assert_eq!(vote_pairs(&out.path().join("ls.db")), final_votes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_primary_restarts_as_a_follower_and_a_standby_restart_resumes_from_its_copy() {
    init_logging();
    let _group = multi_node_group().await;
    let s3 = S3Server::start();
    let bucket = s3.bucket("restart");
    let p = spawn_node(node_env(&s3.endpoint(), &bucket, "p", "primary", "replicated")).await;
    let seeded = p.app.seed_show(chrono::Duration::days(3), 3).await;
    let fan = browser();
    assert_eq!(signup(&fan, &p.app.base, "fan@example.org").await.status(), 200);
    assert_eq!(put_vote(&fan, &p.app.base, seeded.show_id, seeded.song_ids[0]).await.unwrap().status(), 200);
    let (p_env, p_dir) = (p.config_env.clone(), p.app.dir.path().to_path_buf());
    let s = spawn_node(node_env(&s3.endpoint(), &bucket, "s", "standby", "replicated")).await;
    // A clean stop of the leader releases the lease: the standby takes over at once.
    let stopped = Instant::now();
    let keep = p.app.dir;
    p.app.shutdown.notify_one();
    let _ = tokio::time::timeout(Duration::from_secs(20), p.app.task).await;
    let took = wait_for(TTL, || async { (readyz(&s.app.base).await == 200).then_some(stopped.elapsed()) }).await;
    assert!(took.is_some(), "no takeover after a clean stop within the TTL: {:?}", s.failover.status());
    assert_eq!(put_vote(&fan, &s.app.base, seeded.show_id, seeded.song_ids[1]).await.unwrap().status(), 200);

    // The old primary comes back with role = primary: the lease is taken, so it follows, from its
    // own copy (its clean stop left it exactly at the released TXID).
    let refs: Vec<(&str, &str)> = p_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = Application::build(test_config(&p_dir, &refs), false).await.unwrap();
    let pf = app.failover().unwrap();
    let p2 = TestApp::serve(app, tempfile::tempdir().unwrap());
    assert!(!pf.accepting_writes());
    let follows = wait_for(Duration::from_secs(10), || async {
        (votes_on(&p2.base, seeded.show_id, seeded.song_ids[1]).await == Some(1)).then_some(())
    })
    .await;
    assert!(follows.is_some(), "{:?}", pf.status());
    assert!(!failover::diverged_path(&p_dir.join("mysetlist.db")).exists(), "followed from its copy, no restore");
    assert_eq!(put_vote(&fan, &p2.base, seeded.show_id, seeded.song_ids[2]).await.unwrap().status(), 503);

    // Restart that follower: it resumes from the sidecar TXID and keeps following.
    p2.stop().await;
    let at = Sidecar::read(&p_dir.join("mysetlist.db"), &format!("s3://{bucket}/db"))
        .expect("a stopped follower has a sidecar");
    let app = Application::build(test_config(&p_dir, &refs), false).await.unwrap();
    let pf = app.failover().unwrap();
    assert!(pf.status().txid >= at, "resumed from its copy's TXID");
    let p3 = TestApp::serve(app, tempfile::tempdir().unwrap());
    assert_eq!(put_vote(&fan, &s.app.base, seeded.show_id, seeded.song_ids[2]).await.unwrap().status(), 200);
    let follows = wait_for(Duration::from_secs(10), || async {
        (votes_on(&p3.base, seeded.show_id, seeded.song_ids[2]).await == Some(1)).then_some(())
    })
    .await;
    assert!(follows.is_some(), "{:?}", pf.status());
    p3.stop().await;
    s.app.stop().await;
    drop(keep);
    assert_contiguous_l0(&s3, &bucket, "db");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_primary_killed_and_restarted_reclaims_its_lease_and_resumes() {
    init_logging();
    let _group = multi_node_group().await;
    let s3 = S3Server::start();
    let bucket = s3.bucket("lone");
    let mut primary = Process::serve(&s3, &bucket, "p", "primary", "replicated", &["--demo"]);
    let up = wait_for(Duration::from_secs(60), || async { (readyz(&primary.base).await == 200).then_some(()) }).await;
    assert!(up.is_some(), "the primary did not start:\n{}", primary.log());
    let fan = browser();
    assert_eq!(signup(&fan, &primary.base, "fan@example.org").await.status(), 200);
    primary.child.kill().unwrap(); // no release: the lease still names "p"
    primary.child.wait().unwrap();
    let restarted = Instant::now();
    primary.restart();
    // The lease names this node and nobody renews it: it reclaims after watching for half a TTL.
    let back = wait_for(TTL * 4, || async { (readyz(&primary.base).await == 200).then_some(restarted.elapsed()) })
        .await
        .unwrap_or_else(|| panic!("the restarted primary never led again:\n{}", primary.log()));
    eprintln!("a lone primary led again {back:?} after its restart (TTL {TTL:?})");
    assert!(primary.log().contains("checking that no running process still renews it"));
    // It writes again, with its own database (no restore).
    assert_eq!(signup(&fan, &primary.base, "second@example.org").await.status(), 200);
    primary.child.kill().unwrap();
    primary.child.wait().unwrap();
    assert_contiguous_l0(&s3, &bucket, "db");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_with_the_same_node_id_refuses_to_start() {
    let s3 = S3Server::start();
    let bucket = s3.bucket("dup");
    let p = spawn_node(node_env(&s3.endpoint(), &bucket, "p", "primary", "local")).await;
    let dir = tempfile::tempdir().unwrap();
    let env = node_env(&s3.endpoint(), &bucket, "p", "primary", "local");
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let err = match Application::build(test_config(dir.path(), &refs), false).await {
        Ok(_) => panic!("a second node with node_id p started"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("give every node its own node_id"), "{err}");
    assert!(p.failover.accepting_writes(), "the running node keeps leading");
    p.app.stop().await;
}

// ------------------------------------------------------------------------------------------------
// Readers and writers on every node through every transition.

/// What a reader or writer on the nodes saw that the failover contract forbids.
#[derive(Default)]
struct Observed {
    violations: Vec<String>,
    /// Successful reads per node (to show the reader really ran on each).
    reads: std::collections::HashMap<String, u64>,
    /// Refused writes per node, all checked.
    refusals: std::collections::HashMap<String, u64>,
    /// Responses of a following node that carried `x-mysetlist-txid` and `x-mysetlist-lag-ms`.
    stale_headers: u64,
}

/// A reader on every node (the votes on `song`, the node's `x-mysetlist-txid`, and a signed-in
/// fan's `/api/v1/me`: nothing may go back, no valid session may be refused) and a writer on
/// every node (each refused vote must be 503 + `Retry-After` + `x-mysetlist-role`), until
/// `stop`. The writer votes on `writer_song`, which the reader does not check: a refused write
/// may have committed on a leader that then lost it (never acknowledged).
fn watch_nodes(
    bases: Vec<String>,
    fan: reqwest::Client,
    voter: reqwest::Client,
    (show, song, writer_song): (i64, i64, i64),
    stop: Arc<AtomicBool>,
) -> (Arc<Mutex<Observed>>, Vec<tokio::task::JoinHandle<()>>) {
    let seen = Arc::new(Mutex::new(Observed::default()));
    let mut tasks = Vec::new();
    {
        let (bases, seen, stop) = (bases.clone(), seen.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut newest: std::collections::HashMap<String, (i64, u64)> = Default::default();
            while !stop.load(Ordering::SeqCst) {
                for base in &bases {
                    let Ok(r) = fan.get(format!("{base}/api/v1/shows/{show}/ranking")).send().await else { continue };
                    let status = r.status().as_u16();
                    let txid = r
                        .headers()
                        .get("x-mysetlist-txid")
                        .and_then(|v| u64::from_str_radix(v.to_str().ok()?, 16).ok());
                    let lag = r.headers().get("x-mysetlist-lag-ms").is_some();
                    let votes = match r.json::<serde_json::Value>().await {
                        Ok(v) if status == 200 => v
                            .as_array()
                            .and_then(|a| a.iter().find(|s| s["song_id"] == song))
                            .and_then(|s| s["votes"].as_i64()),
                        _ => None,
                    };
                    let me = fan.get(format!("{base}/api/v1/me")).send().await.map(|r| r.status().as_u16());
                    let mut o = seen.lock();
                    let Some(votes) = votes else {
                        o.violations.push(format!("{base}: the ranking answered {status}"));
                        continue;
                    };
                    let (v0, t0) = newest.entry(base.clone()).or_default();
                    if votes < *v0 {
                        o.violations.push(format!("{base}: read {votes} votes after {v0}"));
                    }
                    if let Some(t) = txid {
                        if t < *t0 {
                            o.violations.push(format!("{base}: served TXID {t:x} after {t0:x}"));
                        }
                        *t0 = (*t0).max(t);
                        if lag {
                            o.stale_headers += 1;
                        }
                    }
                    *v0 = (*v0).max(votes);
                    match me {
                        Ok(200) | Err(_) => {}
                        Ok(s) => o.violations.push(format!("{base}: a valid session answered {s}")),
                    }
                    *o.reads.entry(base.clone()).or_default() += 1;
                }
            }
        }));
    }
    {
        let (seen, stop) = (seen.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                for base in &bases {
                    let Ok(r) = put_vote(&voter, base, show, writer_song).await else { continue };
                    let status = r.status().as_u16();
                    if status == 200 {
                        continue;
                    }
                    let role = r.headers().get("x-mysetlist-role").is_some();
                    let retry = r.headers().get("retry-after").is_some();
                    let mut o = seen.lock();
                    *o.refusals.entry(base.clone()).or_default() += 1;
                    if status != 503 || !role || !retry {
                        o.violations.push(format!(
                            "{base}: a refused write answered {status} (retry-after: {retry}, role: {role})"
                        ));
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    (seen, tasks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_cut_off_heal_and_promotion_no_node_reads_back_in_time_or_refuses_a_session() {
    init_logging();
    let _group = multi_node_group().await;
    let s3 = S3Server::start();
    let bucket = s3.bucket("monotonic");
    let cable = Cable::to(s3.port).await;
    let p = spawn_node(node_env(&cable.endpoint(), &bucket, "p", "primary", "replicated")).await;
    let seeded = p.app.seed_show(chrono::Duration::days(3), 4).await;
    let s = spawn_node(node_env(&s3.endpoint(), &bucket, "s", "standby", "replicated")).await;
    let (show, song) = (seeded.show_id, seeded.song_ids[0]);
    // Many TXIDs after the first snapshot: a re-sync has a long history to replay.
    let fan = browser();
    assert_eq!(signup(&fan, &p.app.base, "fan@example.org").await.status(), 200);
    assert_eq!(put_vote(&fan, &p.app.base, show, song).await.unwrap().status(), 200);
    for i in 0..10 {
        let c = browser();
        assert_eq!(signup(&c, &p.app.base, &format!("early{i}@example.org")).await.status(), 200);
        assert_eq!(put_vote(&c, &p.app.base, show, song).await.unwrap().status(), 200);
    }
    let voter = browser();
    assert_eq!(signup(&voter, &p.app.base, "writer@example.org").await.status(), 200);
    let followed = wait_for(Duration::from_secs(20), || async {
        (votes_on(&s.app.base, show, song).await == Some(11)).then_some(())
    })
    .await;
    assert!(followed.is_some(), "the standby does not follow: {:?}", s.failover.status());

    let stop = Arc::new(AtomicBool::new(false));
    let bases = vec![p.app.base.clone(), s.app.base.clone()];
    let (seen, tasks) = watch_nodes(bases, fan.clone(), voter, (show, song, seeded.song_ids[3]), stop.clone());

    // S3 outage of the leader: it fences itself, the standby takes over and takes votes.
    cable.cut();
    let took_over = wait_for(TTL * 5, || async { s.failover.accepting_writes().then_some(()) }).await;
    assert!(took_over.is_some(), "the standby never took over: {:?}", s.failover.status());
    for i in 0..3 {
        let c = browser();
        assert_eq!(signup(&c, &s.app.base, &format!("late{i}@example.org")).await.status(), 200);
        assert_eq!(put_vote(&c, &s.app.base, show, song).await.unwrap().status(), 200);
    }
    // Healed: the old leader rebuilds its copy and follows, serving reads all along.
    cable.plug();
    let rejoined = wait_for(Duration::from_secs(30), || async {
        let st = p.failover.status();
        (st.state == mysetlist::failover::FailoverState::Following
            && votes_on(&p.app.base, show, song).await == Some(14))
        .then_some(())
    })
    .await;
    assert!(rejoined.is_some(), "the old leader does not follow: {:?}", p.failover.status());
    // Planned switch back: the leader hands over (stepping down) and the old one leads again.
    let outcome = failover::promote(&p.failover_config(), Duration::from_secs(20)).await.unwrap();
    assert!(matches!(&outcome, failover::Promoted::TookOver { from, .. } if from == "s"), "{outcome:?}");
    let back = wait_for(Duration::from_secs(10), || async {
        (p.failover.accepting_writes() && s.failover.status().state == mysetlist::failover::FailoverState::Following)
            .then_some(())
    })
    .await;
    assert!(back.is_some(), "p: {:?}, s: {:?}", p.failover.status(), s.failover.status());
    let c = browser();
    assert_eq!(signup(&c, &p.app.base, "last@example.org").await.status(), 200);
    assert_eq!(put_vote(&c, &p.app.base, show, song).await.unwrap().status(), 200);
    let caught_up = wait_for(Duration::from_secs(10), || async {
        (votes_on(&s.app.base, show, song).await == Some(15)).then_some(())
    })
    .await;
    assert!(caught_up.is_some(), "s does not follow p again: {:?}", s.failover.status());

    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let bases = [p.app.base.clone(), s.app.base.clone()];
    s.app.stop().await;
    p.app.stop().await;
    let seen = seen.lock();
    assert!(
        seen.violations.is_empty(),
        "{} violations: {:?}",
        seen.violations.len(),
        &seen.violations[..seen.violations.len().min(8)]
    );
    for base in &bases {
        assert!(seen.reads.get(base).copied().unwrap_or(0) >= 10, "too few reads on {base}: {:?}", seen.reads);
        assert!(seen.refusals.get(base).copied().unwrap_or(0) >= 1, "no refused write on {base}: {:?}", seen.refusals);
    }
    assert!(seen.stale_headers >= 1, "a follower's responses say its TXID and lag");
    drop(seen);
    assert_contiguous_l0(&s3, &bucket, "db");
}
