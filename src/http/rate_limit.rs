//! Per-address rate limits (`[rate_limit]`) for the JSON API and the pages alike: sign-ins, sign-ups,
//! votes and searches, keyed by the client address (IPv6 by its /64, what one subscriber gets).
//! A refused request gets 429 with Retry-After before any work is done: problem+json for the API, an
//! HTML page for pages and forms. The per-account limits live in the domain (`domain::limits`).
//!
//! Every refusal counts in `mysetlist_rate_limit_rejections_total{limit}`: the per-address limits as
//! `login`, `signup`, `votes`, `search` and `password_reset`; a 429 from the domain behind one of
//! those routes (the per-account sign-in limit, the per-voter vote limit and the anonymous-vote
//! caps, the per-email-address "Forgot password?" limit) as `login_account`, `votes_voter` and
//! `password_reset_address`.

use std::net::IpAddr;
use std::sync::Arc;

use poem::http::{Method, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use super::client_ip::client_ip;
use crate::config::Config;
use crate::domain::limits::{KeyedLimiter, network_key as bucket_key};
use crate::http::error::AppError;
use crate::observability::metrics::RateLimitMetrics;

pub struct RateLimits {
    logins: KeyedLimiter<IpAddr>,
    signups: KeyedLimiter<IpAddr>,
    votes: KeyedLimiter<IpAddr>,
    search: KeyedLimiter<IpAddr>,
    password_resets: KeyedLimiter<IpAddr>,
    trusted_proxies: Vec<ipnet::IpNet>,
    metrics: RateLimitMetrics,
}

/// A limited kind of request: its per-address limit's name on /metrics, and the name for a 429 the
/// handler behind it answers (a per-account limit in the domain).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Limited {
    Login,
    Signup,
    Votes,
    Search,
    PasswordReset,
}

impl Limited {
    fn name(self) -> &'static str {
        match self {
            Limited::Login => "login",
            Limited::Signup => "signup",
            Limited::Votes => "votes",
            Limited::Search => "search",
            Limited::PasswordReset => "password_reset",
        }
    }

    fn downstream_name(self) -> &'static str {
        match self {
            Limited::Login => "login_account",
            Limited::Votes => "votes_voter",
            Limited::Signup => "signup",
            Limited::Search => "search",
            Limited::PasswordReset => "password_reset_address",
        }
    }
}

impl RateLimits {
    pub fn new(config: &Config, metrics: RateLimitMetrics) -> Self {
        let s = &config.settings.rate_limit;
        Self {
            logins: KeyedLimiter::per_minute(s.logins_per_minute),
            signups: KeyedLimiter::per_hour(s.signups_per_hour),
            votes: KeyedLimiter::per_minute(s.votes_per_minute),
            search: KeyedLimiter::per_minute(s.search_per_minute),
            password_resets: KeyedLimiter::per_hour(s.password_resets_per_hour),
            trusted_proxies: config.trusted_proxies.clone(),
            metrics,
        }
    }

    /// The kind of limited request, if it is one.
    fn classify(method: &Method, path: &str) -> Option<Limited> {
        let path = path.trim_end_matches('/');
        match (method, path) {
            // Every request that verifies a password shares the sign-in limit: sign-in, erasure, and
            // profile and password changes.
            (
                &Method::POST,
                "/api/v1/auth/login" | "/login" | "/api/v1/me/delete" | "/account/delete" | "/account/profile"
                | "/account/password",
            ) => Some(Limited::Login),
            (&Method::POST, "/api/v1/auth/signup" | "/signup") => Some(Limited::Signup),
            (&Method::POST, "/forgot") => Some(Limited::PasswordReset),
            // HEAD reaches the same handler as GET (poem answers it with GET's handler, body dropped).
            (&Method::GET | &Method::HEAD, "/api/v1/search" | "/search") => Some(Limited::Search),
            (&Method::POST | &Method::PUT | &Method::DELETE, p) if p.ends_with("/vote") => Some(Limited::Votes),
            _ => None,
        }
    }

    fn limiter(&self, kind: Limited) -> &KeyedLimiter<IpAddr> {
        match kind {
            Limited::Login => &self.logins,
            Limited::Signup => &self.signups,
            Limited::Votes => &self.votes,
            Limited::Search => &self.search,
            Limited::PasswordReset => &self.password_resets,
        }
    }
}

pub struct RateLimit(Arc<RateLimits>);

impl RateLimit {
    pub fn new(config: &Config, metrics: RateLimitMetrics) -> Self {
        Self(Arc::new(RateLimits::new(config, metrics)))
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
        let kind = RateLimits::classify(req.method(), req.uri().path());
        if let Some(kind) = kind
            && let Err(e) = self.limits.limiter(kind).check(&bucket_key(client_ip(&req, &self.limits.trusted_proxies)))
        {
            self.limits.metrics.rejected(kind.name());
            let err = AppError::from(e);
            // A browser submitting a form gets a page it can show; API clients get problem+json.
            if req.uri().path().starts_with("/api/") {
                return Ok(err.to_problem());
            }
            return Ok(super::pages::rate_limited_page(&err));
        }
        let resp = self.inner.call(req).await.map(IntoResponse::into_response)?;
        if let Some(kind) = kind
            && resp.status() == StatusCode::TOO_MANY_REQUESTS
        {
            self.limits.metrics.rejected(kind.downstream_name());
        }
        Ok(resp)
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
