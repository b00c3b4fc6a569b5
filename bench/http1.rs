//! A minimal HTTP/1.1 keep-alive client over a tokio TcpStream for the benchmark programs: one
//! request at a time per connection, bodies by Content-Length or chunked. Small on purpose: a load
//! generator that shares two cores with the server must spend as little CPU as possible per request.

#![allow(dead_code)] // each benchmark program uses a different part of this module
use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

impl Conn {
    pub async fn connect(addr: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self { stream, buf: Vec::with_capacity(8192) })
    }

    /// Sends a complete request (head and body already serialized) and reads the whole reply.
    pub async fn send(&mut self, request: &[u8]) -> io::Result<Reply> {
        self.stream.write_all(request).await?;
        self.read_reply().await
    }

    async fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16384];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed by server"));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Reads until `\r\n\r\n`; returns the head and leaves the rest in the buffer.
    pub async fn read_head(&mut self) -> io::Result<String> {
        loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..pos]).into_owned();
                self.buf.drain(..pos + 4);
                return Ok(head);
            }
            if self.buf.len() > 64 * 1024 {
                return Err(bad("response head larger than 64 KiB"));
            }
            self.fill().await?;
        }
    }

    async fn read_reply(&mut self) -> io::Result<Reply> {
        let head = self.read_head().await?;
        let status = head.get(9..12).and_then(|s| s.parse::<u16>().ok()).ok_or_else(|| bad("no status line"))?;
        let header = |name: &str| {
            head.lines().skip(1).find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
        };
        let body = if let Some(len) = header("content-length") {
            let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
            while self.buf.len() < len {
                self.fill().await?;
            }
            self.buf.drain(..len).collect()
        } else if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            let mut body = Vec::new();
            loop {
                let line = loop {
                    if let Some(pos) = find(&self.buf, b"\r\n") {
                        let l = String::from_utf8_lossy(&self.buf[..pos]).into_owned();
                        self.buf.drain(..pos + 2);
                        break l;
                    }
                    self.fill().await?;
                };
                let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| bad("bad chunk size"))?;
                while self.buf.len() < size + 2 {
                    self.fill().await?;
                }
                body.extend(self.buf.drain(..size));
                self.buf.drain(..2);
                if size == 0 {
                    break body;
                }
            }
        } else {
            Vec::new()
        };
        Ok(Reply { status, body })
    }

    /// Reads whatever arrives next (for streams such as server-sent events).
    pub async fn read_some(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        if !self.buf.is_empty() {
            let n = self.buf.len();
            out.append(&mut self.buf);
            return Ok(n);
        }
        let mut chunk = [0u8; 16384];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "stream closed by server"));
        }
        out.extend_from_slice(&chunk[..n]);
        Ok(n)
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `POST path` with an empty body and a cookie, as one buffer.
pub fn post_empty(host: &str, path: &str, cookie: &str) -> Vec<u8> {
    format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nContent-Length: 0\r\n\r\n").into_bytes()
}

/// `GET path`, as one buffer.
pub fn get(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n\r\n").into_bytes()
}

/// Latency percentiles of a sample (sorted in place), in milliseconds.
pub fn percentile_ms(sorted_micros: &[u64], p: f64) -> f64 {
    if sorted_micros.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (sorted_micros.len() - 1) as f64).round() as usize;
    sorted_micros[idx.min(sorted_micros.len() - 1)] as f64 / 1000.0
}
