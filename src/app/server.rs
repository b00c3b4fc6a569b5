//! The connection loop: accepts connections from a poem acceptor (TCP or TLS) and serves each with
//! hyper, under limits that a hostile client cannot wear down.
//!
//! poem's own `Server` has no request-head timeout (hyper needs a timer for one, and poem sets none),
//! no per-address connection cap, and retries a failing `accept` at once: with the descriptors used
//! up (EMFILE) its loop spun on the error. Here:
//!
//! - **Request-head timeout** (`http.header_read_timeout`): hyper closes a connection whose request
//!   head is not complete in time (slowloris).
//! - **Idle timeout** (`http.idle_timeout`): a connection that neither reads nor writes a byte for
//!   that long is closed (an idle keep-alive connection, a stalled body). Live-ranking streams write
//!   a keep-alive comment every 20 s, so they stay open.
//! - **Connections per address** (`http.max_connections_per_address`): one more is closed as soon as
//!   it is accepted. Addresses in `http.trusted_proxies` are exempt (a reverse proxy carries many
//!   clients).
//! - **Connections in all** (`http.max_connections`, default: 90 % of the descriptor limit): at the
//!   cap the loop stops accepting until a connection ends, so new clients wait in the kernel's backlog
//!   instead of being accepted and dropped.
//! - **Accept errors** (EMFILE, ENFILE, ENOBUFS, ENOMEM): the loop backs off from 5 ms to 1 s, logs
//!   once when it starts and once when it recovers, and counts them.
//! - **Live streams** (`GET /shows/{id}/live` as a connection's first request) are written by
//!   `stream_response.rs` instead of hyper, whose 8 KB read and write buffers per connection were
//!   most of a watcher's memory; `first_request.rs` reads the first head and hands anything else to
//!   hyper with the bytes put back. The same limits apply on both paths.
//! - **Graceful stop**: on the stop signal every connection finishes its request in flight and
//!   closes; after the drain timeout the rest are dropped.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use parking_lot::Mutex;
use poem::endpoint::BoxEndpoint;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::acceptor::AnyAcceptor;
use super::first_request::{self, FirstRequest};
use super::stream_response::{self, Peer};
use crate::config::Config;
pub use crate::observability::connections::ConnectionStats;

#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    /// 0: no cap.
    pub per_address: usize,
    pub total: usize,
    pub exempt: Vec<ipnet::IpNet>,
}

impl ConnectionLimits {
    pub fn from_config(config: &Config) -> Self {
        let http = &config.settings.http;
        let total = match http.max_connections {
            0 => default_total(),
            n => n as usize,
        };
        ConnectionLimits {
            header_read_timeout: http.header_read_timeout,
            idle_timeout: http.idle_timeout,
            per_address: http.max_connections_per_address as usize,
            total,
            exempt: config.trusted_proxies.clone(),
        }
    }
}

/// 90 % of the descriptor limit (the rest for the database, S3 and the log), at least 64.
fn default_total() -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current.unwrap_or(1024);
    ((soft as usize) / 10 * 9).max(64)
}

/// Raises the soft descriptor limit to the hard one: every live-ranking watcher holds a descriptor,
/// and 1024 (the usual soft default) is far below what one node serves.
pub fn raise_descriptor_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %e, "cannot raise the open-files limit to its hard limit");
        }
    }
}

/// Open connections, per address and in all.
struct Tracker {
    per_address: Mutex<HashMap<IpAddr, usize>>,
    stats: Arc<ConnectionStats>,
    freed: Notify,
}

/// One admitted connection; gives its place back when dropped.
struct Slot {
    tracker: Arc<Tracker>,
    ip: Option<IpAddr>,
}

impl Tracker {
    fn admit(self: &Arc<Self>, ip: Option<IpAddr>, limits: &ConnectionLimits) -> Option<Slot> {
        let counted = ip.filter(|ip| limits.per_address > 0 && !limits.exempt.iter().any(|n| n.contains(ip)));
        if let Some(ip) = counted {
            let mut map = self.per_address.lock();
            let n = map.entry(ip).or_default();
            if *n >= limits.per_address {
                self.stats.refused_per_address.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            *n += 1;
        }
        self.stats.open.fetch_add(1, Ordering::Relaxed);
        Some(Slot { tracker: Arc::clone(self), ip: counted })
    }

    fn open(&self) -> usize {
        self.stats.open.load(Ordering::Relaxed)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            let mut map = self.tracker.per_address.lock();
            if let Some(n) = map.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&ip);
                }
            }
        }
        self.tracker.stats.open.fetch_sub(1, Ordering::Relaxed);
        self.tracker.freed.notify_waiters();
    }
}

/// Serves `acceptor` until `stop` resolves, then drains for at most `drain`.
pub async fn serve<E>(
    mut acceptor: AnyAcceptor,
    endpoint: E,
    limits: ConnectionLimits,
    stats: Arc<ConnectionStats>,
    stop: impl Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()>
where
    E: IntoEndpoint,
    E::Endpoint: 'static,
{
    let endpoint: Arc<BoxEndpoint<'static, Response>> = Arc::new(endpoint.into_endpoint().map_to_response().boxed());
    let tracker = Arc::new(Tracker { per_address: Mutex::new(HashMap::new()), stats, freed: Notify::new() });
    let graceful = CancellationToken::new();
    let mut backoff = Backoff::default();
    tokio::pin!(stop);
    'accepting: loop {
        // At the cap, wait for a connection to end (new clients queue in the kernel's backlog).
        while tracker.open() >= limits.total {
            let freed = tracker.freed.notified();
            tokio::select! {
                _ = &mut stop => break 'accepting,
                _ = freed => {}
            }
        }
        tokio::select! {
            _ = &mut stop => break,
            accepted = acceptor.accept() => match accepted {
                Ok((io, local, remote, scheme)) => {
                    backoff.recovered();
                    let ip = remote.as_socket_addr().map(|a| a.ip());
                    let Some(slot) = tracker.admit(ip, &limits) else {
                        continue; // dropping `io` closes it
                    };
                    let conn = Connection { endpoint: Arc::clone(&endpoint), local, remote, scheme };
                    tokio::spawn(conn.serve(io, limits.clone(), slot, graceful.clone()));
                }
                Err(e) => backoff.failed(&e, &tracker.stats).await,
            },
        }
    }
    drop(acceptor);
    graceful.cancel();
    let drained = async {
        while tracker.open() > 0 {
            let freed = tracker.freed.notified();
            if tracker.open() == 0 {
                break;
            }
            freed.await;
        }
    };
    if tokio::time::timeout(drain, drained).await.is_err() {
        tracing::warn!(open = tracker.open(), "drain timeout: closing the connections still open");
    }
    Ok(())
}

/// Back-off for a failing `accept`: the error (descriptors used up) lasts until a connection ends.
#[derive(Default)]
struct Backoff {
    delay: Option<Duration>,
}

impl Backoff {
    async fn failed(&mut self, e: &std::io::Error, stats: &ConnectionStats) {
        stats.accept_errors.fetch_add(1, Ordering::Relaxed);
        let delay = match self.delay {
            None => {
                tracing::warn!(error = %e, "cannot accept connections; backing off until it works again");
                Duration::from_millis(5)
            }
            Some(d) => (d * 2).min(Duration::from_secs(1)),
        };
        self.delay = Some(delay);
        tokio::time::sleep(delay).await;
    }

    fn recovered(&mut self) {
        if self.delay.take().is_some() {
            tracing::info!("accepting connections again");
        }
    }
}

struct Connection {
    endpoint: Arc<BoxEndpoint<'static, Response>>,
    local: poem::web::LocalAddr,
    remote: poem::web::RemoteAddr,
    scheme: http::uri::Scheme,
}

impl Connection {
    async fn serve<Io>(self, io: Io, limits: ConnectionLimits, slot: Slot, graceful: CancellationToken)
    where
        Io: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        // Boxed, as the hyper connection below: a live stream's task keeps no room for either.
        let head = Box::pin(first_request::read(
            io,
            limits.header_read_timeout,
            limits.idle_timeout,
            crate::http::is_live_stream_path,
        ));
        // A stop closes connections still waiting for their first request, as hyper does.
        let first = tokio::select! {
            first = head => first,
            () = graceful.cancelled() => FirstRequest::Gone,
        };
        match first {
            FirstRequest::Stream(parts, io) => {
                let Connection { endpoint, local, remote, scheme } = self;
                let peer = Peer { local, remote, scheme };
                let stats = &slot.tracker.stats;
                stream_response::serve(&endpoint, parts, peer, io, limits.idle_timeout, &graceful, stats).await;
            }
            // Boxed: the hyper connection's future is large, and a live stream's task should not
            // reserve room for it.
            FirstRequest::Other(read, io) => Box::pin(self.serve_with_hyper(read, io, &limits, &slot, graceful)).await,
            FirstRequest::TimedOut => {
                slot.tracker.stats.timed_out.fetch_add(1, Ordering::Relaxed);
            }
            FirstRequest::Gone => {}
        }
        drop(slot);
    }

    /// Serves the connection with hyper; `read` is what `first_request` read from `io` already.
    async fn serve_with_hyper<Io>(
        self,
        read: Vec<u8>,
        io: Io,
        limits: &ConnectionLimits,
        slot: &Slot,
        graceful: CancellationToken,
    ) where
        Io: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let activity = Arc::new(AtomicU64::new(now_ms()));
        let io = TokioIo::new(Activity { inner: io, last: Arc::clone(&activity), replay: read, replayed: 0 });
        let Connection { endpoint, local, remote, scheme } = self;
        let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
            let (endpoint, local, remote, scheme) =
                (Arc::clone(&endpoint), local.clone(), remote.clone(), scheme.clone());
            async move {
                let resp = endpoint.get_response((req, local, remote, scheme).into()).await;
                Ok::<http::Response<_>, Infallible>(resp.into())
            }
        });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        // `writev(false)`: hyper copies each response into its write buffer and sends it in one
        // write, as it did while poem's stream wrapper hid vectored writes; queueing bodies for
        // writev measured no faster on loopback (scripts/bench.sh http, interleaved runs).
        builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).writev(false);
        builder.http2().timer(TokioTimer::new());
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        let idle = limits.idle_timeout;
        let mut stopping = false;
        loop {
            let quiet_for = Duration::from_millis(now_ms().saturating_sub(activity.load(Ordering::Relaxed)));
            let idle_check = tokio::time::sleep(idle.saturating_sub(quiet_for));
            tokio::select! {
                _ = conn.as_mut() => break,
                _ = graceful.cancelled(), if !stopping => {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
                _ = idle_check => {
                    let quiet = now_ms().saturating_sub(activity.load(Ordering::Relaxed));
                    if quiet >= idle.as_millis() as u64 {
                        slot.tracker.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                        break; // dropping the connection closes it
                    }
                }
            }
        }
    }
}

fn now_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_millis() as u64
}

/// The IO hyper reads and writes: first the bytes `first_request` read (`replay`), then the stream;
/// records when it last moved a byte either way.
struct Activity<Io> {
    inner: Io,
    last: Arc<AtomicU64>,
    replay: Vec<u8>,
    replayed: usize,
}

impl<Io> Activity<Io> {
    fn touch(&self) {
        self.last.store(now_ms(), Ordering::Relaxed);
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for Activity<Io> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.replayed < this.replay.len() {
            let n = buf.remaining().min(this.replay.len() - this.replayed);
            buf.put_slice(&this.replay[this.replayed..this.replayed + n]);
            this.replayed += n;
            if this.replayed == this.replay.len() {
                this.replay = Vec::new(); // the memory is not kept for the connection's lifetime
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Activity<Io> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_address: usize, exempt: &[&str]) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            per_address,
            total: 100,
            exempt: exempt.iter().map(|n| n.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn per_address_cap_admits_up_to_the_cap_and_frees_on_drop() {
        let tracker = Arc::new(Tracker { per_address: Mutex::default(), stats: Arc::default(), freed: Notify::new() });
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let l = limits(2, &[]);
        let a = tracker.admit(Some(ip), &l).expect("first");
        let _b = tracker.admit(Some(ip), &l).expect("second");
        assert!(tracker.admit(Some(ip), &l).is_none(), "third from the same address");
        assert!(tracker.admit(Some("192.0.2.8".parse().unwrap()), &l).is_some(), "another address");
        drop(a);
        assert!(tracker.admit(Some(ip), &l).is_some(), "a freed place is given again");
        assert_eq!(tracker.stats.refused_per_address.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn trusted_proxies_are_not_capped() {
        let tracker = Arc::new(Tracker { per_address: Mutex::default(), stats: Arc::default(), freed: Notify::new() });
        let l = limits(1, &["10.0.0.0/8"]);
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let slots: Vec<_> = (0..5).map(|_| tracker.admit(Some(proxy), &l).expect("proxy")).collect();
        assert_eq!(slots.len(), 5);
        assert!(tracker.per_address.lock().is_empty(), "exempt addresses are not counted");
    }
}
