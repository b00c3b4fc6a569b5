//! Start-up time: spawns `mysetlist serve` on an existing data directory and polls /readyz (every
//! 1 ms, fresh connection each time) until it answers 200; repeats and reports the median and the
//! fastest run, then the idle resident memory of the last run once it has served nothing for 1 s.
//! The page cache stays warm between runs (a restart, not a cold boot).
//!
//! cargo run --release --example bench_startup -- --bin target/release/mysetlist --data-dir DIR

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;

#[path = "http1.rs"]
mod http1;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    bin: PathBuf,
    /// Data directory holding mysetlist.db
    #[arg(long)]
    data_dir: PathBuf,
    #[arg(long, default_value_t = 18_431)]
    port: u16,
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

struct Server(Child);
impl Drop for Server {
    /// SIGTERM (a clean stop, like systemd's), then wait for the exit.
    fn drop(&mut self) {
        let stopped = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        if !stopped.is_ok_and(|s| s.success()) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn ready(addr: &str) -> bool {
    let Ok(mut conn) = http1::Conn::connect(addr).await else { return false };
    matches!(conn.send(&http1::get(addr, "/readyz")).await, Ok(r) if r.status == 200)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = args.data_dir.join("mysetlist.db");
    anyhow::ensure!(db.exists(), "{} does not exist", db.display());
    let addr = format!("127.0.0.1:{}", args.port);
    let mut times = Vec::new();
    let mut idle_rss = f64::NAN;
    for run in 0..args.runs {
        let started = Instant::now();
        let server = Server(
            Command::new(&args.bin)
                .arg("serve")
                .env("MYSETLIST_DATA_DIR", &args.data_dir)
                .env("MYSETLIST_LISTEN", &addr)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
        let deadline = started + Duration::from_secs(60);
        loop {
            if ready(&addr).await {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "run {run}: not ready after 60 s");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        if run + 1 == args.runs {
            tokio::time::sleep(Duration::from_secs(1)).await;
            idle_rss = rss_mb(server.0.id()).unwrap_or(f64::NAN);
        }
        drop(server);
    }
    let size = std::fs::metadata(&db)?.len() as f64 / 1e6;
    times.sort_by(f64::total_cmp);
    println!("db_mb {size:.0}");
    println!("startup_median_ms {:.1}", times[times.len() / 2]);
    println!("startup_min_ms {:.1}", times[0]);
    println!("idle_rss_mb {idle_rss:.1}");
    Ok(())
}
