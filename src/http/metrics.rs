//! `GET /metrics`: every metric in the OpenMetrics text format (see `observability`).
//!
//! Who may scrape: a client whose address is in `metrics.allow` (default: loopback), or anyone
//! presenting `Authorization: Bearer <metrics.token>`; everyone else gets 403. The client address is
//! the socket peer, or the X-Forwarded-For client when the peer is in `http.trusted_proxies`. A
//! request that carries forwarding headers but arrives from an untrusted peer matches no network:
//! behind a reverse proxy on the same host every request would otherwise look like loopback.
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
use crate::error::AppError;

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
    let Some(given) = req.header("authorization").and_then(|v| v.strip_prefix("Bearer ")) else { return false };
    bool::from(given.trim().as_bytes().ct_eq(token.as_bytes()))
}

fn forwarded(req: &Request) -> bool {
    ["x-forwarded-for", "forwarded", "x-real-ip"].iter().any(|h| req.headers().contains_key(*h))
}

fn authorize(req: &Request, config: &Config) -> Result<Access, AppError> {
    if bearer_matches(req, &config.settings.metrics.token) {
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
        .catch_all_error(|e| async move { crate::error::problem_from_poem(e) })
        .with(middleware::RequestLog::new(Some(state.obs.metrics.http.clone())))
        .data(state)
}
