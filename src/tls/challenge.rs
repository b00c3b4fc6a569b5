//! Answers to the CA's validation requests while an order is pending.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
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
    let failed =
        |err: rcgen::Error| TlsError::Acme(format!("cannot build the TLS-ALPN-01 certificate for {domain}: {err}"));
    let mut params = rcgen::CertificateParams::new(vec![domain.to_owned()]).map_err(failed)?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(key_authorization_digest)];
    let key = rcgen::KeyPair::generate().map_err(failed)?;
    let cert = params.self_signed(&key).map_err(failed)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = super::server_config::crypto_provider();
    // Not `CertifiedKey::from_der`: its key check parses the certificate with webpki, which
    // rejects the critical acmeIdentifier extension this certificate exists for.
    let signing_key = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|err| TlsError::Acme(format!("TLS-ALPN-01 key unusable: {err}")))?;
    Ok(Arc::new(CertifiedKey::new(vec![cert.der().clone()], signing_key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_alpn01_certificate_carries_the_digest_in_a_critical_extension() {
        let digest = [7u8; 32];
        let certified = tls_alpn01_certificate("vote.test", &digest).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&certified.cert[0]).unwrap();
        let acme_identifier = x509_parser::oid_registry::Oid::from(&[1, 3, 6, 1, 5, 5, 7, 1, 31]).unwrap();
        let extension =
            cert.extensions().iter().find(|ext| ext.oid == acme_identifier).expect("acmeIdentifier extension");
        assert!(extension.critical);
        // DER OCTET STRING (0x04, length 32) wrapping the SHA-256 digest.
        assert_eq!(&extension.value[..2], &[0x04, 32]);
        assert_eq!(&extension.value[2..], &digest);
        let names: Vec<String> = cert
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(names, vec!["DNSName(vote.test)"]);
    }

    #[test]
    fn http01_answers_are_shared_and_withdrawn() {
        let responder = Http01Responder::default();
        let clone = responder.clone();
        responder.insert("t".into(), "t.k".into());
        assert_eq!(clone.key_authorization("t").as_deref(), Some("t.k"));
        clone.remove("t");
        assert_eq!(responder.key_authorization("t"), None);
    }
}
