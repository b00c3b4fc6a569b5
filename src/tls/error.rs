//! Errors of the certificate manager. Each variant names the cause an operator can act on:
//! a bad setting, an unreachable or untrusted directory, a domain the CA refused.

use std::path::PathBuf;

use super::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("invalid ACME setting: {0}")]
    InvalidOptions(String),

    #[error("acme.ca_file {}: {reason}", path.display())]
    CaFile { path: PathBuf, reason: String },

    #[error("ACME directory {url} is unreachable: {cause}")]
    DirectoryUnreachable { url: String, cause: String },

    #[error("ACME directory {url} presents a TLS certificate that is not trusted ({cause}); {hint}")]
    DirectoryNotTrusted { url: String, cause: String, hint: String },

    #[error("{url} is not an ACME directory: {cause}")]
    NotADirectory { url: String, cause: String },

    #[error("the CA refused domain {domain}: {detail}")]
    DomainRefused { domain: String, detail: String },

    #[error("the CA refused the order: {0}")]
    OrderRefused(String),

    #[error("the CA rate-limited us: {0}")]
    RateLimited(String),

    #[error("ACME request failed: {0}")]
    Acme(String),

    #[error("certificate from the CA is unusable: {0}")]
    BadCertificate(String),

    #[error(transparent)]
    Store(#[from] StoreError),

    #[error("timed out after {0:?} waiting for the CA")]
    Timeout(std::time::Duration),
}

impl TlsError {
    /// Whether the next attempt should come soon rather than after the full backoff
    /// (a rejected nonce is routine: pebble refuses ~5% on purpose).
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, TlsError::Acme(msg) if msg.contains("badNonce"))
    }
}

/// Problem types (RFC 8555 §6.7) that mean the CA would not vouch for one of our names.
pub(crate) fn is_domain_problem(problem_type: &str) -> bool {
    const DOMAIN_PROBLEMS: &[&str] = &[
        "rejectedIdentifier",
        "unauthorized",
        "caa",
        "dns",
        "connection",
        "incorrectResponse",
        "tls",
        "unsupportedIdentifier",
    ];
    problem_type.strip_prefix("urn:ietf:params:acme:error:").is_some_and(|kind| DOMAIN_PROBLEMS.contains(&kind))
}

/// Turns an error from instant-acme into one that says which part failed.
pub(crate) fn from_acme(err: instant_acme::Error, directory_url: &str) -> TlsError {
    use super::http_client::TransportError;
    match err {
        instant_acme::Error::Other(inner) => match inner.downcast::<TransportError>() {
            Ok(transport) => transport.into_tls_error(directory_url),
            Err(other) => TlsError::Acme(other.to_string()),
        },
        instant_acme::Error::Api(problem) => from_problem(&problem, None),
        instant_acme::Error::Timeout(_) => TlsError::Acme("the CA did not finish the order in time".into()),
        other => TlsError::Acme(other.to_string()),
    }
}

/// Maps an ACME problem document to an error, naming the domain when we know it.
pub(crate) fn from_problem(problem: &instant_acme::Problem, domain: Option<&str>) -> TlsError {
    let kind = problem.r#type.as_deref().unwrap_or("");
    let detail = problem_text(problem);
    if kind.ends_with(":rateLimited") {
        return TlsError::RateLimited(detail);
    }
    if is_domain_problem(kind) {
        // A subproblem names the identifier exactly; the caller's domain is context.
        let domain = problem
            .subproblems
            .iter()
            .find_map(|sub| sub.identifier.as_ref().map(identifier_text))
            .or_else(|| domain.map(str::to_owned))
            .unwrap_or_else(|| "(one of the configured domains)".into());
        return TlsError::DomainRefused { domain, detail };
    }
    if kind.ends_with(":badNonce") {
        return TlsError::Acme(format!("{detail} (badNonce)"));
    }
    TlsError::OrderRefused(detail)
}

fn identifier_text(identifier: &instant_acme::Identifier) -> String {
    match identifier {
        instant_acme::Identifier::Dns(name) => name.clone(),
        other => format!("{other:?}"),
    }
}

fn problem_text(problem: &instant_acme::Problem) -> String {
    let mut text = problem.detail.clone().unwrap_or_else(|| "no detail given".into());
    if let Some(kind) = &problem.r#type {
        text.push_str(&format!(" ({kind})"));
    }
    for sub in &problem.subproblems {
        if let Some(detail) = &sub.detail {
            text.push_str("; ");
            text.push_str(detail);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(kind: &str, detail: &str) -> instant_acme::Problem {
        serde_json::from_value(serde_json::json!({"type": kind, "detail": detail})).unwrap()
    }

    #[test]
    fn domain_problems_name_the_domain() {
        let err = from_problem(
            &problem("urn:ietf:params:acme:error:rejectedIdentifier", "policy forbids issuing for name"),
            Some("vote.test"),
        );
        let text = err.to_string();
        assert!(text.contains("refused domain vote.test"), "{text}");
        assert!(text.contains("policy forbids"), "{text}");
    }

    #[test]
    fn rate_limits_and_nonces_are_told_apart() {
        let err = from_problem(&problem("urn:ietf:params:acme:error:rateLimited", "too many"), None);
        assert!(matches!(err, TlsError::RateLimited(_)));
        let err =
            from_problem(&problem("urn:ietf:params:acme:error:badNonce", "JWS has an invalid anti-replay nonce"), None);
        assert!(err.is_transient());
    }
}
