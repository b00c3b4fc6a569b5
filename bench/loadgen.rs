//! HTTP/1.1 load generator for the benchmarks. Each request picks a random session cookie and a
//! random song (`{song}` in --path), so load spreads over many users and counters.
//!
//! --rate N: open loop at a fixed N requests/s (like wrk2): request i is due at start + i/N and its
//! latency counts from that due time, so a stalled server cannot hide queueing (no coordinated
//! omission). tokio's timer has 1 ms resolution, so latencies include up to ~1 ms of pacing slack.
//! --rate 0: closed loop, every connection sends as fast as replies come back (throughput).
//!
//! Prints `key value` lines for scripts/bench.sh.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use rand::{Rng, SeedableRng};

#[path = "http1.rs"]
mod http1;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    #[arg(long, default_value = "POST")]
    method: String,
    /// Request path; `{song}` is replaced by a random line of --songs
    #[arg(long)]
    path: String,
    /// File with one `name=value` cookie per line (empty: no cookie)
    #[arg(long)]
    cookies: Option<std::path::PathBuf>,
    #[arg(long)]
    songs: Option<std::path::PathBuf>,
    /// Requests per second; 0 = as fast as possible
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Measured seconds (after --warmup seconds at the same load)
    #[arg(long, default_value_t = 10)]
    duration: u64,
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    #[arg(long, default_value_t = 32)]
    connections: usize,
}

struct Shared {
    args: Args,
    cookies: Vec<String>,
    songs: Vec<String>,
    next: AtomicU64,
    start: Instant,
}

struct Outcome {
    latencies_us: Vec<u64>,
    service_us: Vec<u64>,
    ok: u64,
    failed: u64,
    statuses: Vec<u16>,
}

fn lines(path: &Option<std::path::PathBuf>) -> anyhow::Result<Vec<String>> {
    Ok(match path {
        Some(p) => std::fs::read_to_string(p)?.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect(),
        None => Vec::new(),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cookies = lines(&args.cookies)?;
    let songs = lines(&args.songs)?;
    anyhow::ensure!(!args.path.contains("{song}") || !songs.is_empty(), "--path has {{song}} but --songs is empty");
    let connections = args.connections;
    let (warmup, duration) = (args.warmup, args.duration);
    let shared = Arc::new(Shared { args, cookies, songs, next: AtomicU64::new(0), start: Instant::now() });
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let s = shared.clone();
        tasks.push(tokio::spawn(async move { worker(s).await }));
    }
    let mut all = Outcome { latencies_us: Vec::new(), service_us: Vec::new(), ok: 0, failed: 0, statuses: Vec::new() };
    for t in tasks {
        let o = t.await??;
        all.latencies_us.extend(o.latencies_us);
        all.service_us.extend(o.service_us);
        all.ok += o.ok;
        all.failed += o.failed;
        all.statuses.extend(o.statuses);
    }
    all.latencies_us.sort_unstable();
    all.service_us.sort_unstable();
    let measured = all.latencies_us.len() as f64;
    println!("requests {}", all.latencies_us.len());
    println!("throughput_per_s {:.0}", measured / duration as f64);
    println!("ok {}", all.ok);
    println!("failed {}", all.failed);
    all.statuses.sort_unstable();
    all.statuses.dedup();
    if !all.statuses.is_empty() {
        println!("failed_statuses {:?}", all.statuses);
    }
    for (name, p) in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9), ("max", 100.0)] {
        println!("latency_{name}_ms {:.3}", http1::percentile_ms(&all.latencies_us, p));
    }
    println!("service_p99_ms {:.3}", http1::percentile_ms(&all.service_us, 99.0));
    println!("warmup_s {warmup}");
    Ok(())
}

async fn worker(s: Arc<Shared>) -> anyhow::Result<Outcome> {
    let a = &s.args;
    let mut conn = http1::Conn::connect(&a.addr).await?;
    let mut rng = rand::rngs::StdRng::from_os_rng();
    let mut out = Outcome { latencies_us: Vec::new(), service_us: Vec::new(), ok: 0, failed: 0, statuses: Vec::new() };
    let warmup = Duration::from_secs(a.warmup);
    let end = warmup + Duration::from_secs(a.duration);
    loop {
        let due = if let Some(every) = 1_000_000_000u64.checked_div(a.rate) {
            let i = s.next.fetch_add(1, Ordering::Relaxed);
            let due = Duration::from_nanos(i * every);
            if due >= end {
                break;
            }
            tokio::time::sleep_until((s.start + due).into()).await;
            due
        } else {
            let now = s.start.elapsed();
            if now >= end {
                break;
            }
            now
        };
        let path = if s.songs.is_empty() {
            a.path.clone()
        } else {
            a.path.replace("{song}", &s.songs[rng.random_range(0..s.songs.len())])
        };
        let cookie = if s.cookies.is_empty() { "" } else { &s.cookies[rng.random_range(0..s.cookies.len())] };
        let mut req = format!("{} {path} HTTP/1.1\r\nHost: {}\r\n", a.method, a.addr);
        if !cookie.is_empty() {
            req.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        if a.method != "GET" {
            req.push_str("Content-Length: 0\r\n");
        }
        req.push_str("\r\n");
        let sent = s.start.elapsed();
        let reply = conn.send(req.as_bytes()).await;
        let done = s.start.elapsed();
        let reply = match reply {
            Ok(r) => r,
            Err(_) => {
                // Count it and reconnect: a dropped connection must not end the run.
                if due >= warmup {
                    out.failed += 1;
                }
                conn = http1::Conn::connect(&a.addr).await?;
                continue;
            }
        };
        if due < warmup {
            continue;
        }
        out.latencies_us.push(done.saturating_sub(due).as_micros() as u64);
        out.service_us.push(done.saturating_sub(sent).as_micros() as u64);
        if (200..300).contains(&reply.status) {
            out.ok += 1;
        } else {
            out.failed += 1;
            out.statuses.push(reply.status);
        }
    }
    Ok(out)
}
