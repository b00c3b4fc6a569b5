//! Every listener (plain TCP, TLS) behind one type whose connections keep their own stream's
//! reads and writes, vectored writes included.
//!
//! poem's `BoxAcceptor` wraps each connection in its `BoxIo`, which splits the stream with
//! `tokio::io::split` (an `Arc` and a lock taken on every read and write, plus two boxes per
//! connection) and does not forward `poll_write_vectored`: hyper then copies every response body
//! into its write buffer, and a writer that sends a chunk as three slices makes three syscalls
//! (three TCP segments) instead of one.

use futures_util::future::BoxFuture;
use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite};

/// A connection of any listener: `Box<dyn ...>` forwards every `AsyncWrite` method to the stream.
pub trait Connection: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Connection for T {}

pub type AnyConnection = Box<dyn Connection>;
pub type Accepted = (AnyConnection, LocalAddr, RemoteAddr, Scheme);

/// Any poem [`Acceptor`], its connections boxed once without splitting them.
pub struct AnyAcceptor(Box<dyn AcceptBoxed>);

impl AnyAcceptor {
    pub fn new(acceptor: impl Acceptor + 'static) -> Self {
        AnyAcceptor(Box::new(acceptor))
    }

    pub async fn accept(&mut self) -> std::io::Result<Accepted> {
        self.0.accept_boxed().await
    }
}

trait AcceptBoxed: Send {
    fn accept_boxed(&mut self) -> BoxFuture<'_, std::io::Result<Accepted>>;
}

impl<A: Acceptor> AcceptBoxed for A {
    fn accept_boxed(&mut self) -> BoxFuture<'_, std::io::Result<Accepted>> {
        Box::pin(async move {
            let (io, local, remote, scheme) = self.accept().await?;
            Ok((Box::new(io) as AnyConnection, local, remote, scheme))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::listener::Listener;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn accepted_connections_keep_vectored_writes() {
        let tcp = poem::listener::TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
        let addr = *tcp.local_addr()[0].as_socket_addr().unwrap();
        let mut acceptor = AnyAcceptor::new(tcp);
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut server, _, remote, scheme) = acceptor.accept().await.unwrap();
        assert_eq!(scheme, Scheme::HTTP);
        assert_eq!(*remote.as_socket_addr().unwrap(), client.local_addr().unwrap());
        assert!(server.is_write_vectored(), "boxing lost writev");
        let slices = [std::io::IoSlice::new(b"ab"), std::io::IoSlice::new(b"cd")];
        assert_eq!(server.write_vectored(&slices).await.unwrap(), 4, "both slices in one write");
        let mut got = [0u8; 4];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"abcd");
    }
}
