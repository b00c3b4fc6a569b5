//! The handle callers keep on the running manager: its resolver, HTTP-01 answers and status.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rustls::server::ResolvesServerCert;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::tls::challenge::Http01Responder;
use crate::tls::resolver::CertResolver;
use crate::tls::status::{CertStatus, Progress};

/// A cheap, cloneable handle on the running manager. Keep it (or a clone) for as long as
/// HTTPS is served; the background task runs until [`CertManagerHandle::stop`].
#[derive(Clone)]
pub struct CertManagerHandle {
    pub(super) inner: Arc<HandleInner>,
}

/// Shared by every clone of the handle; built by `CertManager::start_in_cluster`.
pub(super) struct HandleInner {
    pub(super) resolver: Arc<CertResolver>,
    pub(super) http01: Http01Responder,
    pub(super) status: watch::Receiver<Progress>,
    pub(super) task: JoinHandle<()>,
    pub(super) domains: Vec<String>,
}

impl std::fmt::Debug for CertManagerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertManagerHandle")
            .field("domains", &self.inner.domains)
            .field("status", &self.status())
            .finish()
    }
}

impl CertManagerHandle {
    /// The SNI resolver for [`crate::tls::server_config`]; it follows renewals by itself.
    pub fn resolver(&self) -> Arc<dyn ResolvesServerCert> {
        self.inner.resolver.clone()
    }

    /// HTTP-01 answers for [`crate::tls::HttpsRedirect`].
    pub fn http01(&self) -> Http01Responder {
        self.inner.http01.clone()
    }

    /// The normalised domain names (the first is the primary).
    pub fn domains(&self) -> &[String] {
        &self.inner.domains
    }

    pub fn status(&self) -> CertStatus {
        CertStatus::from_progress(&self.inner.status.borrow(), Utc::now())
    }

    /// Waits until `condition` holds for the status, up to `timeout`. Returns the status
    /// that satisfied it, or the last status seen when the time ran out.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&CertStatus) -> bool,
    ) -> Result<CertStatus, CertStatus> {
        let mut receiver = self.inner.status.clone();
        let waited = tokio::time::timeout(timeout, async {
            loop {
                let status = CertStatus::from_progress(&receiver.borrow_and_update(), Utc::now());
                if condition(&status) {
                    return Some(status);
                }
                if receiver.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await;
        match waited {
            Ok(Some(status)) => Ok(status),
            _ => Err(self.status()),
        }
    }

    /// Stops obtaining and renewing. The resolver keeps serving what it has.
    pub fn stop(&self) {
        self.inner.task.abort();
    }
}
