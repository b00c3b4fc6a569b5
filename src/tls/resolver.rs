//! Picks the certificate for each TLS handshake. The current certificate is swapped in
//! place when it is renewed: handshakes after the swap get the new one, connections already
//! open keep theirs. Handshakes offering ALPN `acme-tls/1` are the CA validating a
//! TLS-ALPN-01 challenge and get that challenge's certificate instead.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use parking_lot::RwLock;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::server_config::ACME_TLS_ALPN;

#[derive(Default)]
pub struct CertResolver {
    current: RwLock<Option<Arc<CertifiedKey>>>,
    /// Domain (lower case) -> TLS-ALPN-01 certificate, only while an order is pending.
    challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl CertResolver {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn set_current(&self, certified: Arc<CertifiedKey>) {
        *self.current.write() = Some(certified);
    }

    pub(crate) fn has_current(&self) -> bool {
        self.current.read().is_some()
    }

    pub(crate) fn add_challenge(&self, domain: &str, certified: Arc<CertifiedKey>) {
        self.challenges.write().insert(domain.to_ascii_lowercase(), certified);
    }

    pub(crate) fn remove_challenge(&self, domain: &str) {
        self.challenges.write().remove(&domain.to_ascii_lowercase());
    }
}

impl fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertResolver")
            .field("has_certificate", &self.has_current())
            .field("pending_challenges", &self.challenges.read().len())
            .finish()
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let validation = hello.alpn().is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN));
        if validation {
            // RFC 8737 §3: answer only with the challenge certificate, never the real one.
            let name = hello.server_name()?.to_ascii_lowercase();
            return self.challenges.read().get(&name).cloned();
        }
        // One certificate carries every configured name, so SNI needs no lookup; clients
        // without SNI (or with a name we do not serve) get it too and judge it themselves.
        self.current.read().clone()
    }
}
