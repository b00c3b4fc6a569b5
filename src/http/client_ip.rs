//! The client's address: the socket peer, or X-Forwarded-For's last untrusted hop when the peer is a
//! trusted proxy (http.trusted_proxies).

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use poem::Request;

pub fn client_ip(req: &Request, trusted: &[IpNet]) -> IpAddr {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip()).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if trusted.is_empty() || !trusted.iter().any(|n| n.contains(&peer)) {
        return peer;
    }
    let Some(xff) = req.header("x-forwarded-for") else { return peer };
    // Walk right to left: the first address that is not a trusted proxy is the client.
    xff.rsplit(',')
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted.iter().any(|n| n.contains(ip)))
        .unwrap_or(peer)
}
