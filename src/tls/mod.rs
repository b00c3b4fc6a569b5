//! Automatic HTTPS: certificates from an ACME CA (RFC 8555), kept in the application's
//! store, renewed in the background and served through an SNI resolver that swaps them
//! without a restart.
//!
//! Wiring (done by `app`):
//! 1. `CertManager::start(options, store)` loads a stored certificate (served at once) and
//!    spawns the task that obtains and renews it. In a failover cluster,
//!    `CertManager::start_in_cluster` orders only on the leader; followers serve what it stored.
//! 2. The HTTPS listener serves `server_config(handle.resolver())` through [`TlsAcceptor`]; the
//!    resolver also answers TLS-ALPN-01 validation handshakes.
//! 3. The plain HTTP listener serves [`HttpsRedirect`] (HTTP-01 answers + 308 to HTTPS).
//! 4. The app reads [`CertManagerHandle::status`] for readiness, metrics and alerts (its HSTS
//!    header comes from the web layer's security headers, `http::middleware`).

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

pub(crate) use cluster::Cluster;
pub use error::TlsError;
pub use listener::TlsAcceptor;
pub use manager::{CertManager, CertManagerHandle};
pub use options::{AcmeOptions, Challenge};
pub use redirect::HttpsRedirect;
pub use server_config::server_config;
pub use status::CertStatus;
pub use store::{CERTIFICATE_KEY, CertStore, MemoryCertStore, StoreError};
