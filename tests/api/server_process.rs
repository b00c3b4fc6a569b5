//! The real `mysetlist` binary as a child process, for what only a process shows: its log output on
//! stderr, and a data directory whose mount can be flipped read-only in the child's own mount
//! namespace. The child logs JSON; its "serving" line tells the address it bound (port 0).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The binary under test: $MYSETLIST_BIN (a copy the test script made) or the one cargo built.
pub fn binary() -> PathBuf {
    std::env::var_os("MYSETLIST_BIN").map(PathBuf::from).unwrap_or_else(|| env!("CARGO_BIN_EXE_mysetlist").into())
}

/// True when this process runs as root (permissions do not stop root, mounts need it).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:")).map(|v| v.split_whitespace().next() == Some("0")))
        .unwrap_or(false)
}

/// Base environment: JSON logs, port 0, the given data directory; nothing inherited from MYSETLIST_*.
pub fn command(program: impl AsRef<std::ffi::OsStr>, data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("MYSETLIST_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("MYSETLIST_DATA_DIR", data_dir)
        .env("MYSETLIST_LISTEN", "127.0.0.1:0")
        .env("MYSETLIST_LOG__FORMAT", "json")
        .env("MYSETLIST_LOG__LEVEL", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ServerProcess {
    /// Starts `cmd` (which must end up exec'ing `mysetlist serve`) and waits for its "serving" line.
    pub fn start(mut cmd: Command) -> ServerProcess {
        let mut child = cmd.spawn().expect("start the server process");
        let stderr = child.stderr.take().expect("stderr is piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            let found = lines.lock().iter().find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                (v["message"] == "serving").then(|| v["address"].as_str()?.parse::<SocketAddr>().ok()).flatten()
            });
            if let Some(a) = found {
                break a;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("server exited with {status} before serving:\n{}", lines.lock().join("\n"));
            }
            assert!(Instant::now() < deadline, "server did not log `serving` in time:\n{}", lines.lock().join("\n"));
            std::thread::sleep(Duration::from_millis(20));
        };
        ServerProcess { child, addr, lines, reader: Some(reader) }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().clone()
    }

    /// SIGTERM, wait (bounded) for a clean exit, and return every stderr line.
    pub fn stop(mut self) -> Vec<String> {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.lines()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
