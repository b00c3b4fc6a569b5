//! A poem listener that terminates TLS with our own `rustls::ServerConfig` (so the SNI
//! resolver and its hot swap apply). poem's `RustlsConfig` builds its own resolver from
//! fixed certificates, so it cannot serve ours.
//!
//! The handshake runs lazily inside the connection's own task (on first read or write),
//! never in the accept loop: a slow or failing client cannot stall or stop accepting.
//! HTTP/1.1 and HTTP/2 are both served; poem's server detects which one the client speaks.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_util::future::BoxFuture;
use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::server::TlsStream;

use super::server_config::ACME_TLS_ALPN;

/// A handshake that takes longer than this is dropped (slowloris on the handshake).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Wraps a poem [`Acceptor`] with TLS; the socket is bound early
/// (`TcpListener::bind(addr).into_acceptor().await?`) to learn the port before serving.
pub struct TlsAcceptor<A> {
    inner: A,
    tls: tokio_rustls::TlsAcceptor,
}

impl<A> TlsAcceptor<A> {
    pub fn new(inner: A, config: Arc<ServerConfig>) -> Self {
        Self { inner, tls: tokio_rustls::TlsAcceptor::from(config) }
    }
}

impl<A: Acceptor> Acceptor for TlsAcceptor<A> {
    type Io = TlsHandshakeStream<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, _) = self.inner.accept().await?;
        let handshake = self.tls.accept(io);
        let stream = TlsHandshakeStream::new(async move {
            let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
            if stream.get_ref().1.alpn_protocol() == Some(ACME_TLS_ALPN) {
                // A TLS-ALPN-01 validation: the CA only looks at the certificate.
                return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "acme-tls/1 validation handshake done"));
            }
            Ok(stream)
        });
        Ok((stream, local, remote, Scheme::HTTPS))
    }
}

enum State<IO> {
    Handshaking(BoxFuture<'static, io::Result<TlsStream<IO>>>),
    Ready(Box<TlsStream<IO>>),
    Failed,
}

/// A TLS stream whose handshake completes on first use.
pub struct TlsHandshakeStream<IO> {
    state: State<IO>,
}

impl<IO> TlsHandshakeStream<IO> {
    fn new(handshake: impl Future<Output = io::Result<TlsStream<IO>>> + Send + 'static) -> Self {
        Self { state: State::Handshaking(Box::pin(handshake)) }
    }

    fn poll_stream(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&mut TlsStream<IO>>> {
        if let State::Handshaking(handshake) = &mut self.state {
            match ready!(handshake.as_mut().poll(cx)) {
                Ok(stream) => self.state = State::Ready(Box::new(stream)),
                Err(err) => {
                    self.state = State::Failed;
                    tracing::debug!(error = %err, "TLS handshake failed");
                    return Poll::Ready(Err(err));
                }
            }
        }
        match &mut self.state {
            State::Ready(stream) => Poll::Ready(Ok(stream)),
            _ => Poll::Ready(Err(io::Error::new(io::ErrorKind::NotConnected, "TLS handshake failed earlier"))),
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsHandshakeStream<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_read(cx, buf)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsHandshakeStream<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_shutdown(cx)
    }
}
