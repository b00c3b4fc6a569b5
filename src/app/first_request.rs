//! Reads the head of a connection's first request to decide who serves the connection: a live
//! stream (`GET /shows/{id}/live`, no body) goes to the lean writer in `stream_response.rs`,
//! everything else to hyper with the bytes read so far put back in front of the stream.
//!
//! Only what is cheap to be sure of is taken: a `GET` whose request line names a live stream, whose
//! head parses completely, and that carries no body, upgrade or pipelined bytes. Anything else, or
//! anything odd, goes to hyper, which knows HTTP in full and answers malformed requests itself.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// hyper's own default limit for a request head is larger (~400 KB), but a live stream's head is a
/// few hundred bytes; a longer one is left to hyper.
const MAX_HEAD_BYTES: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;

pub enum FirstRequest<Io> {
    /// A live-stream request, read completely; nothing else was sent on the connection.
    Stream(http::request::Parts, Io),
    /// Anything else, with the bytes read so far: hyper must read them before the rest of `io`.
    Other(Vec<u8>, Io),
    /// The client closed the connection, or an unreadable stream: nothing to answer.
    Gone,
    /// No byte for `idle`, or no complete head by `head_timeout`: the connection is dropped.
    TimedOut,
}

/// Reads at most `MAX_HEAD_BYTES` within `head_timeout`, giving up on a connection that sends
/// nothing for `idle`; stops as soon as the request is known not to be a live stream.
pub async fn read<Io>(
    mut io: Io,
    head_timeout: Duration,
    idle: Duration,
    is_stream_path: fn(&str) -> bool,
) -> FirstRequest<Io>
where
    Io: AsyncRead + Unpin,
{
    let mut buf = Vec::with_capacity(1024);
    let deadline = tokio::time::Instant::now() + head_timeout;
    loop {
        match classify(&buf, is_stream_path) {
            Sorted::NotAStream => return FirstRequest::Other(buf, io),
            Sorted::Stream(parts) => return FirstRequest::Stream(*parts, io),
            Sorted::NeedMore if buf.len() >= MAX_HEAD_BYTES => return FirstRequest::Other(buf, io),
            Sorted::NeedMore => {}
        }
        let room = (MAX_HEAD_BYTES - buf.len()).min(4096);
        let start = buf.len();
        buf.resize(start + room, 0);
        let read_by = deadline.min(tokio::time::Instant::now() + idle);
        match tokio::time::timeout_at(read_by, io.read(&mut buf[start..])).await {
            Ok(Ok(n)) if n > 0 => buf.truncate(start + n),
            Ok(Ok(_)) | Ok(Err(_)) => return FirstRequest::Gone,
            // Silent, or a head still incomplete at the deadline (slowloris).
            Err(_) => return FirstRequest::TimedOut,
        }
    }
}

enum Sorted {
    NeedMore,
    NotAStream,
    Stream(Box<http::request::Parts>),
}

fn classify(buf: &[u8], is_stream_path: fn(&str) -> bool) -> Sorted {
    const GET: &[u8] = b"GET ";
    let prefix = buf.len().min(GET.len());
    if buf[..prefix] != GET[..prefix] {
        return Sorted::NotAStream;
    }
    // The request line decides before the whole head is in.
    if let Some(line_end) = buf.iter().position(|&b| b == b'\n') {
        let target = buf[GET.len().min(line_end)..line_end].split(|&b| b == b' ').next().unwrap_or_default();
        let path = std::str::from_utf8(target).unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default();
        if !is_stream_path(path) {
            return Sorted::NotAStream;
        }
    } else if buf.len() > GET.len() && !buf[GET.len()..].starts_with(b"/") {
        return Sorted::NotAStream; // absolute-form or asterisk targets: hyper's business
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Partial) => Sorted::NeedMore,
        Ok(httparse::Status::Complete(head_len)) if head_len == buf.len() => {
            to_parts(&request).map_or(Sorted::NotAStream, |parts| Sorted::Stream(Box::new(parts)))
        }
        // Pipelined bytes after the head, or a malformed head (hyper answers 400).
        Ok(httparse::Status::Complete(_)) | Err(_) => Sorted::NotAStream,
    }
}

/// The head as `http` types, or `None` when it asks for something only hyper does: a body, an
/// upgrade, `Expect`, or an HTTP version other than 1.0 and 1.1.
fn to_parts(request: &httparse::Request<'_, '_>) -> Option<http::request::Parts> {
    let version = match request.version? {
        0 => http::Version::HTTP_10,
        1 => http::Version::HTTP_11,
        _ => return None,
    };
    let mut builder = http::Request::builder().method(http::Method::GET).uri(request.path?).version(version);
    for header in request.headers.iter() {
        let name = header.name;
        let hands_off = ["content-length", "transfer-encoding", "upgrade", "expect"];
        if hands_off.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            return None;
        }
        builder = builder.header(name, header.value);
    }
    builder.body(()).ok().map(|r| r.into_parts().0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn is_live(path: &str) -> bool {
        path == "/shows/1/live"
    }

    /// Sends `pieces` one write at a time (as a slow client would) and reads the first request.
    async fn in_pieces(pieces: &[&[u8]], then_close: bool) -> FirstRequest<tokio::io::DuplexStream> {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let owned: Vec<Vec<u8>> = pieces.iter().map(|p| p.to_vec()).collect();
        let writer = tokio::spawn(async move {
            for p in owned {
                client.write_all(&p).await.unwrap();
                tokio::task::yield_now().await;
            }
            if !then_close {
                std::future::pending::<()>().await;
            }
        });
        let sorted = read(server, Duration::from_secs(5), Duration::from_secs(5), is_live).await;
        writer.abort();
        sorted
    }

    /// What hyper would read: the bytes already read, then the rest of the stream.
    async fn replayed(mut read: Vec<u8>, io: &mut tokio::io::DuplexStream, n: usize) -> Vec<u8> {
        let mut rest = vec![0; n - read.len()];
        io.read_exact(&mut rest).await.unwrap();
        read.extend_from_slice(&rest);
        read
    }

    #[tokio::test]
    async fn a_live_stream_request_in_pieces_is_taken_with_its_headers() {
        let sorted = in_pieces(
            &[b"GET /shows/1/li", b"ve?x=1 HTTP/1.1\r\nHost: a\r\n", b"Accept: text/event-stream\r\n\r\n"],
            false,
        )
        .await;
        let FirstRequest::Stream(parts, _) = sorted else { panic!("not taken as a stream") };
        assert_eq!(parts.uri, "/shows/1/live?x=1");
        assert_eq!(parts.version, http::Version::HTTP_11);
        assert_eq!(parts.headers["accept"], "text/event-stream");
        assert_eq!(parts.headers["host"], "a");
    }

    #[tokio::test]
    async fn other_requests_go_to_hyper_with_every_byte_read_replayed() {
        let cases: [&[u8]; 5] = [
            b"POST /shows/1/live HTTP/1.1\r\n",
            b"GET /shows/2 HTTP/1.1\r\nHost: a\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"GET /shows/1/live HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            b"GET /shows/1/live HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
        ];
        for sent in cases {
            let FirstRequest::Other(read, mut io) = in_pieces(&[sent], false).await else {
                panic!("{} was taken as a stream", String::from_utf8_lossy(sent))
            };
            assert_eq!(replayed(read, &mut io, sent.len()).await, sent, "replayed bytes");
        }
    }

    #[tokio::test]
    async fn a_pipelined_second_request_leaves_the_connection_to_hyper() {
        let sent = b"GET /shows/1/live HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        let FirstRequest::Other(read, mut io) = in_pieces(&[sent], false).await else { panic!("taken as a stream") };
        assert_eq!(replayed(read, &mut io, sent.len()).await, sent);
    }

    #[tokio::test]
    async fn a_malformed_live_request_goes_to_hyper_and_a_closed_one_is_gone() {
        let malformed = b"GET /shows/1/live HTTP/1.1\r\nBad Header\r\n\r\n";
        assert!(matches!(in_pieces(&[malformed], false).await, FirstRequest::Other(..)));
        let half = b"GET /shows/1/live HTTP/1.1\r\nHost: a\r\n";
        assert!(matches!(in_pieces(&[half], true).await, FirstRequest::Gone));
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_not_complete_in_time_times_out_even_while_bytes_trickle_in() {
        let (mut client, server) = tokio::io::duplex(1024);
        let trickle = tokio::spawn(async move {
            client.write_all(b"GET /shows/1/live HTTP/1.1\r\n").await.unwrap();
            for _ in 0..100 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if client.write_all(b"X: y\r\n").await.is_err() {
                    return;
                }
            }
        });
        let started = tokio::time::Instant::now();
        let sorted = read(server, Duration::from_secs(10), Duration::from_secs(3), is_live).await;
        assert!(matches!(sorted, FirstRequest::TimedOut));
        assert_eq!(started.elapsed().as_secs(), 10, "cut at the head deadline, not per read");
        trickle.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_times_out_after_idle() {
        let (client, server) = tokio::io::duplex(1024);
        let started = tokio::time::Instant::now();
        let sorted = read(server, Duration::from_secs(10), Duration::from_secs(3), is_live).await;
        assert!(matches!(sorted, FirstRequest::TimedOut));
        assert_eq!(started.elapsed().as_secs(), 3);
        drop(client);
    }
}
