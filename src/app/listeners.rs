//! Binding a listener: done at build time, so a port in use is reported at start with the name of
//! the setting that chose it, and tests can bind port 0 and read the address back.

use std::net::SocketAddr;

use anyhow::Context;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};

pub struct Bound {
    pub acceptor: TcpAcceptor,
    pub addr: SocketAddr,
}

/// Binds `addr` now; errors name `setting`, the configuration key the address came from.
pub async fn bind(addr: SocketAddr, setting: &str) -> anyhow::Result<Bound> {
    let acceptor = TcpListener::bind(addr.to_string())
        .into_acceptor()
        .await
        .with_context(|| format!("cannot listen on {addr} (setting `{setting}`)"))?;
    let addr =
        acceptor.local_addr().first().and_then(|a| a.as_socket_addr().copied()).context("listener has no address")?;
    Ok(Bound { acceptor, addr })
}
