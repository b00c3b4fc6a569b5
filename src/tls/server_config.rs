//! The rustls server configuration of the HTTPS listener.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::ResolvesServerCert;

/// ALPN protocol of TLS-ALPN-01 validation handshakes (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// The process-wide rustls provider (installed by `main`), else ring: the one crypto library the
/// binary carries (README, "Design decisions").
pub fn crypto_provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default().cloned().unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// TLS 1.2/1.3 with certificates chosen by `resolver` and ALPN `h2`, `http/1.1`.
/// `acme-tls/1` is listed too so that the CA's validation handshake is accepted; the
/// resolver answers it with the challenge certificate and the acceptor closes it.
pub fn server_config(resolver: Arc<dyn ResolvesServerCert>) -> ServerConfig {
    let mut config = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("the default provider supports the default TLS versions")
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec(), ACME_TLS_ALPN.to_vec()];
    config
}
