//! Shared helpers for the replication tests: a real S3 server (s3s-fs) on a free loopback
//! port, the real Litestream binaries, and a small WAL-mode writer shaped like the app's.
//!
//! Tool paths come from environment variables (so CI's install script can put them
//! anywhere), defaulting to where scripts/install-test-deps.sh installs them:
//! `MYSETLIST_S3S_FS`, `MYSETLIST_LITESTREAM_0_5_17`, `MYSETLIST_LITESTREAM_0_5_15`,
//! `MYSETLIST_LITESTREAM_0_3_13` (and `MYSETLIST_TOOLS_DIR` for the common directory).
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mysetlist::db::CommitSeq;
use mysetlist::replicate::ReplicatorOptions;
use rusqlite::Connection;

pub const ACCESS_KEY: &str = "test";

/// Sends the library's log lines to the test output when `MYSETLIST_TEST_LOG` is set
/// (e.g. `MYSETLIST_TEST_LOG=mysetlist=debug`).
pub fn init_logging() {
    if let Ok(filter) = std::env::var("MYSETLIST_TEST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
}
pub const SECRET_KEY: &str = "test";

fn tools_dir() -> PathBuf {
    std::env::var_os("MYSETLIST_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/mysetlist-tools"))
}

/// A tool binary from `env`, else `default` below the tools directory; panics with a hint.
pub fn tool(env: &str, default: &str) -> PathBuf {
    let p = std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| tools_dir().join(default));
    assert!(p.is_file(), "{} not found (set {env} or run scripts/install-test-deps.sh)", p.display());
    p
}

pub fn litestream_0_5_17() -> PathBuf {
    tool("MYSETLIST_LITESTREAM_0_5_17", "ls-0.5.17/bin/litestream")
}
pub fn litestream_0_5_15() -> PathBuf {
    tool("MYSETLIST_LITESTREAM_0_5_15", "ls-0.5.15/bin/litestream")
}
pub fn litestream_0_3_13() -> PathBuf {
    tool("MYSETLIST_LITESTREAM_0_3_13", "ls-0.3.13/bin/litestream")
}

fn s3s_fs() -> PathBuf {
    if let Some(p) = std::env::var_os("MYSETLIST_S3S_FS") {
        return PathBuf::from(p);
    }
    let cargo_bin = PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cargo/bin/s3s-fs");
    if cargo_bin.is_file() { cargo_bin } else { PathBuf::from("s3s-fs") }
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().unwrap().port()
}

/// An s3s-fs process storing objects as files under a temp directory.
pub struct S3Server {
    pub port: u16,
    pub root: tempfile::TempDir,
    child: Option<Child>,
}

impl S3Server {
    pub fn start() -> S3Server {
        let mut s = S3Server { port: free_port(), root: tempfile::tempdir().unwrap(), child: None };
        s.resume();
        s
    }

    /// Starts (again) on the same port and directory.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(s3s_fs())
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(self.root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn s3s-fs (install it with scripts/install-test-deps.sh)");
        self.child = Some(child);
        let port = self.port;
        assert!(
            wait_until(Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", port)).is_ok()),
            "s3s-fs did not listen on port {port}"
        );
    }

    /// Kills the server: requests fail until [`S3Server::resume`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (s3s-fs keeps a bucket as a directory).
    pub fn bucket(&self, name: &str) -> String {
        std::fs::create_dir_all(self.root.path().join(name)).unwrap();
        name.to_string()
    }

    /// The file holding an object.
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.path().join(bucket).join(key)
    }

    /// Keys below `prefix` in `bucket`, sorted.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            let Ok(rd) = std::fs::read_dir(dir) else {
                return;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, base, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        let base = self.root.path().join(bucket);
        let mut out = Vec::new();
        walk(&base.join(prefix), &base, &mut out);
        out.retain(|k| !k.contains(".s3s") && !k.ends_with(".json") || k.ends_with(".ltx"));
        out.sort();
        out
    }

    pub fn options(&self, bucket: &str, prefix: &str) -> ReplicatorOptions {
        let mut o = ReplicatorOptions::new(format!("s3://{bucket}/{prefix}"));
        o.endpoint = Some(self.endpoint());
        o.region = "us-east-1".into();
        o.force_path_style = true;
        o.access_key_id = Some(ACCESS_KEY.into());
        o.secret_access_key = Some(SECRET_KEY.into());
        o
    }

    /// The replica URL as the Litestream CLI takes it.
    pub fn litestream_url(&self, bucket: &str, prefix: &str) -> String {
        format!("s3://{bucket}/{prefix}?endpoint={}&region=us-east-1&forcePathStyle=true", self.endpoint())
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `Command` for a Litestream binary with the test credentials and no CA bundle
/// (Litestream 0.5 refuses to start when AWS_CA_BUNDLE is set).
pub fn litestream_cmd(bin: &Path) -> Command {
    let mut c = Command::new(bin);
    c.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env_remove("AWS_CA_BUNDLE")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL");
    c
}

/// Runs `litestream restore -o out URL` and returns (success, combined output).
pub fn litestream_restore(bin: &Path, url: &str, out: &Path, extra: &[&str]) -> (bool, String) {
    let o =
        litestream_cmd(bin).arg("restore").args(extra).arg("-o").arg(out).arg(url).output().expect("run litestream");
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o.status.success(), text)
}

/// Sends SIGTERM (a graceful stop: Litestream syncs once more before it exits) and waits.
pub fn terminate(child: &mut Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let pid = child.id();
    let exited = wait_until(Duration::from_secs(30), || matches!(child.try_wait(), Ok(Some(_))));
    if !exited {
        let _ = child.kill();
        panic!("process {pid} ignored SIGTERM for 30s");
    }
}

/// Opens a database the way the app's writer does: WAL, no automatic checkpoints.
pub fn open_writer(path: &Path) -> Connection {
    let c = Connection::open(path).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    c.pragma_update(None, "busy_timeout", 5000).unwrap();
    c.pragma_update(None, "synchronous", "NORMAL").unwrap();
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS votes(id INTEGER PRIMARY KEY, song TEXT NOT NULL, payload BLOB);
         CREATE INDEX IF NOT EXISTS votes_song ON votes(song);",
    )
    .unwrap();
    c
}

/// Inserts `n` rows in one transaction; payloads are large enough to spill onto new pages.
pub fn write_rows(c: &Connection, start: i64, n: i64) {
    let tx = c.unchecked_transaction().unwrap();
    {
        let mut st = tx.prepare("INSERT INTO votes(id, song, payload) VALUES (?1, ?2, ?3)").unwrap();
        for id in start..start + n {
            let payload: Vec<u8> = (0..300).map(|i| ((id * 31 + i) % 251) as u8).collect();
            st.execute(rusqlite::params![id, format!("song-{}", id % 17), payload]).unwrap();
        }
    }
    tx.commit().unwrap();
}

/// Every row, in id order, for comparing two databases.
pub fn rows(path: &Path) -> Vec<(i64, String, Vec<u8>)> {
    let c = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut st = c.prepare("SELECT id, song, payload FROM votes ORDER BY id").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().collect::<Result<_, _>>().unwrap()
}

pub fn integrity_ok(path: &Path) -> bool {
    let c = Connection::open(path).unwrap();
    let r: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    r == "ok"
}

/// The app's side of the contract: one writer connection and a commit sequence.
pub struct App {
    pub conn: Connection,
    pub tx: tokio::sync::watch::Sender<CommitSeq>,
    pub seq: CommitSeq,
    next_id: i64,
}

impl App {
    pub fn open(path: &Path) -> App {
        let conn = open_writer(path);
        let next_id: i64 = conn.query_row("SELECT coalesce(max(id), 0) + 1 FROM votes", [], |r| r.get(0)).unwrap();
        let (tx, _) = tokio::sync::watch::channel(CommitSeq::default());
        App { conn, tx, seq: CommitSeq::default(), next_id }
    }

    pub fn commits(&self) -> tokio::sync::watch::Receiver<CommitSeq> {
        self.tx.subscribe()
    }

    /// Commits `n` new rows (plus an update, so old pages change too) and publishes the
    /// new commit sequence. Returns it.
    pub fn commit(&mut self, n: i64) -> CommitSeq {
        write_rows(&self.conn, self.next_id, n);
        self.conn.execute("UPDATE votes SET song = song || '+' WHERE id % 7 = ?1", [self.next_id % 7]).unwrap();
        self.next_id += n;
        self.seq = self.seq.next();
        self.tx.send_replace(self.seq);
        self.seq
    }
}

impl App {
    /// Commits `n` new rows only (cheap, for benchmarks) and publishes the sequence.
    pub fn insert(&mut self, n: i64) -> CommitSeq {
        write_rows(&self.conn, self.next_id, n);
        self.next_id += n;
        self.seq = self.seq.next();
        self.tx.send_replace(self.seq);
        self.seq
    }
}

/// TXID ranges of the LTX objects of `level` (as (min, max)), sorted.
pub fn ltx_ranges(s3: &S3Server, bucket: &str, prefix: &str, level: u32) -> Vec<(u64, u64)> {
    let mut v: Vec<(u64, u64)> = s3
        .keys(bucket, &format!("{prefix}/{level:04x}"))
        .iter()
        .filter_map(|k| mysetlist::replicate::ltx::parse_file_name(k.rsplit('/').next()?))
        .collect();
    v.sort();
    v
}

/// Asserts L0 holds exactly the TXIDs `1..=n` (one file each) and returns `n`.
pub fn assert_contiguous_l0(s3: &S3Server, bucket: &str, prefix: &str) -> u64 {
    let l0 = ltx_ranges(s3, bucket, prefix, 0);
    let n = l0.len() as u64;
    let expected: Vec<(u64, u64)> = (1..=n).map(|t| (t, t)).collect();
    assert_eq!(l0, expected, "L0 TXIDs must be 1..={n} without gaps or duplicates");
    n
}

/// Parses the LTX header of a stored object.
pub fn ltx_header(
    s3: &S3Server,
    bucket: &str,
    prefix: &str,
    level: u32,
    min: u64,
    max: u64,
) -> mysetlist::replicate::ltx::Header {
    let key = format!("{prefix}/{level:04x}/{}", mysetlist::replicate::ltx::file_name(min, max));
    let b = std::fs::read(s3.object_path(bucket, &key)).unwrap();
    mysetlist::replicate::ltx::Header::parse(&b).unwrap()
}

/// Asserts two databases hold the same rows, reporting counts and the first difference
/// instead of dumping every row.
#[track_caller]
pub fn assert_same_rows(actual: &Path, expected: &Path) {
    let (a, e) = (rows(actual), rows(expected));
    if a != e {
        let first = a.iter().zip(&e).position(|(x, y)| x != y);
        let show = |r: Option<&(i64, String, Vec<u8>)>| r.map(|(id, song, _)| format!("id {id} song {song}"));
        panic!(
            "{} has {} rows, {} has {}; first difference at index {:?}: {:?} vs {:?}",
            actual.display(),
            a.len(),
            expected.display(),
            e.len(),
            first,
            show(first.and_then(|i| a.get(i))),
            show(first.and_then(|i| e.get(i))),
        );
    }
}

/// A TCP proxy to a server on loopback that holds back each request for `delay` before passing
/// it on (a bucket far away, or a slow one): the first bytes the client sends after the server
/// answered wait. The delay can be changed while it runs.
pub struct SlowProxy {
    pub port: u16,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    refusing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SlowProxy {
    pub fn to(upstream: u16) -> SlowProxy {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let delay_ms = Arc::new(AtomicU64::new(0));
        let refusing = Arc::new(AtomicBool::new(false));
        let (delay, refuse) = (delay_ms.clone(), refusing.clone());
        // Threads end when their connections close; the accept loop lives as long as the test
        // process (each test makes its own proxy on a fresh port).
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                // Set when the server has answered since the client last sent: the client's next
                // bytes start a new request.
                let answered = Arc::new(AtomicBool::new(true));
                let (delay, refuse, answered2) = (delay.clone(), refuse.clone(), answered.clone());
                std::thread::spawn(move || {
                    pipe(client, server, |_| {
                        if answered.swap(false, Ordering::Relaxed) {
                            std::thread::sleep(Duration::from_millis(delay.load(Ordering::Relaxed)));
                        }
                        !refuse.load(Ordering::Relaxed)
                    })
                });
                std::thread::spawn(move || {
                    pipe(s2, c2, |_| {
                        answered2.store(true, Ordering::Relaxed);
                        true
                    })
                });
            }
        });
        return SlowProxy { port, delay_ms, refusing };

        /// Copies `from` to `to`, asking `before` ahead of each chunk; `false` drops the connection.
        fn pipe(mut from: TcpStream, mut to: TcpStream, before: impl Fn(usize) -> bool) {
            use std::io::{Read, Write};
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if !before(n) {
                    let _ = from.shutdown(std::net::Shutdown::Both);
                    break;
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(std::net::Shutdown::Write);
        }
    }

    /// While set, every request is dropped (the connection closed) instead of passed on,
    /// including one that is waiting out its delay.
    pub fn set_refusing(&self, refusing: bool) {
        self.refusing.store(refusing, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
