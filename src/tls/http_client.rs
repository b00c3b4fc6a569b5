//! The HTTP client instant-acme talks to the CA with: reqwest over rustls, trusting the
//! built-in web PKI roots (no system store needed: the binary runs `FROM scratch`) plus the
//! roots of `acme.ca_file`. Transport failures come back as [`TransportError`] so the
//! manager can tell "unreachable" from "not trusted".

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use poem::http;

use super::error::TlsError;
use super::options::ValidOptions;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub(crate) struct AcmeHttpClient {
    client: reqwest::Client,
    trust_hint: String,
}

impl AcmeHttpClient {
    pub fn new(options: &ValidOptions) -> Result<Self, TlsError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(true)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("mysetlist/", env!("CARGO_PKG_VERSION")));
        for root in &options.ca_roots {
            let cert = reqwest::Certificate::from_der(root).map_err(|err| TlsError::CaFile {
                path: options.ca_file.clone().unwrap_or_default(),
                reason: format!("holds a certificate the HTTP client refuses: {err}"),
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder.build().map_err(|err| TlsError::Acme(format!("cannot build the HTTP client: {err}")))?;
        let trust_hint = match &options.ca_file {
            Some(path) => format!(
                "no root in acme.ca_file {} (nor a public root) signed it: is it the CA of this directory?",
                path.display()
            ),
            None => "it is not signed by a public root; set acme.ca_file to the CA of a private directory".into(),
        };
        Ok(Self { client, trust_hint })
    }

    /// GET a URL and return the body; used to probe the directory.
    pub async fn get(&self, url: &str) -> Result<(http::StatusCode, Bytes), TransportError> {
        let response =
            self.client.get(url).send().await.map_err(|err| TransportError::classify(&err, &self.trust_hint))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|err| TransportError::classify(&err, &self.trust_hint))?;
        Ok((status, body))
    }

    async fn send(&self, request: http::Request<BodyWrapper<Bytes>>) -> Result<BytesResponse, instant_acme::Error> {
        let (parts, body) = request.into_parts();
        let body = reqwest::Body::wrap(body);
        let response = self
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|err| instant_acme::Error::Other(Box::new(TransportError::classify(&err, &self.trust_hint))))?;
        let mut head = http::Response::builder().status(response.status());
        if let Some(headers) = head.headers_mut() {
            *headers = response.headers().clone();
        }
        let body = response
            .bytes()
            .await
            .map_err(|err| instant_acme::Error::Other(Box::new(TransportError::classify(&err, &self.trust_hint))))?;
        let (parts, ()) = head.body(())?.into_parts();
        Ok(BytesResponse { parts, body: Box::new(body) })
    }
}

impl HttpClient for AcmeHttpClient {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let this = self.clone();
        Box::pin(async move { this.send(req).await })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransportKind {
    Unreachable,
    Untrusted,
    Other,
}

/// Why a request to the CA did not get an answer.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct TransportError {
    pub kind: TransportKind,
    pub message: String,
    trust_hint: String,
}

impl TransportError {
    fn classify(err: &reqwest::Error, trust_hint: &str) -> Self {
        let message = error_chain(err);
        let kind = if certificate_problem(err).is_some() {
            TransportKind::Untrusted
        } else if err.is_connect() || err.is_timeout() {
            TransportKind::Unreachable
        } else {
            TransportKind::Other
        };
        let message = match certificate_problem(err) {
            Some(problem) => problem,
            None => message,
        };
        Self { kind, message, trust_hint: trust_hint.to_owned() }
    }

    pub fn into_tls_error(self, directory_url: &str) -> TlsError {
        let url = directory_url.to_owned();
        match self.kind {
            TransportKind::Unreachable => TlsError::DirectoryUnreachable { url, cause: self.message },
            TransportKind::Untrusted => {
                TlsError::DirectoryNotTrusted { url, cause: self.message, hint: self.trust_hint }
            }
            TransportKind::Other => TlsError::Acme(format!("request to the CA failed: {}", self.message)),
        }
    }
}

/// The certificate verification error somewhere in the chain, if that is what failed.
/// `io::Error` hides its inner error from `source()`, so look inside it explicitly.
fn certificate_problem(err: &(dyn StdError + 'static)) -> Option<String> {
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(current) = next {
        if let Some(tls) = current.downcast_ref::<rustls::Error>()
            && matches!(tls, rustls::Error::InvalidCertificate(_))
        {
            return Some(tls.to_string());
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(found) = certificate_problem(inner)
        {
            return Some(found);
        }
        next = current.source();
    }
    None
}

/// "outer: inner: innermost", skipping repeats (reqwest often repeats its cause).
fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(current) = next {
        let text = current.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = current.source();
    }
    parts.join(": ")
}
