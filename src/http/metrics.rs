//! `GET /metrics`: every metric in the OpenMetrics text format (see `observability`).
//!
//! Who may scrape: a client whose address is in `metrics.allow` (default: loopback), or anyone
//! presenting `Authorization: Bearer <metrics.token>`; everyone else gets 403. The client address is
//! the socket peer, or the X-Forwarded-For client when the peer is in `http.trusted_proxies`. A
//! request that carries forwarding headers but arrives from an untrusted peer matches no network:
//! behind a reverse proxy on the same host every request would otherwise look like loopback.
//!
//! Access by address also needs a `Host` that names this server: an IP literal, `localhost`, one of
//! `domain`, or the host of `public_url`. A page on another site that re-points its own name at
//! 127.0.0.1 (DNS rebinding) reaches the loopback address, but its requests carry that site's name
//! as Host, and get 403. (A rebinding page cannot produce an IP literal as Host: it only ever uses
//! its own name.) The bearer token works whatever the Host.
//!
//! With `metrics.listen` set, /metrics is served only on that listener (same rules), and the main
//! listener answers 404 for it.

use std::net::IpAddr;
use std::sync::Arc;

use poem::web::Data;
use poem::{Endpoint, EndpointExt, Request, Response, Route, get, handler};
use subtle::ConstantTimeEq;

use super::client_ip::client_ip;
use super::middleware;
use super::state::AppState;
use crate::config::Config;
use crate::http::error::AppError;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, PartialEq, Eq)]
enum Access {
    Token,
    Network(IpAddr),
}

fn bearer_matches(req: &Request, token: &str) -> bool {
    if token.is_empty() {
        return false;
    }
    // The scheme is case-insensitive (RFC 9110, 11.1): `bearer` and `BEARER` are `Bearer`.
    let Some((scheme, given)) = req.header("authorization").and_then(|v| v.trim_start().split_once(' ')) else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && bool::from(given.trim().as_bytes().ct_eq(token.as_bytes()))
}

/// The request's Host (or HTTP/2 authority) names this server: see the module comment.
fn host_is_ours(req: &Request, config: &Config) -> bool {
    let Some(host) = req.header("host").or_else(|| req.uri().authority().map(|a| a.as_str())) else {
        // HTTP/1.0 without Host: not a browser of today.
        return true;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => return v6.split_once(']').is_some_and(|(ip, _)| ip.parse::<std::net::Ipv6Addr>().is_ok()),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    if name.parse::<std::net::Ipv4Addr>().is_ok() || name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let public_host = url::Url::parse(&config.settings.public_url).ok().and_then(|u| u.host_str().map(str::to_owned));
    config.settings.domain.iter().chain(public_host.as_ref()).any(|d| d.eq_ignore_ascii_case(name))
}

fn forwarded(req: &Request) -> bool {
    ["x-forwarded-for", "forwarded", "x-real-ip"].iter().any(|h| req.headers().contains_key(*h))
}

fn authorize(req: &Request, config: &Config) -> Result<Access, AppError> {
    if bearer_matches(req, config.settings.metrics.token.expose()) {
        return Ok(Access::Token);
    }
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let peer_trusted = peer.is_some_and(|p| config.trusted_proxies.iter().any(|n| n.contains(&p)));
    if peer.is_some() && (peer_trusted || !forwarded(req)) {
        let ip = client_ip(req, &config.trusted_proxies);
        // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if config.metrics_allow.iter().any(|n| n.contains(&ip)) {
            if !host_is_ours(req, config) {
                return Err(AppError::Forbidden(
                    "the Host header does not name this server (domain, public_url, an address or localhost)".into(),
                ));
            }
            return Ok(Access::Network(ip));
        }
    }
    Err(AppError::Forbidden(
        "metrics are served to the networks in metrics.allow or with the bearer token metrics.token".into(),
    ))
}

#[handler]
pub async fn metrics(req: &Request, Data(state): Data<&Arc<AppState>>) -> Result<Response, AppError> {
    authorize(req, &state.config)?;
    let body = state.obs.render_metrics().await;
    Ok(Response::builder().content_type(CONTENT_TYPE).header("cache-control", "no-store").body(body))
}

/// The endpoint served on `metrics.listen`: /metrics only, with the request log and metrics.
pub fn metrics_app(state: Arc<AppState>) -> impl Endpoint + 'static {
    Route::new()
        .at("/metrics", get(metrics))
        .with(middleware::RouteCapture)
        .catch_all_error(|e| async move { crate::http::error::problem_from_poem(e) })
        .with(middleware::RequestLog::new(Some(state.obs.metrics.http.clone())))
        .data(state)
}
