//! A live stream on the wire. A connection whose first request is `GET /shows/{id}/live` is written
//! by the server's own lean writer instead of hyper (see the README's design decisions); these tests
//! read the raw bytes to hold that writer to HTTP/1.x: framing, headers, errors, a stop, and the
//! requests that must still reach hyper.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

const BOUND: Duration = Duration::from_secs(15);

/// Reads until `done` holds for what arrived, or the server closes; panics after `BOUND`.
async fn read_until(stream: &mut TcpStream, done: impl Fn(&str) -> bool) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(BOUND, async {
        while !done(&String::from_utf8_lossy(&got)) {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server answered in time");
    String::from_utf8_lossy(&got).into_owned()
}

async fn until_closed(stream: &mut TcpStream) -> String {
    read_until(stream, |_| false).await
}

fn head_of(answer: &str) -> String {
    answer.split("\r\n\r\n").next().unwrap_or_default().to_ascii_lowercase()
}

async fn open(app: &TestApp, request: &str) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// A seeded show watched over a connection whose first request is its live stream (`version`
/// "1.1" or "1.0"); returns what arrived up to the second event (the audience).
async fn watching(version: &str) -> (TestApp, TcpStream, String) {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(3), 3).await;
    let request = format!("GET /shows/{}/live HTTP/{version}\r\nHost: localhost\r\n\r\n", show.show_id);
    let mut stream = open(&app, &request).await;
    let answer = read_until(&mut stream, |got| got.contains("event: watchers")).await;
    (app, stream, answer)
}

#[tokio::test]
async fn a_first_request_for_a_live_stream_gets_chunked_events_and_every_response_header() {
    let (app, _stream, answer) = watching("1.1").await;
    let head = head_of(&answer);
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    for header in [
        "content-type: text/event-stream",
        "cache-control: no-cache",
        "transfer-encoding: chunked",
        "connection: close",
        "x-content-type-options: nosniff",
        "content-security-policy:",
        "date:",
    ] {
        assert!(head.contains(header), "{header} missing from:\n{head}");
    }
    assert!(!head.contains("content-length"), "{head}");
    // The first chunk: its size line, then the ranking event.
    let body = answer.split_once("\r\n\r\n").unwrap().1;
    let (size, rest) = body.split_once("\r\n").expect("a chunk-size line");
    let size = usize::from_str_radix(size, 16).expect("hex chunk size");
    assert!(rest[..size].starts_with("event: ranking\ndata: {"), "{rest}");
    assert_eq!(&rest[size..size + 2], "\r\n", "the chunk ends where its size says");
    app.stop().await;
}

#[tokio::test]
async fn an_http_1_0_watcher_gets_the_events_unframed() {
    let (app, _stream, answer) = watching("1.0").await;
    let head = head_of(&answer);
    assert!(head.starts_with("http/1.1 200 ok\r\n") && !head.contains("transfer-encoding"), "{head}");
    assert!(answer.split_once("\r\n\r\n").unwrap().1.starts_with("event: ranking\n"), "{answer}");
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_show_is_answered_in_full_and_the_connection_closed() {
    let app = spawn_app().await;
    let mut stream = open(&app, "GET /shows/987654/live HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    let answer = until_closed(&mut stream).await;
    let head = head_of(&answer);
    assert!(head.starts_with("http/1.1 404 not found\r\n"), "{head}");
    let length: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length: ")).expect("a content-length").parse().unwrap();
    assert_eq!(answer.split_once("\r\n\r\n").unwrap().1.len(), length, "the whole body, then the close");
    app.stop().await;
}

#[tokio::test]
async fn requests_the_lean_writer_does_not_take_are_still_served() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(3), 3).await;
    let live = format!("/shows/{}/live", show.show_id);
    // A live stream as the second request of a keep-alive connection: hyper serves it.
    let mut stream = open(&app, "GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    read_until(&mut stream, |got| got.starts_with("HTTP/1.1 200") && got.contains("\r\n\r\n")).await;
    stream.write_all(format!("GET {live} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes()).await.unwrap();
    let answer = read_until(&mut stream, |got| got.contains("event: ranking")).await;
    assert!(answer.contains("text/event-stream"), "{answer}");
    // HEAD, a body, and a malformed head go to hyper too, which answers each as it always did.
    let mut head = open(&app, &format!("HEAD {live} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")).await;
    assert!(until_closed(&mut head).await.starts_with("HTTP/1.1 "), "HEAD is answered");
    let with_body = format!("GET {live} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi");
    let mut with_body = open(&app, &with_body).await;
    let answer = read_until(&mut with_body, |got| got.contains("event: ranking")).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut malformed = open(&app, &format!("GET {live} HTTP/1.1\r\nBad Header\r\n\r\n")).await;
    assert!(until_closed(&mut malformed).await.starts_with("HTTP/1.1 400"), "hyper answers 400");
    app.stop().await;
}

#[tokio::test]
async fn stopping_the_server_ends_a_live_stream_with_its_last_chunk() {
    let (app, mut stream, _) = watching("1.1").await;
    let stopping = tokio::spawn(app.stop());
    let rest = until_closed(&mut stream).await;
    assert!(rest.ends_with("0\r\n\r\n"), "a clean end of the chunked body, not a cut: {rest:?}");
    stopping.await.unwrap();
}
