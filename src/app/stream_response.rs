//! Serves one request that `first_request` took as a live stream, without hyper: the request goes
//! through the same endpoint (every middleware, the same handler), and the response is written
//! straight to the connection, which closes after it (`connection: close`).
//!
//! Why: hyper keeps an 8 KB read buffer and an 8 KB write buffer for every HTTP/1 connection for as
//! long as it is open, with no setting to shrink them (its `max_buf_size` must be at least 8 KB), and
//! poem does not expose hyper's connection at all. A live stream sends a few hundred bytes a minute
//! for hours, so those buffers were most of a watcher's memory. Here a watcher holds the response
//! stream, a 64-byte probe and nothing else; each event is written from the hub's shared buffer
//! (`writev` of the chunk-size line, the event and the closing CRLF), never copied.

use std::time::{Duration, SystemTime};

use bytes::{Buf, BufMut, Bytes};
use futures_util::{FutureExt, StreamExt};
use http_body_util::BodyExt;
use poem::endpoint::BoxEndpoint;
use poem::web::headers::{Date, HeaderMapExt};
use poem::{Body, Endpoint, Request, RequestParts, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::observability::connections::ConnectionStats;

/// Where the connection came from, as poem's request state wants it.
pub struct Peer {
    pub local: poem::web::LocalAddr,
    pub remote: poem::web::RemoteAddr,
    pub scheme: http::uri::Scheme,
}

/// How the body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// 1xx, 204 and 304 carry no body.
    None,
    Length(u64),
    /// HTTP/1.1 with a body of unknown length (a live stream).
    Chunked,
    /// HTTP/1.0 has no chunked encoding: the body ends when the connection closes.
    UntilClose,
}

impl Framing {
    fn of(status: http::StatusCode, exact_len: Option<u64>, version: http::Version) -> Framing {
        if status.is_informational()
            || status == http::StatusCode::NO_CONTENT
            || status == http::StatusCode::NOT_MODIFIED
        {
            Framing::None
        } else if let Some(n) = exact_len {
            Framing::Length(n)
        } else if version == http::Version::HTTP_11 {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    }

    /// One body chunk as it goes on the wire: no copy of `data` and no allocation (the chunk-size
    /// line is written into an array; this runs once per event for every watcher).
    fn frame(self, data: Bytes) -> impl Buf {
        let mut size_line = [0u8; 18]; // 16 hex digits and CRLF at most
        let mut len = 0;
        if self == Framing::Chunked {
            use std::io::Write as _;
            let mut rest = &mut size_line[..];
            write!(rest, "{:x}\r\n", data.len()).expect("18 bytes hold any usize in hex and CRLF");
            len = 18 - rest.len();
        }
        let end: &'static [u8] = if self == Framing::Chunked { b"\r\n" } else { b"" };
        Buf::take(std::io::Cursor::new(size_line), len).chain(data).chain(end)
    }

    fn last_chunk(self) -> &'static [u8] {
        if self == Framing::Chunked { b"0\r\n\r\n" } else { b"" }
    }
}

/// The status line and headers, with the framing header this writer chose; the endpoint's own
/// framing and connection headers are dropped (they described a response for hyper to frame).
fn response_head(parts: &http::response::Parts, framing: Framing) -> Vec<u8> {
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(parts.status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(parts.status.canonical_reason().unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        let framing_header = name == http::header::CONTENT_LENGTH
            || name == http::header::TRANSFER_ENCODING
            || name == http::header::CONNECTION;
        if !framing_header {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
    }
    match framing {
        Framing::Length(n) => head.extend_from_slice(format!("content-length: {n}\r\n").as_bytes()),
        Framing::Chunked => head.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        Framing::None | Framing::UntilClose => {}
    }
    head.extend_from_slice(b"connection: close\r\n\r\n");
    head
}

/// Answers `parts` through `endpoint` and writes the response; returns when it has ended, the
/// client has gone, a write has not moved for `idle`, or the server stops (`graceful`).
pub async fn serve<Io>(
    endpoint: &BoxEndpoint<'static, Response>,
    parts: http::request::Parts,
    peer: Peer,
    mut io: Io,
    idle: Duration,
    graceful: &CancellationToken,
    stats: &ConnectionStats,
) where
    Io: AsyncRead + AsyncWrite + Unpin,
{
    let version = parts.version;
    let request = Request::from_parts(RequestParts::from((parts, peer.local, peer.remote, peer.scheme)), Body::empty());
    // Boxed: the endpoint's future (every middleware's state) is needed only until the response
    // exists, and a watcher's task should not keep room for it while the stream lasts.
    let response: http::Response<_> = Box::pin(endpoint.get_response(request)).await.into();
    let (mut parts, body) = response.into_parts();
    if !parts.headers.contains_key(http::header::DATE) {
        parts.headers.typed_insert(Date::from(SystemTime::now()));
    }
    let framing = Framing::of(parts.status, hyper::body::Body::size_hint(&body).exact(), version);
    let mut data = body.into_data_stream();
    let mut out = response_head(&parts, framing);
    drop(parts);
    // What is ready at once (the whole body of an error, a stream's first events) goes out with the
    // head in one write.
    let mut ended = framing == Framing::None;
    while !ended {
        match data.next().now_or_never() {
            Some(Some(Ok(chunk))) => out.put(framing.frame(chunk)),
            Some(None) => ended = true,
            Some(Some(Err(_))) => return, // close without the last chunk: the client sees it cut
            None => break,
        }
    }
    if ended {
        out.extend_from_slice(framing.last_chunk());
    }
    let sent = send(&mut io, &mut out.as_slice(), idle, stats).await;
    drop(out); // the first events hold the whole ranking: not kept for the stream's life
    if !sent {
        return;
    }
    let mut probe = [0u8; 64];
    // Made once: each `cancelled()` registers with the token under its lock, which every watcher
    // would otherwise do again for every event.
    let stopping = graceful.cancelled();
    tokio::pin!(stopping);
    while !ended {
        let next = tokio::select! {
            biased;
            () = &mut stopping => None,
            read = io.read(&mut probe) => match read {
                Ok(0) | Err(_) => return, // the client has gone
                Ok(_) => continue, // bytes after a `connection: close` request: ignored
            },
            next = data.next() => next,
        };
        match next {
            Some(Ok(chunk)) => {
                if !send(&mut io, &mut framing.frame(chunk), idle, stats).await {
                    return;
                }
            }
            Some(Err(_)) => return,
            None => {
                ended = true;
                if !send(&mut io, &mut framing.last_chunk(), idle, stats).await {
                    return;
                }
            }
        }
    }
    let _ = tokio::time::timeout(idle, io.shutdown()).await;
}

/// Writes all of `buf` (vectored where the stream can); false when the client has gone or the write
/// did not finish within `idle` (a client that stopped reading).
async fn send<Io: AsyncWrite + Unpin>(
    io: &mut Io,
    buf: &mut impl Buf,
    idle: Duration,
    stats: &ConnectionStats,
) -> bool {
    match tokio::time::timeout(idle, io.write_all_buf(buf)).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            stats.timed_out.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(framing: Framing, data: &'static [u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.put(framing.frame(Bytes::from_static(data)));
        out
    }

    #[test]
    fn chunks_are_framed_for_the_version_and_length() {
        assert_eq!(wire(Framing::Chunked, b"event: x\n\n"), b"a\r\nevent: x\n\n\r\n");
        assert_eq!(wire(Framing::UntilClose, b"abc"), b"abc");
        assert_eq!(wire(Framing::Length(3), b"abc"), b"abc");
        let big = Framing::Chunked.frame(Bytes::from(vec![b'x'; 0x1234]));
        let mut wired = Vec::new();
        wired.put(big);
        assert!(wired.starts_with(b"1234\r\nxx") && wired.ends_with(b"xx\r\n") && wired.len() == 0x1234 + 8);
        assert_eq!(Framing::Chunked.last_chunk(), b"0\r\n\r\n");
        assert_eq!(Framing::Length(3).last_chunk(), b"");
    }

    #[test]
    fn framing_follows_status_length_and_version() {
        use http::{StatusCode, Version};
        assert_eq!(Framing::of(StatusCode::OK, None, Version::HTTP_11), Framing::Chunked);
        assert_eq!(Framing::of(StatusCode::OK, None, Version::HTTP_10), Framing::UntilClose);
        assert_eq!(Framing::of(StatusCode::NOT_FOUND, Some(9), Version::HTTP_11), Framing::Length(9));
        assert_eq!(Framing::of(StatusCode::NOT_MODIFIED, None, Version::HTTP_11), Framing::None);
    }

    #[test]
    fn the_head_replaces_the_endpoint_framing_headers() {
        let (mut parts, ()) = http::Response::new(()).into_parts();
        parts.status = http::StatusCode::TOO_MANY_REQUESTS;
        parts.headers.insert("content-type", "text/event-stream".parse().unwrap());
        parts.headers.insert("transfer-encoding", "gzip".parse().unwrap());
        parts.headers.insert("connection", "keep-alive".parse().unwrap());
        let head = String::from_utf8(response_head(&parts, Framing::Length(0))).unwrap();
        assert_eq!(
            head,
            "HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/event-stream\r\ncontent-length: 0\r\n\
             connection: close\r\n\r\n"
        );
    }
}
