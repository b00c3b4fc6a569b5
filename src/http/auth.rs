//! Who is asking: session, device and CSRF cookies, client address. Also the CSRF checks.
//!
//! CSRF: signed-in forms carry the session's token; signed-out forms (sign in, sign up, anonymous
//! votes) carry a double-submit token equal to a random `csrf` cookie. JSON writes are checked by
//! Origin / Sec-Fetch-Site instead (see `check_same_origin`). All cookies are HttpOnly, SameSite=Lax,
//! and on HTTPS Secure with the `__Host-` prefix.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use poem::http::HeaderValue;
use poem::{FromRequest, Request, RequestBody, Response};
use subtle::ConstantTimeEq;

use super::client_ip::client_ip;
use super::state::AppState;
use crate::domain::{CurrentUser, DomainError, Session, Voter};
use crate::http::error::{ApiResult, AppError};

pub fn session_cookie_name(https: bool) -> &'static str {
    if https { "__Host-session" } else { "session" }
}
fn csrf_cookie_name(https: bool) -> &'static str {
    if https { "__Host-csrf" } else { "csrf" }
}
fn device_cookie_name(https: bool) -> &'static str {
    if https { "__Host-device" } else { "device" }
}

pub struct Visitor {
    pub session: Option<Session>,
    pub session_token: Option<String>,
    pub ip: IpAddr,
    device: Option<String>,
    csrf_cookie: Option<String>,
    /// Cookies to set on the response (new CSRF or device cookie).
    new_cookies: Vec<String>,
    https: bool,
}

fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
}

pub fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers().get_all("cookie").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

pub fn cookie_header(https: bool, name: &str, value: &str, max_age_secs: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if https {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age_secs {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

impl<'a> FromRequest<'a> for Visitor {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Visitor::of(req).await?)
    }
}

impl Visitor {
    /// Who sent `req`: the session its cookie names (looked up), its address and its cookies.
    async fn of(req: &Request) -> ApiResult<Self> {
        let state = req.data::<Arc<AppState>>().expect("AppState is attached to every route");
        let https = state.https;
        let session_token = cookie(req, session_cookie_name(https));
        let session = match &session_token {
            Some(t) => state.domain.session(t).await?,
            None => None,
        };
        Ok(Visitor {
            session,
            session_token,
            ip: client_ip(req, &state.config.trusted_proxies),
            device: cookie(req, device_cookie_name(https)).filter(|d| d.len() <= 64),
            csrf_cookie: cookie(req, csrf_cookie_name(https)).filter(|d| d.len() <= 64),
            new_cookies: Vec::new(),
            https,
        })
    }

    pub fn user(&self) -> Option<&CurrentUser> {
        self.session.as_ref().map(|s| &s.user)
    }

    pub fn require_user(&self) -> Result<&CurrentUser, AppError> {
        self.user().ok_or(AppError::Domain(DomainError::Unauthorized))
    }

    /// The token to embed in forms; creates the signed-out CSRF cookie on first use.
    pub fn csrf_token(&mut self) -> String {
        if let Some(s) = &self.session {
            return s.csrf_token.clone();
        }
        if let Some(c) = &self.csrf_cookie {
            return c.clone();
        }
        let t = random_token();
        self.new_cookies.push(cookie_header(self.https, csrf_cookie_name(self.https), &t, None));
        self.csrf_cookie = Some(t.clone());
        t
    }

    /// Checks a submitted form token against the session's or the cookie's, in constant time.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), AppError> {
        let expected = match (&self.session, &self.csrf_cookie) {
            (Some(s), _) => s.csrf_token.as_str(),
            (None, Some(c)) => c.as_str(),
            (None, None) => return Err(AppError::Forbidden("missing CSRF token; reload the page".into())),
        };
        if !submitted.is_empty() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes())) {
            Ok(())
        } else {
            Err(AppError::Forbidden("invalid CSRF token; reload the page".into()))
        }
    }

    /// The voter for this request: the signed-in user, else an anonymous device (cookie created on demand).
    pub fn voter(&mut self) -> Voter {
        if let Some(u) = self.user() {
            return Voter::User(u.clone());
        }
        let device = match &self.device {
            Some(d) => d.clone(),
            None => {
                let d = random_token();
                self.new_cookies.push(cookie_header(
                    self.https,
                    device_cookie_name(self.https),
                    &d,
                    Some(400 * 86_400),
                ));
                self.device = Some(d.clone());
                d
            }
        };
        Voter::Anonymous { device_token: device, ip: self.ip }
    }

    /// The voter without creating cookies (for rendering "my votes").
    pub fn existing_voter(&self) -> Option<Voter> {
        if let Some(u) = self.user() {
            return Some(Voter::User(u.clone()));
        }
        self.device.as_ref().map(|d| Voter::Anonymous { device_token: d.clone(), ip: self.ip })
    }

    pub fn set_cookie(&mut self, header: String) {
        self.new_cookies.push(header);
    }

    pub fn pending_cookies(&self) -> &[String] {
        &self.new_cookies
    }

    /// Attaches pending Set-Cookie headers to a response.
    pub fn finish(&self, mut resp: Response) -> Response {
        for c in &self.new_cookies {
            if let Ok(v) = HeaderValue::from_str(c) {
                resp.headers_mut().append("set-cookie", v);
            }
        }
        resp
    }
}

/// Extractor: the request passed [`check_same_origin`]. For JSON writes that need no account.
pub struct SameOrigin;

impl<'a> FromRequest<'a> for SameOrigin {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        check_same_origin(req)?;
        Ok(SameOrigin)
    }
}

/// Extractor: a signed-in user on a same-origin request, what every cookie-authenticated JSON write
/// needs. Refuses in the order the handlers always did: a session that cannot be looked up, then a
/// cross-site request (403), then no session (401).
pub struct SameOriginUser {
    user: CurrentUser,
    pub ip: IpAddr,
}

impl<'a> FromRequest<'a> for SameOriginUser {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let visitor = Visitor::from_request(req, body).await?;
        check_same_origin(req)?;
        let user = visitor.require_user()?.clone();
        Ok(SameOriginUser { user, ip: visitor.ip })
    }
}

impl std::ops::Deref for SameOriginUser {
    type Target = CurrentUser;
    fn deref(&self) -> &CurrentUser {
        &self.user
    }
}

/// JSON writes authenticated by cookie: refuse cross-site requests. Browsers send Sec-Fetch-Site on
/// every request and Origin on every POST; a request with neither did not come from a browser page.
/// The Origin must be one of the configured origins (`public_url`, else `https://<domain>`);
/// with neither configured (plain HTTP on a private address) it must name the request's own Host.
fn check_same_origin(req: &Request) -> Result<(), AppError> {
    if let Some(site) = req.header("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return Err(AppError::Forbidden(format!("cross-site request refused (Sec-Fetch-Site: {site})")));
    }
    let Some(origin) = req.header("origin") else { return Ok(()) };
    let allowed = req.data::<Arc<AppState>>().map(|s| s.config.allowed_origins.as_slice()).unwrap_or_default();
    // HTTP/2 carries the host in the :authority pseudo-header, which arrives in the URI, not as Host.
    let host = req.header("host").or_else(|| req.uri().authority().map(|a| a.as_str())).unwrap_or_default();
    if origin_allowed(origin, allowed, host) {
        Ok(())
    } else {
        Err(AppError::Forbidden("cross-origin request refused (Origin is not this site)".into()))
    }
}

/// `origin` is exactly one of `allowed` (scheme, host and port), or, when none is configured, names
/// the same host and port as the Host header.
fn origin_allowed(origin: &str, allowed: &[String], host: &str) -> bool {
    if origin == "null" {
        return false;
    }
    if !allowed.is_empty() {
        return allowed.iter().any(|a| a.eq_ignore_ascii_case(origin));
    }
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::origin_allowed;

    #[test]
    fn origins() {
        let site = ["https://vote.example.org".to_owned()];
        assert!(origin_allowed("https://vote.example.org", &site, "127.0.0.1:8080"), "behind a proxy");
        assert!(!origin_allowed("http://vote.example.org", &site, "vote.example.org"), "scheme counts");
        assert!(!origin_allowed("https://evil.example", &site, "evil.example"), "Host is not trusted then");
        assert!(!origin_allowed("https://vote.example.org.evil.example", &site, "x"));
        assert!(origin_allowed("http://127.0.0.1:8080", &[], "127.0.0.1:8080"));
        assert!(!origin_allowed("http://127.0.0.1:9999", &[], "127.0.0.1:8080"));
        assert!(!origin_allowed("null", &[], "null"));
        assert!(!origin_allowed("http://x", &[], ""));
    }
}
