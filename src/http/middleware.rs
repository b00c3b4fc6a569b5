//! Middleware: security headers, body size limit, one log line per request with a request id.

use std::sync::Arc;
use std::time::Instant;

use poem::PathPattern;
use poem::http::{HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tracing::Instrument;

use crate::observability::metrics::HttpMetrics;

/// Content-Security-Policy of every response: no inline script or style at all.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

pub struct SecurityHeaders {
    hsts: Option<HeaderValue>,
}

impl SecurityHeaders {
    /// `hsts`: the Strict-Transport-Security value, only when serving HTTPS.
    pub fn new(hsts: Option<String>) -> Self {
        Self { hsts: hsts.and_then(|v| HeaderValue::from_str(&v).ok()) }
    }
}

/// `max-age=N; includeSubDomains[; preload]` from the `[http]` settings.
pub fn hsts_value(max_age_secs: u64, preload: bool) -> String {
    let mut v = format!("max-age={max_age_secs}; includeSubDomains");
    if preload {
        v.push_str("; preload");
    }
    v
}

impl<E: Endpoint> Middleware<E> for SecurityHeaders {
    type Output = SecurityHeadersEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        SecurityHeadersEndpoint { inner: ep, hsts: self.hsts.clone() }
    }
}

pub struct SecurityHeadersEndpoint<E> {
    inner: E,
    hsts: Option<HeaderValue>,
}

impl<E: Endpoint> Endpoint for SecurityHeadersEndpoint<E> {
    type Output = Response;
    async fn call(&self, req: Request) -> Result<Response> {
        let mut resp = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => crate::http::error::problem_from_poem(e),
        };
        let h = resp.headers_mut();
        h.insert("content-security-policy", HeaderValue::from_static(CSP));
        h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
        h.insert("referrer-policy", HeaderValue::from_static("strict-origin-when-cross-origin"));
        h.insert(
            "permissions-policy",
            HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
        );
        h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
        h.insert("x-frame-options", HeaderValue::from_static("DENY"));
        if let Some(hsts) = &self.hsts {
            h.insert("strict-transport-security", hsts.clone());
        }
        Ok(resp)
    }
}

/// `Cache-Control: private, no-store` on every per-user response: any request that carries a session
/// cookie (a signed-in page may show the user's name, votes or form token) and every account, admin
/// and `/api/v1/me` path whoever asks. Assets keep their own (long, immutable) caching: they are the
/// same for everyone.
pub struct PrivateNoStore;

impl<E: Endpoint> Middleware<E> for PrivateNoStore {
    type Output = PrivateNoStoreEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        PrivateNoStoreEndpoint { inner: ep }
    }
}

pub struct PrivateNoStoreEndpoint<E> {
    inner: E,
}

fn per_user(req: &Request) -> bool {
    let path = req.uri().path();
    if path.starts_with("/assets/") || path.starts_with("/media/") || path == "/favicon.ico" {
        return false;
    }
    let private_path = ["/account", "/admin", "/reset", "/api/v1/me", "/api/v1/admin", "/api/v1/auth"]
        .iter()
        .any(|p| path == *p || path.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')));
    private_path
        || [true, false]
            .into_iter()
            .any(|https| super::auth::cookie(req, super::auth::session_cookie_name(https)).is_some())
}

impl<E: Endpoint> Endpoint for PrivateNoStoreEndpoint<E> {
    type Output = Response;
    async fn call(&self, req: Request) -> Result<Response> {
        let private = per_user(&req);
        let mut resp = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => crate::http::error::problem_from_poem(e),
        };
        if private {
            resp.headers_mut().insert("cache-control", HeaderValue::from_static("private, no-store"));
        }
        Ok(resp)
    }
}

/// Adds the `Allow` header RFC 9110 requires on 405 responses, for the API paths of the published
/// spec (the router answers 405 but does not say which methods exist).
pub struct AllowHeader(Arc<Vec<(Vec<String>, HeaderValue)>>);

impl AllowHeader {
    /// From the served OpenAPI document: each path template and its methods.
    pub fn from_spec(spec: &serde_json::Value) -> Self {
        let mut routes = Vec::new();
        for (path, ops) in spec["paths"].as_object().into_iter().flatten() {
            let mut methods: Vec<String> =
                ops.as_object().into_iter().flatten().map(|(m, _)| m.to_ascii_uppercase()).collect();
            methods.sort();
            if let Ok(v) = HeaderValue::from_str(&methods.join(", ")) {
                routes.push((path.split('/').map(str::to_owned).collect(), v));
            }
        }
        Self(Arc::new(routes))
    }
}

fn template_matches(template: &[String], path: &str) -> bool {
    let segs: Vec<&str> = path.split('/').collect();
    segs.len() == template.len()
        && template.iter().zip(&segs).all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty()))
}

impl<E: Endpoint> Middleware<E> for AllowHeader {
    type Output = AllowHeaderEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        AllowHeaderEndpoint { inner: ep, routes: self.0.clone() }
    }
}
pub struct AllowHeaderEndpoint<E> {
    inner: E,
    routes: Arc<Vec<(Vec<String>, HeaderValue)>>,
}
impl<E: Endpoint> Endpoint for AllowHeaderEndpoint<E> {
    type Output = Response;
    async fn call(&self, req: Request) -> Result<Response> {
        let path = req.uri().path().to_owned();
        let mut resp = self.inner.call(req).await?.into_response();
        if resp.status() == StatusCode::METHOD_NOT_ALLOWED
            && let Some((_, allow)) = self.routes.iter().find(|(t, _)| template_matches(t, &path))
        {
            resp.headers_mut().insert("allow", allow.clone());
        }
        Ok(resp)
    }
}

/// Refuses bodies larger than the limit with 413 before they are read. The unread rest of the body
/// leaves the connection unusable, so the server closes it after the answer; the answer says so
/// (`Connection: close`, which HTTP/2 strips) rather than leaving the client to find a reset.
pub struct BodyLimit(usize);
impl BodyLimit {
    pub fn new(max: usize) -> Self {
        Self(max)
    }
}
impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        BodyLimitEndpoint { inner: ep, max: self.0 }
    }
}
pub struct BodyLimitEndpoint<E> {
    inner: E,
    max: usize,
}
impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = Response;
    async fn call(&self, mut req: Request) -> Result<Response> {
        let max = if is_upload(req.uri().path()) { self.max.max(UPLOAD_BODY_BYTES) } else { self.max };
        let declared = req.header("content-length").and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > max) {
            return Ok(too_large());
        }
        if declared.is_none() {
            // Chunked HTTP/1.1, or HTTP/2 (which frames bodies without either header): read at most
            // `max` bytes and refuse if more arrive.
            let body = req.take_body();
            let bytes = match body.into_bytes_limit(max).await {
                Ok(b) => b,
                Err(_) => return Ok(too_large()),
            };
            req.set_body(bytes);
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

/// The body limit of a picture upload: the largest picture plus room for the form around it, so a
/// picture a little too large reaches the page that says why (`domain::MAX_UPLOAD_BYTES`).
const UPLOAD_BODY_BYTES: usize = crate::domain::MAX_UPLOAD_BYTES + (1 << 20);

/// `/admin/artists/<id>/picture`, the one route that takes a file.
fn is_upload(path: &str) -> bool {
    path.strip_prefix("/admin/artists/")
        .and_then(|rest| rest.strip_suffix("/picture"))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

fn too_large() -> Response {
    let mut resp = crate::http::error::AppError::PayloadTooLarge.to_problem();
    resp.headers_mut().insert("connection", HeaderValue::from_static("close"));
    resp
}

/// Tags the response with the route pattern the router matched (poem's `PathPattern`, e.g.
/// `/api/v1/shows/:id/songs/:song_id/vote`). Errors are turned into problem responses here, inside
/// `catch_all_error`, because that conversion would drop the pattern.
pub struct RouteCapture;
impl<E: Endpoint> Middleware<E> for RouteCapture {
    type Output = RouteCaptureEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        RouteCaptureEndpoint { inner: ep }
    }
}
pub struct RouteCaptureEndpoint<E> {
    inner: E,
}
impl<E: Endpoint> Endpoint for RouteCaptureEndpoint<E> {
    type Output = Response;
    async fn call(&self, req: Request) -> Result<Response> {
        let browser = wants_html(&req);
        match self.inner.call(req).await {
            Ok(r) => Ok(r.into_response()),
            Err(e) => {
                // No route matched (a nest matched its prefix only): no pattern, the path is arbitrary.
                let unmatched = e.is::<poem::error::NotFoundError>();
                let status = e.status();
                if browser && (unmatched || status == StatusCode::METHOD_NOT_ALLOWED) {
                    return Ok(crate::http::pages::unrouted_page(status));
                }
                let pattern = e.data::<PathPattern>().filter(|_| !unmatched).cloned();
                let mut resp = crate::http::error::problem_from_poem(e);
                if let Some(p) = pattern {
                    resp.set_data(p);
                }
                Ok(resp)
            }
        }
    }
}

/// A browser asking for a page: it accepts HTML and the path is not the JSON API's. `curl` (`*/*`),
/// `fetch` with `accept: application/json` and every `/api/` path get problem+json.
fn wants_html(req: &Request) -> bool {
    let path = req.uri().path();
    let accept = req.header("accept").unwrap_or_default();
    !path.starts_with("/api/") && path != "/openapi.json" && accept.contains("text/html")
}

/// One structured line per request: id (accepted from or returned as `x-request-id`), method, route
/// template, status, latency. No query strings, cookies, headers or client addresses are logged.
/// The same measurement feeds the HTTP metrics (requests, latency, in flight).
pub struct RequestLog {
    metrics: Option<HttpMetrics>,
}
impl RequestLog {
    pub fn new(metrics: Option<HttpMetrics>) -> Self {
        Self { metrics }
    }
}
impl<E: Endpoint> Middleware<E> for RequestLog {
    type Output = RequestLogEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        // On a terminal (someone ran `serve` by hand) ordinary requests log at debug level, so the
        // "Open http://..." line stays on screen; services and containers (not a terminal) log them.
        let quiet = std::io::IsTerminal::is_terminal(&std::io::stderr());
        RequestLogEndpoint { inner: ep, metrics: self.metrics.clone(), quiet }
    }
}
pub struct RequestLogEndpoint<E> {
    inner: E,
    metrics: Option<HttpMetrics>,
    quiet: bool,
}
impl<E: Endpoint> Endpoint for RequestLogEndpoint<E> {
    type Output = Response;
    async fn call(&self, req: Request) -> Result<Response> {
        let started = Instant::now();
        let _in_flight = self.metrics.as_ref().map(HttpMetrics::start);
        let id = req
            .header("x-request-id")
            .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{:016x}", rand::random::<u64>()));
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        // Exported over OTLP when `telemetry.otlp_endpoint` is set; never in the logs.
        let span = if crate::telemetry::traces_enabled() {
            tracing::info_span!(
                target: crate::telemetry::TRACE_TARGET,
                "request",
                otel.kind = "server",
                otel.status_code = tracing::field::Empty,
                http.request.method = %method,
                http.route = tracing::field::Empty,
                http.response.status_code = tracing::field::Empty,
            )
        } else {
            tracing::Span::none()
        };
        let mut resp = match self.inner.call(req).instrument(span.clone()).await {
            Ok(r) => r.into_response(),
            Err(e) => crate::http::error::problem_from_poem(e),
        };
        let status = resp.status();
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-request-id", v);
        }
        let elapsed = started.elapsed();
        let matched = resp.data::<PathPattern>().map(|p| p.0.to_string());
        if let Some(m) = &self.metrics {
            // Unmatched paths are arbitrary strings: one label value for all of them.
            m.record(matched.as_deref().unwrap_or("unmatched"), method.as_str(), status.as_u16(), elapsed);
        }
        let route = matched.unwrap_or_else(|| route_template(&path));
        if !span.is_none() {
            crate::telemetry::name_span(&span, format!("{method} {route}"));
            span.record("http.route", route.as_str());
            span.record("http.response.status_code", status.as_u16());
            if status.is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
        }
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        if status.is_server_error() {
            tracing::error!(request_id = %id, %method, route, status = status.as_u16(), latency_ms, "request");
        } else if self.quiet
            || status == StatusCode::NOT_FOUND
            || path == "/livez"
            || path == "/readyz"
            || path == "/metrics"
        {
            tracing::debug!(request_id = %id, %method, route, status = status.as_u16(), latency_ms, "request");
        } else {
            tracing::info!(request_id = %id, %method, route, status = status.as_u16(), latency_ms, "request");
        }
        Ok(resp)
    }
}

/// Collapses ids and slugs so routes group in logs and metrics: /shows/abc-2026/vote -> /shows/:slug/vote.
pub fn route_template(path: &str) -> String {
    let mut out = String::new();
    let mut prev = "";
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        let dynamic =
            matches!(prev, "shows" | "artists" | "venues" | "songs" | "users" | "assets" | "reports" | "setlist")
                || seg.chars().all(|c| c.is_ascii_digit())
                || looks_like_token(seg);
        if dynamic {
            out.push_str(":id");
        } else {
            out.push_str(seg);
        }
        prev = seg;
    }
    if out.is_empty() { "/".into() } else { out }
}

/// Long segments mixing letters and digits (reset links, ids from elsewhere) are never logged as is.
fn looks_like_token(seg: &str) -> bool {
    seg.len() >= 16 && seg.chars().any(|c| c.is_ascii_digit()) && seg.chars().any(|c| c.is_ascii_alphabetic())
}

/// On a following node: `x-mysetlist-txid` (hex, the TXID its copy holds) and
/// `x-mysetlist-lag-ms` on every response, and, while the lag passes `failover.stale_after`, a
/// notice on HTML pages that results may be a few seconds behind.
pub struct FollowerFreshness(pub Arc<super::AppState>);

impl<E: Endpoint> Middleware<E> for FollowerFreshness {
    type Output = FollowerFreshnessEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        FollowerFreshnessEndpoint { inner: ep, state: self.0.clone() }
    }
}

pub struct FollowerFreshnessEndpoint<E> {
    inner: E,
    state: Arc<super::AppState>,
}

/// Inserted right after `<body …>`.
const STALE_NOTICE: &str =
    r#"<p class="stale-notice" role="status">This server is catching up: results may be a few seconds behind.</p>"#;

impl<E: Endpoint> Endpoint for FollowerFreshnessEndpoint<E> {
    type Output = Response;
    async fn call(&self, req: Request) -> Result<Response> {
        let mut resp = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => crate::http::error::problem_from_poem(e),
        };
        let source = self.state.freshness.read().clone();
        let Some(f) = source.and_then(|s| s()) else { return Ok(resp) };
        let h = resp.headers_mut();
        h.insert("x-mysetlist-txid", HeaderValue::from_str(&f.txid.to_string()).expect("hex is a header value"));
        h.insert("x-mysetlist-lag-ms", HeaderValue::from(f.lag.as_millis().min(u64::MAX as u128) as u64));
        let html = resp.content_type().is_some_and(|c| c.starts_with("text/html"));
        if !(f.stale && html) {
            return Ok(resp);
        }
        let (parts, body) = resp.into_parts();
        let bytes = body.into_bytes().await.unwrap_or_default();
        let page = String::from_utf8_lossy(&bytes);
        let page = match page.find("<body").and_then(|b| page[b..].find('>').map(|e| b + e + 1)) {
            Some(at) => format!("{}{STALE_NOTICE}{}", &page[..at], &page[at..]),
            None => page.into_owned(),
        };
        let mut parts = parts;
        parts.headers.remove(poem::http::header::CONTENT_LENGTH);
        Ok(Response::from_parts(parts, poem::Body::from_string(page)))
    }
}

#[cfg(test)]
mod tests {
    use super::route_template;

    #[test]
    fn templates() {
        assert_eq!(route_template("/"), "/");
        assert_eq!(route_template("/shows/some-slug"), "/shows/:id");
        assert_eq!(route_template("/api/v1/shows/12/songs/7/vote"), "/api/v1/shows/:id/songs/:id/vote");
        assert_eq!(route_template("/reset/k3JH8dk2lQp0aZx9Wq"), "/reset/:id");
        assert_eq!(route_template("/api/v1/auth/login"), "/api/v1/auth/login");
    }
}
