//! What the certificate manager needs to know, and the checks that catch bad values at start.

use std::path::PathBuf;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::error::TlsError;

/// Let's Encrypt's production directory, the default CA.
pub const LETS_ENCRYPT_DIRECTORY: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// How the CA checks that we control the domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Challenge {
    /// RFC 8737: the CA opens a TLS connection to port 443 with ALPN `acme-tls/1`.
    /// Needs only the HTTPS listener.
    #[default]
    TlsAlpn01,
    /// RFC 8555 §8.3: the CA fetches `http://DOMAIN/.well-known/acme-challenge/TOKEN` on port 80.
    Http01,
}

/// Settings of the certificate manager (from the `[acme]` section and top-level `domain`).
#[derive(Debug, Clone)]
pub struct AcmeOptions {
    /// Names on the certificate; the first is the primary one (redirect target).
    pub domains: Vec<String>,
    /// Contact address given to the CA (may be empty).
    pub email: String,
    /// The ACME directory URL (https).
    pub directory_url: String,
    /// An extra root trusted for the ACME directory's own HTTPS (private CA, pebble).
    pub ca_file: Option<PathBuf>,
    pub challenge: Challenge,
    /// First delay after a failed attempt; doubles per failure up to `retry_max`.
    pub retry_base: Duration,
    /// Longest delay between two failed attempts.
    pub retry_max: Duration,
}

impl Default for AcmeOptions {
    fn default() -> Self {
        Self {
            domains: Vec::new(),
            email: String::new(),
            directory_url: LETS_ENCRYPT_DIRECTORY.to_owned(),
            ca_file: None,
            challenge: Challenge::default(),
            retry_base: Duration::from_secs(120),
            retry_max: Duration::from_secs(6 * 3600),
        }
    }
}

/// Options after validation: normalised domain names and the parsed CA file.
#[derive(Debug, Clone)]
pub(crate) struct ValidOptions {
    pub domains: Vec<String>,
    pub email: String,
    pub directory_url: String,
    pub ca_file: Option<PathBuf>,
    pub ca_roots: Vec<CertificateDer<'static>>,
    pub challenge: Challenge,
    pub retry_base: Duration,
    pub retry_max: Duration,
}

impl AcmeOptions {
    pub(crate) fn validate(self) -> Result<ValidOptions, TlsError> {
        if self.domains.is_empty() {
            return Err(TlsError::InvalidOptions("domain: at least one domain name is needed for HTTPS".into()));
        }
        let mut domains = Vec::with_capacity(self.domains.len());
        for domain in &self.domains {
            let domain = normalise_domain(domain)?;
            if !domains.contains(&domain) {
                domains.push(domain);
            }
        }
        let email = self.email.trim().to_owned();
        if !email.is_empty() && !is_plausible_email(&email) {
            return Err(TlsError::InvalidOptions(format!("acme.email: {email:?} is not an email address")));
        }
        let directory_url = self.directory_url.trim().to_owned();
        match url::Url::parse(&directory_url) {
            Ok(url) if url.scheme() == "https" && url.host().is_some() => {}
            Ok(_) => {
                return Err(TlsError::InvalidOptions(format!(
                    "acme.directory_url: {directory_url:?} must be an https:// URL"
                )));
            }
            Err(err) => {
                return Err(TlsError::InvalidOptions(format!(
                    "acme.directory_url: {directory_url:?} is not a URL: {err}"
                )));
            }
        }
        if self.retry_base.is_zero() || self.retry_max < self.retry_base {
            return Err(TlsError::InvalidOptions("retry_base must be positive and not above retry_max".into()));
        }
        let ca_roots = match &self.ca_file {
            Some(path) => read_ca_file(path)?,
            None => Vec::new(),
        };
        Ok(ValidOptions {
            domains,
            email,
            directory_url,
            ca_file: self.ca_file,
            ca_roots,
            challenge: self.challenge,
            retry_base: self.retry_base,
            retry_max: self.retry_max,
        })
    }
}

/// Lower-cases a DNS name and rejects what an ACME CA would refuse anyway, so the operator
/// learns it at start rather than from a failed order.
fn normalise_domain(raw: &str) -> Result<String, TlsError> {
    let domain = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let invalid = |why: &str| TlsError::InvalidOptions(format!("domain: {raw:?} {why}"));
    if domain.is_empty() {
        return Err(invalid("is empty"));
    }
    if domain.contains('*') {
        return Err(invalid("is a wildcard; HTTP-01 and TLS-ALPN-01 cannot validate wildcards"));
    }
    if domain.parse::<std::net::IpAddr>().is_ok() {
        return Err(invalid("is an IP address; a DNS name is needed"));
    }
    if domain.len() > 253 {
        return Err(invalid("is longer than 253 characters"));
    }
    for label in domain.split('.') {
        let ok_chars = label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if label.is_empty() || label.len() > 63 || !ok_chars || label.starts_with('-') || label.ends_with('-') {
            return Err(invalid("is not a valid DNS name"));
        }
    }
    Ok(domain)
}

fn is_plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, host)) => {
            !local.is_empty() && host.contains('.') && !email.chars().any(|c| c.is_whitespace() || c == ',')
        }
        None => false,
    }
}

fn read_ca_file(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |reason: String| TlsError::CaFile { path: path.clone(), reason };
    let pem = std::fs::read(path).map_err(|err| bad(format!("cannot be read: {err}")))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| bad(format!("is not valid PEM: {err}")))?;
    if certs.is_empty() {
        return Err(bad("contains no PEM certificate (BEGIN CERTIFICATE)".into()));
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in &certs {
        roots.add(cert.clone()).map_err(|err| bad(format!("holds a certificate that is not a usable root: {err}")))?;
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(domains: &[&str]) -> AcmeOptions {
        AcmeOptions { domains: domains.iter().map(|d| d.to_string()).collect(), ..AcmeOptions::default() }
    }

    #[test]
    fn domains_are_normalised_and_deduplicated() {
        let valid = options(&["Vote.Test.", "vote.test", "www.vote.test"]).validate().unwrap();
        assert_eq!(valid.domains, vec!["vote.test", "www.vote.test"]);
    }

    #[test]
    fn bad_domains_are_named() {
        for bad in ["", "*.vote.test", "127.0.0.1", "-a.test", "a..test", "a b.test"] {
            let err = options(&[bad]).validate().unwrap_err().to_string();
            assert!(err.contains("domain"), "{bad}: {err}");
        }
        let err = options(&[]).validate().unwrap_err().to_string();
        assert!(err.contains("at least one domain"), "{err}");
    }

    #[test]
    fn directory_must_be_https() {
        let mut opts = options(&["vote.test"]);
        opts.directory_url = "http://127.0.0.1:14000/dir".into();
        let err = opts.validate().unwrap_err().to_string();
        assert!(err.contains("acme.directory_url"), "{err}");
    }

    #[test]
    fn email_is_checked() {
        let mut opts = options(&["vote.test"]);
        opts.email = "not an email".into();
        assert!(opts.validate().unwrap_err().to_string().contains("acme.email"));
    }

    #[test]
    fn unreadable_and_empty_ca_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = options(&["vote.test"]);
        opts.ca_file = Some(dir.path().join("missing.pem"));
        let err = opts.clone().validate().unwrap_err().to_string();
        assert!(err.contains("missing.pem") && err.contains("cannot be read"), "{err}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "hello\n").unwrap();
        opts.ca_file = Some(empty);
        let err = opts.validate().unwrap_err().to_string();
        assert!(err.contains("empty.pem") && err.contains("no PEM certificate"), "{err}");
    }
}
