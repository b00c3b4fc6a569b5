//! Per-address rate limits (`[rate_limit]`) for the JSON API and the pages alike: sign-ins, sign-ups,
//! votes and searches, keyed by the client address (IPv6 by its /64, what one subscriber gets).
//! A refused request gets 429 with Retry-After before any work is done: problem+json for the API, an
//! HTML page for pages and forms. The per-account limits live in the domain (`domain::limits`).

use std::net::IpAddr;
use std::sync::Arc;

use poem::http::Method;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use super::client_ip::client_ip;
use crate::config::Config;
use crate::domain::limits::KeyedLimiter;
use crate::error::AppError;

pub struct RateLimits {
    logins: KeyedLimiter<IpAddr>,
    signups: KeyedLimiter<IpAddr>,
    votes: KeyedLimiter<IpAddr>,
    search: KeyedLimiter<IpAddr>,
    trusted_proxies: Vec<ipnet::IpNet>,
}

impl RateLimits {
    pub fn new(config: &Config) -> Self {
        let s = &config.settings.rate_limit;
        Self {
            logins: KeyedLimiter::per_minute(s.logins_per_minute),
            signups: KeyedLimiter::per_hour(s.signups_per_hour),
            votes: KeyedLimiter::per_minute(s.votes_per_minute),
            search: KeyedLimiter::per_minute(s.search_per_minute),
            trusted_proxies: config.trusted_proxies.clone(),
        }
    }

    /// The limit a request counts against, if any.
    fn limiter_for(&self, method: &Method, path: &str) -> Option<&KeyedLimiter<IpAddr>> {
        let path = path.trim_end_matches('/');
        match (method, path) {
            (&Method::POST, "/api/v1/auth/login" | "/login") => Some(&self.logins),
            (&Method::POST, "/api/v1/auth/signup" | "/signup") => Some(&self.signups),
            (&Method::GET, "/api/v1/search" | "/search") => Some(&self.search),
            (&Method::POST | &Method::PUT | &Method::DELETE, p) if p.ends_with("/vote") => Some(&self.votes),
            _ => None,
        }
    }
}

/// The part of an address one client controls: the whole IPv4 address, the /64 of an IPv6 one.
fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::from(octets)
        }
    }
}

pub struct RateLimit(Arc<RateLimits>);

impl RateLimit {
    pub fn new(config: &Config) -> Self {
        Self(Arc::new(RateLimits::new(config)))
    }
}

impl<E: Endpoint> Middleware<E> for RateLimit {
    type Output = RateLimitEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        RateLimitEndpoint { inner: ep, limits: self.0.clone() }
    }
}

pub struct RateLimitEndpoint<E> {
    inner: E,
    limits: Arc<RateLimits>,
}

impl<E: Endpoint> Endpoint for RateLimitEndpoint<E> {
    type Output = Response;
    async fn call(&self, req: Request) -> Result<Response> {
        if let Some(limiter) = self.limits.limiter_for(req.method(), req.uri().path())
            && let Err(e) = limiter.check(&bucket_key(client_ip(&req, &self.limits.trusted_proxies)))
        {
            let err = AppError::from(e);
            // A browser submitting a form gets a page it can show; API clients get problem+json.
            if req.uri().path().starts_with("/api/") {
                return Ok(err.to_problem());
            }
            return Ok(super::pages::rate_limited_page(&err));
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(bucket_key(a), bucket_key(b));
        assert_ne!(bucket_key(a), bucket_key(c));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(bucket_key(v4), v4);
    }
}
