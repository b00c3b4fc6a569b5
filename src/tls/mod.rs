//! Automatic HTTPS: certificates from an ACME CA (RFC 8555), kept in the application's
//! store, renewed in the background and served through an SNI resolver that swaps them
//! without a restart.
//!
//! Wiring (done by `app`):
//! 1. `CertManager::start(options, store)` loads a stored certificate (served at once) and
//!    spawns the task that obtains and renews it. In a failover cluster,
//!    `CertManager::start_in_cluster` orders only on the leader; followers serve what it stored.
//! 2. The HTTPS listener serves `server_config(handle.resolver())` through [`TlsListener`] /
//!    [`TlsAcceptor`]; the resolver also answers TLS-ALPN-01 validation handshakes.
//! 3. The plain HTTP listener serves [`HttpsRedirect`] (HTTP-01 answers + 308 to HTTPS).
//! 4. The app adds the [`Hsts`] middleware and reads [`CertManagerHandle::status`] for
//!    readiness, metrics and alerts.

mod certificate;
mod challenge;
mod cluster;
mod error;
mod http_client;
mod issue;
mod listener;
mod manager;
mod options;
mod redirect;
mod resolver;
mod schedule;
mod server_config;
mod status;
mod store;

pub use challenge::Http01Responder;
pub use cluster::Cluster;
pub use error::TlsError;
pub use listener::{TlsAcceptor, TlsHandshakeStream, TlsListener};
pub use manager::{CertManager, CertManagerHandle};
pub use options::{AcmeOptions, Challenge};
pub use redirect::{Hsts, HstsEndpoint, HttpsRedirect, hsts_header_value};
pub use resolver::CertResolver;
pub use server_config::{ACME_TLS_ALPN, crypto_provider, server_config};
pub use status::CertStatus;
pub use store::{ACCOUNT_KEY_PREFIX, CERTIFICATE_KEY, CertStore, MemoryCertStore, StoreError};
