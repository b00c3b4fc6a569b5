//! Answers to the CA's validation requests while an order is pending.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

use super::error::TlsError;

/// HTTP-01 answers: token -> key authorization, served at
/// `/.well-known/acme-challenge/{token}` by [`super::HttpsRedirect`]. Clones share the map.
#[derive(Clone, Default, Debug)]
pub struct Http01Responder {
    answers: Arc<RwLock<HashMap<String, String>>>,
}

impl Http01Responder {
    /// The key authorization for a token the CA asked about, if an order is waiting for it.
    pub fn key_authorization(&self, token: &str) -> Option<String> {
        self.answers.read().get(token).cloned()
    }

    pub(crate) fn insert(&self, token: String, key_authorization: String) {
        self.answers.write().insert(token, key_authorization);
    }

    pub(crate) fn remove(&self, token: &str) {
        self.answers.write().remove(token);
    }
}

/// The self-signed certificate RFC 8737 asks for: the domain as its only name and the
/// SHA-256 of the key authorization in the critical `acmeIdentifier` extension.
pub(crate) fn tls_alpn01_certificate(
    domain: &str,
    key_authorization_digest: &[u8],
) -> Result<Arc<CertifiedKey>, TlsError> {
    let failed = |err: rcgen::Error| {
        TlsError::Acme(format!(
            "cannot build the TLS-ALPN-01 certificate for {domain}: {err}"
        ))
    };
    let mut params = rcgen::CertificateParams::new(vec![domain.to_owned()]).map_err(failed)?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(
        key_authorization_digest,
    )];
    let key = rcgen::KeyPair::generate().map_err(failed)?;
    let cert = params.self_signed(&key).map_err(failed)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let certified = CertifiedKey::from_der(vec![cert.der().clone()], key_der, &provider)
        .map_err(|err| TlsError::Acme(format!("TLS-ALPN-01 certificate unusable: {err}")))?;
    Ok(Arc::new(certified))
}
