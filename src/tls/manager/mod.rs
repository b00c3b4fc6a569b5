//! The certificate manager: serves the stored certificate at once, obtains one when there is
//! none, renews it on schedule (ACME renewal information when the CA offers it, else by
//! lifetime) and retries failures with backoff, never dropping a certificate still served. In a
//! failover cluster only the leader orders; followers serve what it stored ([`Cluster`]).
//!
//! The parts: `handle` is what callers keep, `worker` the background task's loop, `order` when
//! and how a certificate is ordered, `renewal_info` the CA's renewal advice, and `stored` reading
//! the certificate the store holds.

mod handle;
mod order;
mod renewal_info;
mod stored;
mod worker;

use std::sync::Arc;

use tokio::sync::watch;

use super::challenge::Http01Responder;
use super::cluster::Cluster;
use super::error::TlsError;
use super::http_client::AcmeHttpClient;
use super::issue::Issuer;
use super::options::AcmeOptions;
use super::resolver::CertResolver;
use super::status::Progress;
use super::store::CertStore;
use handle::HandleInner;
use renewal_info::Ari;
use stored::{Stored, read_stored};
use worker::Worker;

pub use handle::CertManagerHandle;

pub struct CertManager;

impl CertManager {
    /// Checks the options, loads the stored certificate into the resolver (so HTTPS works
    /// at once after a restart) and spawns the task that obtains and renews certificates.
    /// Does not wait for the CA: an unreachable directory is retried in the background and
    /// reported in [`CertManagerHandle::status`]. Must be called inside a tokio runtime.
    pub async fn start(options: AcmeOptions, store: Arc<dyn CertStore>) -> Result<CertManagerHandle, TlsError> {
        Self::start_in_cluster(options, store, Cluster::single()).await
    }

    /// Like [`CertManager::start`] on a node of a failover cluster whose store is replicated: the
    /// node orders and renews only while it leads, and otherwise serves (and follows) what the
    /// leader stored. A follower with nothing stored yet waits for the leader's certificate.
    pub async fn start_in_cluster(
        options: AcmeOptions,
        store: Arc<dyn CertStore>,
        cluster: Cluster,
    ) -> Result<CertManagerHandle, TlsError> {
        let options = Arc::new(options.validate()?);
        let http = AcmeHttpClient::new(&options)?;
        let resolver = Arc::new(CertResolver::new());
        let http01 = Http01Responder::default();

        let stored = read_stored(store.as_ref()).await?;
        let (status_tx, status_rx) = watch::channel(Progress::default());
        let mut worker = Worker {
            issuer: Issuer {
                options: options.clone(),
                http,
                store,
                resolver: resolver.clone(),
                http01: http01.clone(),
            },
            status: status_tx,
            cluster,
            current: None,
            account: None,
            failures: 0,
            retry_at: None,
            ari: Ari::Unknown,
        };
        let then = if worker.cluster.is_leading() { "ordering a new one" } else { "waiting for the leader's" };
        match stored {
            Stored::Usable(loaded) => {
                tracing::info!(
                    names = ?loaded.names,
                    serial = %loaded.serial_hex,
                    not_after = %loaded.not_after,
                    "serving the stored certificate"
                );
                worker.install(*loaded, false);
            }
            Stored::Unusable(why) => tracing::warn!("{why}; {then}"),
            Stored::Nothing => {}
        }
        let leading = worker.cluster.is_leading();
        worker.publish(leading);
        let task = tokio::spawn(worker.run());
        Ok(CertManagerHandle {
            inner: Arc::new(HandleInner {
                resolver,
                http01,
                status: status_rx,
                task,
                domains: options.domains.clone(),
            }),
        })
    }

    /// Fetches the ACME directory once with the configured trust (for `check-config`):
    /// says whether it is reachable, trusted, and really an ACME directory.
    pub async fn probe_directory(options: AcmeOptions) -> Result<(), TlsError> {
        let options = options.validate()?;
        let http = AcmeHttpClient::new(&options)?;
        let url = options.directory_url.clone();
        let (status, body) = http.get(&url).await.map_err(|err| err.into_tls_error(&url))?;
        if !status.is_success() {
            return Err(TlsError::NotADirectory { url, cause: format!("HTTP status {status}") });
        }
        let document: serde_json::Value = serde_json::from_slice(&body).map_err(|err| TlsError::NotADirectory {
            url: url.clone(),
            cause: format!("the response is not JSON ({err})"),
        })?;
        for field in ["newNonce", "newAccount", "newOrder"] {
            if document.get(field).and_then(|v| v.as_str()).is_none() {
                return Err(TlsError::NotADirectory { url, cause: format!("the document has no {field:?} URL") });
            }
        }
        Ok(())
    }
}
