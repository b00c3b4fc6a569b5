//! Wiring automatic HTTPS: the certificate store over SQLite (so backups and the standby carry the
//! account and certificate), the certificate manager, the HTTPS and HTTP listeners, readiness.

use std::sync::Arc;

use anyhow::Context;

use super::acceptor::AnyAcceptor;
use super::listeners::{Bound, bind};
use crate::config::{self, Config};
use crate::db::{self, Database};
use crate::tls::{AcmeOptions, CertManager, CertManagerHandle, CertStore, Challenge, Cluster, StoreError, TlsAcceptor};

/// `tls_store` table through the app's writer and readers. Values hold private keys: never logged.
pub struct DbCertStore(pub Database);

impl CertStore for DbCertStore {
    fn load<'a>(&'a self, key: &'a str) -> futures_util::future::BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let key = key.to_owned();
        Box::pin(async move { self.0.read(move |c| db::kv::tls_get(c, &key)).await.map_err(StoreError::new) })
    }
    fn save<'a>(&'a self, key: &'a str, value: Vec<u8>) -> futures_util::future::BoxFuture<'a, Result<(), StoreError>> {
        let key = key.to_owned();
        Box::pin(async move {
            self.0.write(move |c| db::kv::tls_put(c, &key, &value, db::now())).await.map_err(StoreError::new)
        })
    }
}

pub fn acme_options(c: &Config) -> AcmeOptions {
    let a = &c.settings.acme;
    AcmeOptions {
        domains: c.settings.domain.clone(),
        email: a.email.clone(),
        directory_url: a.directory_url.clone(),
        ca_file: (!a.ca_file.is_empty()).then(|| a.ca_file.clone().into()),
        challenge: match a.challenge {
            config::Challenge::TlsAlpn01 => Challenge::TlsAlpn01,
            config::Challenge::Http01 => Challenge::Http01,
        },
        ..AcmeOptions::default()
    }
}

pub struct HttpsParts {
    pub certs: CertManagerHandle,
    /// TLS over the `https_listen` socket.
    pub https: AnyAcceptor,
    pub https_addr: std::net::SocketAddr,
    /// Plain HTTP on `http_listen`: ACME HTTP-01 answers and redirects to HTTPS.
    pub http: Bound,
}

/// Starts the certificate manager (a stored certificate is served at once; otherwise HTTPS
/// handshakes fail until the first one arrives) and binds both listeners. With `cluster` (a
/// failover node) only the leader orders; followers serve the certificate it stored.
pub async fn start(c: &Config, db: &Database, cluster: Option<Cluster>) -> anyhow::Result<HttpsParts> {
    let store: Arc<dyn CertStore> = Arc::new(DbCertStore(db.clone()));
    let certs = CertManager::start_in_cluster(acme_options(c), store, cluster.unwrap_or_else(Cluster::single))
        .await
        .context("cannot start automatic HTTPS")?;
    let https = bind(c.https_listen, "https_listen").await?;
    let tls = TlsAcceptor::new(https.acceptor, Arc::new(crate::tls::server_config(certs.resolver())));
    let http = bind(c.http_listen, "http_listen").await?;
    Ok(HttpsParts { certs, https: AnyAcceptor::new(tls), https_addr: https.addr, http })
}

/// Not ready until a certificate is being served.
pub fn readiness(certs: &CertManagerHandle) -> crate::health::ReadinessCheck {
    let certs = certs.clone();
    Arc::new(move || {
        let s = certs.status();
        if s.has_certificate {
            Ok(())
        } else if !s.orders {
            Err(crate::health::NotReady::AwaitingLeaderCertificate)
        } else {
            Err(crate::health::NotReady::NoCertificate { last_error: s.last_error })
        }
    })
}
