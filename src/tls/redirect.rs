//! The plain-HTTP side once HTTPS is on: answer HTTP-01 challenges, send everything else to
//! HTTPS with a 308 (method and body kept).

use poem::http::header::{CONTENT_TYPE, LOCATION};
use poem::http::{Method, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response, Result};

use super::challenge::Http01Responder;

const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// Endpoint for the HTTP listener (`http_listen`).
#[derive(Debug, Clone)]
pub struct HttpsRedirect {
    domains: Vec<String>,
    https_port: u16,
    responder: Http01Responder,
}

impl HttpsRedirect {
    /// `domains[0]` is the target when a request names a host we do not serve (so the
    /// redirect never points at a host chosen by the client). `https_port` is the public
    /// HTTPS port, 443 in production (left out of the URL then).
    pub fn new(domains: Vec<String>, https_port: u16, responder: Http01Responder) -> Self {
        let domains = domains.into_iter().map(|d| d.trim_end_matches('.').to_ascii_lowercase()).collect();
        Self { domains, https_port, responder }
    }

    fn location(&self, req: &Request) -> String {
        let requested = req
            .headers()
            .get(poem::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()))
            .map(host_without_port)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let host = self
            .domains
            .iter()
            .find(|domain| **domain == requested)
            .or(self.domains.first())
            .map(String::as_str)
            .unwrap_or("localhost");
        let path = req.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
        match self.https_port {
            443 => format!("https://{host}{path}"),
            port => format!("https://{host}:{port}{path}"),
        }
    }
}

fn host_without_port(host: &str) -> &str {
    let host = host.trim();
    if host.starts_with('[') {
        // IPv6 literal: never one of our domains, the caller falls back to the primary.
        return host;
    }
    host.split(':').next().unwrap_or(host).trim_end_matches('.')
}

impl Endpoint for HttpsRedirect {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        if matches!(*req.method(), Method::GET | Method::HEAD)
            && let Some(token) = req.uri().path().strip_prefix(CHALLENGE_PREFIX)
        {
            return Ok(match self.responder.key_authorization(token) {
                Some(answer) => Response::builder().header(CONTENT_TYPE, "text/plain").body(answer),
                None => StatusCode::NOT_FOUND.into_response(),
            });
        }
        let location = self.location(&req);
        Ok(Response::builder().status(StatusCode::PERMANENT_REDIRECT).header(LOCATION, location).finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(port: u16) -> (HttpsRedirect, Http01Responder) {
        let responder = Http01Responder::default();
        let endpoint = HttpsRedirect::new(vec!["vote.test".into(), "www.vote.test".into()], port, responder.clone());
        (endpoint, responder)
    }

    fn request(method: Method, uri: &str, host: &str) -> Request {
        Request::builder().method(method).uri_str(uri).header("Host", host).finish()
    }

    fn header(resp: &Response, name: impl poem::http::header::AsHeaderName) -> String {
        resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    }

    #[tokio::test]
    async fn redirects_with_308_keeping_host_path_and_query() {
        let (endpoint, _) = redirect(443);
        let resp = endpoint.get_response(request(Method::POST, "/shows/abc?x=1&y=2", "WWW.vote.test:80")).await;
        assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(header(&resp, LOCATION), "https://www.vote.test/shows/abc?x=1&y=2");
    }

    #[tokio::test]
    async fn unknown_hosts_go_to_the_primary_domain_with_port() {
        let (endpoint, _) = redirect(8443);
        let resp = endpoint.get_response(request(Method::GET, "/", "evil.test")).await;
        assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(header(&resp, LOCATION), "https://vote.test:8443/");
    }

    #[tokio::test]
    async fn answers_known_http01_tokens_only() {
        let (endpoint, responder) = redirect(443);
        responder.insert("tok123".into(), "tok123.thumb".into());
        let path = "/.well-known/acme-challenge/tok123";
        let resp = endpoint.get_response(request(Method::GET, path, "vote.test")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.into_body().into_string().await.unwrap(), "tok123.thumb");
        let path = "/.well-known/acme-challenge/other";
        let resp = endpoint.get_response(request(Method::GET, path, "vote.test")).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    }
}
