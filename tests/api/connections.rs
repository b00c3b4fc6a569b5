//! Connection limits a hostile client cannot wear down: the request-head timeout (slowloris), the
//! idle timeout, the per-address and total connection caps, and the caps on live-ranking streams.
//! Each test waits on what the server does (a closed socket, an answer) within a bound, never on a
//! fixed sleep.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// How long any test here waits for the server to act; far above every limit it configures.
const BOUND: Duration = Duration::from_secs(15);

/// Reads until the server closes the connection; None if it is still open after `BOUND`.
async fn closed_by_server(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(BOUND, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| got)
}

async fn get_over(stream: &mut TcpStream, path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let got = closed_by_server(stream).await.expect("the answer ends with the connection");
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn an_incomplete_request_head_is_cut_off() {
    let app = spawn_app_with(&[("MYSETLIST_HTTP__HEADER_READ_TIMEOUT", "300ms")]).await;
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").await.unwrap();
    assert!(closed_by_server(&mut slow).await.is_some(), "a slowloris connection stays open");
    let mut normal = TcpStream::connect(app.addr).await.unwrap();
    assert!(get_over(&mut normal, "/livez").await.starts_with("HTTP/1.1 200"));
    app.stop().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(&[("MYSETLIST_HTTP__IDLE_TIMEOUT", "1s")]).await;
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    assert!(closed_by_server(&mut idle).await.is_some(), "an idle connection stays open");
    let snapshot = app.client().get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let timed_out = snapshot
        .lines()
        .find_map(|l| l.strip_prefix("mysetlist_http_connections_timed_out_total "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(timed_out.is_some_and(|n| n >= 1), "counted in /metrics: {timed_out:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_live_stream_outlives_the_idle_timeout_through_its_keep_alives() {
    let app = spawn_app_with(&[("MYSETLIST_HTTP__IDLE_TIMEOUT", "1s")]).await;
    let show = app.seed_show(chrono::Duration::days(3), 3).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let req = format!("GET /shows/{}/live HTTP/1.1\r\nHost: localhost\r\n\r\n", show.show_id);
    stream.write_all(req.as_bytes()).await.unwrap();
    // Three keep-alives take at least three idle-timeout thirds: longer than the idle timeout.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let kept_alive = tokio::time::timeout(BOUND, async {
        while String::from_utf8_lossy(&got).matches(":\n\n").count() < 4 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        true
    })
    .await;
    assert_eq!(kept_alive, Ok(true), "the stream ended: {}", String::from_utf8_lossy(&got));
    app.stop().await;
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let app = spawn_app_with(&[("MYSETLIST_HTTP__MAX_CONNECTIONS_PER_ADDRESS", "3")]).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(app.addr).await.unwrap());
    }
    // The held connections are admitted once the server has accepted them; a fourth is closed.
    let refused = wait_for(BOUND, || async {
        let mut extra = TcpStream::connect(app.addr).await.ok()?;
        closed_by_server(&mut extra).await.filter(|got| got.is_empty())
    })
    .await;
    assert!(refused.is_some(), "a fourth connection from the same address was kept");
    assert!(get_over(&mut held[0], "/livez").await.starts_with("HTTP/1.1 200"), "admitted ones are served");
    // held[0] is closed now: its place is free again.
    let served = wait_for(BOUND, || async {
        let mut again = TcpStream::connect(app.addr).await.ok()?;
        Some(get_over(&mut again, "/livez").await).filter(|r| r.starts_with("HTTP/1.1 200"))
    })
    .await;
    assert!(served.is_some(), "a freed place is not given again");
    let metrics = app.client().get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("mysetlist_http_connections_refused_per_address_total"), "{metrics}");
    app.stop().await;
}

#[tokio::test]
async fn at_the_total_cap_new_clients_wait_until_a_connection_ends() {
    let app = spawn_app_with(&[("MYSETLIST_HTTP__MAX_CONNECTIONS", "2")]).await;
    let mut first = TcpStream::connect(app.addr).await.unwrap();
    let _second = TcpStream::connect(app.addr).await.unwrap();
    let mut third = TcpStream::connect(app.addr).await.unwrap(); // in the kernel's backlog
    third.write_all(b"GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(early.is_err(), "the third connection was served past the cap");
    assert!(get_over(&mut first, "/livez").await.starts_with("HTTP/1.1 200"));
    let answer = closed_by_server(&mut third).await.expect("served once a place is free");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    app.stop().await;
}

#[tokio::test]
async fn live_streams_are_capped_per_address() {
    let app = spawn_app_with(&[("MYSETLIST_HTTP__MAX_LIVE_STREAMS_PER_ADDRESS", "2")]).await;
    let show = app.seed_show(chrono::Duration::days(3), 3).await;
    let url = app.url(&format!("/shows/{}/live", show.show_id));
    let c = app.client();
    let a = c.get(&url).send().await.unwrap();
    let b = c.get(&url).send().await.unwrap();
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let third = c.get(&url).send().await.unwrap();
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    drop(a);
    let again = wait_for(BOUND, || async {
        let r = c.get(&url).send().await.ok()?;
        (r.status() == 200).then_some(r)
    })
    .await;
    assert!(again.is_some(), "a closed stream frees its place");
    app.stop().await;
}
