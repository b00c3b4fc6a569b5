//! Live-update fan-out: N concurrent server-sent-event clients watch one show; votes are cast one at
//! a time and, for each, the time from the vote's acknowledgement (its HTTP reply) to each client
//! receiving the next `ranking` event is recorded. Also reads the server's RSS (from
//! /proc/PID/status) with all clients connected, and what each watcher costs: the clients connect in
//! two halves, and the growth over the second half divided by its watchers is `per_watcher_kb`
//! (the first half pays for what is allocated once: the show's channel, caches, arenas).
//!
//! With `--vote-addr` the votes go to another node (a leader) than the one watched (its follower),
//! so the figure is the follower's lag plus its fan-out.
//!
//! Clients bind source addresses 127.N.0.2, 127.N.0.3, ... (20,000 each; N differs per run), so
//! more watchers than one address has ephemeral ports can connect.
//!
//! cargo run --release --example bench_sse -- --addr 127.0.0.1:8080 --clients 10000 --cookies c.txt --songs s.txt --server-pid PID

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc};

#[path = "http1.rs"]
mod http1;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    #[arg(long, default_value_t = 1)]
    show_id: i64,
    #[arg(long, default_value_t = 10_000)]
    clients: usize,
    /// Votes cast (each one fans out to every client)
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Session cookies (one per line); round i votes as user i
    #[arg(long)]
    cookies: std::path::PathBuf,
    #[arg(long)]
    songs: std::path::PathBuf,
    /// Where the votes go, when not to `addr`: a leader, with the watchers on one of its followers
    #[arg(long)]
    vote_addr: Option<String>,
    /// The server process, for its resident memory
    #[arg(long)]
    server_pid: Option<u32>,
    /// Connection attempts in flight while connecting (stays under the listen backlog)
    #[arg(long, default_value_t = 200)]
    connect_parallel: usize,
}

/// Resident set size of a process in MB, from /proc.
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cookies: Vec<String> = std::fs::read_to_string(&args.cookies)?.lines().map(str::to_owned).collect();
    let songs: Vec<String> = std::fs::read_to_string(&args.songs)?.lines().map(str::to_owned).collect();
    anyhow::ensure!(cookies.len() >= args.rounds && !songs.is_empty(), "need a cookie per round and a song");
    let (events_tx, mut events) = mpsc::unbounded_channel::<(usize, Instant)>();
    let gate = Arc::new(Semaphore::new(args.connect_parallel));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.clients);
    let mut connected = vec![false; args.clients];
    let half = args.clients / 2;
    let mut rss_at_half = None;
    for range in [0..half, half..args.clients] {
        for id in range.clone() {
            let (tx, gate, addr) = (events_tx.clone(), gate.clone(), args.addr.clone());
            let path = format!("/shows/{}/live", args.show_id);
            tasks.push(tokio::spawn(async move { watch(id, &addr, &path, gate, tx).await }));
        }
        // Every client has its first event (the current ranking) once it is connected.
        let mut n = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
        while n < range.len() {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some((id, _))) if !connected[id] => {
                    connected[id] = true;
                    n += 1;
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    let why = first_failures(&mut tasks, 3).await;
                    anyhow::bail!("only {n} of {} clients connected in {range:?}; failures: {why:?}", range.len())
                }
            }
        }
        if rss_at_half.is_none() {
            rss_at_half = args.server_pid.and_then(rss_mb);
        }
    }
    drop(events_tx);
    println!("clients {}", args.clients);
    println!("connect_all_s {:.2}", started.elapsed().as_secs_f64());
    if let Some(pid) = args.server_pid {
        let rss = rss_mb(pid).unwrap_or(f64::NAN);
        println!("server_rss_mb {rss:.1}");
        let grown_kb = (rss - rss_at_half.unwrap_or(f64::NAN)) * 1024.0;
        println!("per_watcher_kb {:.1}", grown_kb / (args.clients - half) as f64);
    }

    let mut latencies_us: Vec<u64> = Vec::with_capacity(args.clients * args.rounds);
    let mut last_client_ms: Vec<f64> = Vec::new();
    let mut early = 0u64;
    let vote_addr = args.vote_addr.as_deref().unwrap_or(&args.addr);
    let mut voter = http1::Conn::connect(vote_addr).await?;
    for round in 0..args.rounds {
        let song = &songs[round % songs.len()];
        let request =
            http1::post_empty(vote_addr, &format!("/api/v1/shows/{}/songs/{song}/vote", args.show_id), &cookies[round]);
        let mut seen = vec![false; args.clients];
        let mut arrivals: Vec<Instant> = Vec::with_capacity(args.clients);
        let reply = voter.send(&request).await?;
        let ack = Instant::now();
        anyhow::ensure!(
            reply.status == 200,
            "vote returned {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while arrivals.len() < args.clients {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some((id, at))) if !seen[id] => {
                    seen[id] = true;
                    arrivals.push(at);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    anyhow::bail!("round {round}: only {} of {} clients got the update", arrivals.len(), args.clients)
                }
            }
        }
        for at in &arrivals {
            if *at < ack {
                early += 1; // the event overtook the HTTP reply: counts as 0
            }
            latencies_us.push(at.saturating_duration_since(ack).as_micros() as u64);
        }
        let last = arrivals.iter().max().copied().unwrap_or(ack);
        last_client_ms.push(last.saturating_duration_since(ack).as_secs_f64() * 1000.0);
    }
    latencies_us.sort_unstable();
    last_client_ms.sort_by(f64::total_cmp);
    println!("rounds {}", args.rounds);
    for (name, p) in [("p50", 50.0), ("p99", 99.0), ("max", 100.0)] {
        println!("fanout_{name}_ms {:.1}", http1::percentile_ms(&latencies_us, p));
    }
    println!("last_client_median_ms {:.1}", last_client_ms[last_client_ms.len() / 2]);
    println!("events_before_ack {early}");
    if let Some(pid) = args.server_pid {
        println!("server_rss_after_mb {:.1}", rss_mb(pid).unwrap_or(f64::NAN));
    }
    for t in tasks {
        t.abort();
    }
    Ok(())
}

/// The second octet of the source addresses: another one per run, so that a run right after
/// another does not find the ports it needs still in TIME_WAIT.
fn source_net() -> u8 {
    1 + (std::process::id() % 250) as u8
}

/// The errors of the first `n` watchers that ended, for the message when not all connect.
async fn first_failures(tasks: &mut [tokio::task::JoinHandle<anyhow::Result<()>>], n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for t in tasks.iter_mut().filter(|t| t.is_finished()) {
        match t.await {
            Ok(Err(e)) => out.push(format!("{e:#}")),
            Err(e) => out.push(e.to_string()),
            Ok(Ok(())) => {}
        }
        if out.len() == n {
            break;
        }
    }
    out
}

/// One watcher: connect, subscribe, then report the arrival time of every complete `ranking` event.
async fn watch(
    id: usize,
    addr: &str,
    path: &str,
    gate: Arc<Semaphore>,
    events: mpsc::UnboundedSender<(usize, Instant)>,
) -> anyhow::Result<()> {
    let mut stream = {
        let _permit = gate.acquire().await?;
        let server: std::net::SocketAddr = addr.parse()?;
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(std::net::SocketAddr::from(([127, source_net(), 0, 2 + (id / 20_000) as u8], 0)))?;
        let s = socket.connect(server).await?;
        s.set_nodelay(true)?;
        let mut s = s;
        s.write_all(&http1::get(addr, path)).await?;
        s
    };
    // Small buffers: 100,000 clients share this process with nothing else to spare.
    let mut buf: Vec<u8> = Vec::with_capacity(2048);
    let mut chunk = vec![0u8; 2048];
    let mut head_done = false;
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            anyhow::bail!("client {id}: stream closed");
        }
        let at = Instant::now();
        buf.extend_from_slice(&chunk[..n]);
        if !head_done {
            let Some(pos) = http1::find(&buf, b"\r\n\r\n") else { continue };
            anyhow::ensure!(buf.starts_with(b"HTTP/1.1 200"), "client {id}: {}", String::from_utf8_lossy(&buf[..pos]));
            buf.drain(..pos + 4);
            head_done = true;
        }
        // The body may be chunked; events end with a blank line either way ("\n\n").
        while let Some(end) = http1::find(&buf, b"\n\n") {
            if http1::find(&buf[..end], b"event: ranking").is_some() {
                let _ = events.send((id, at));
            }
            buf.drain(..end + 2);
        }
    }
}
