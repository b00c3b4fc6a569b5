//! The certificate manager: serves the stored certificate at once, obtains one when there is
//! none, renews it on schedule (ACME renewal information when the CA offers it, else by
//! lifetime) and retries failures with backoff, never dropping a certificate still served. In a
//! failover cluster only the leader orders; followers serve what it stored ([`Cluster`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use instant_acme::Account;
use rustls::server::ResolvesServerCert;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::certificate::{LoadedCertificate, StoredCertificate};
use super::challenge::Http01Responder;
use super::cluster::Cluster;
use super::error::TlsError;
use super::http_client::AcmeHttpClient;
use super::issue::Issuer;
use super::options::AcmeOptions;
use super::resolver::CertResolver;
use super::schedule::{default_renewal_time, retry_delay, time_in_window};
use super::status::{CertStatus, Progress};
use super::store::{CERTIFICATE_KEY, CertStore};

/// An attempt (account, order, validation, download) that takes longer is abandoned.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(300);
/// The task wakes at least this often to look at the wall clock again (suspend, clock jumps).
const MAX_SLEEP: Duration = Duration::from_secs(3600);
/// A rejected nonce is retried quickly this many times before the normal backoff applies.
const QUICK_RETRIES: u32 = 3;
const QUICK_RETRY_DELAY: Duration = Duration::from_secs(5);

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

/// What the store holds under [`CERTIFICATE_KEY`].
enum Stored {
    Nothing,
    Usable(Box<LoadedCertificate>),
    /// Expired or unreadable: why.
    Unusable(String),
}

async fn read_stored(store: &dyn CertStore) -> Result<Stored, TlsError> {
    let Some(bytes) = store.load(CERTIFICATE_KEY).await? else {
        return Ok(Stored::Nothing);
    };
    let loaded = StoredCertificate::from_bytes(&bytes).and_then(LoadedCertificate::from_record);
    Ok(match loaded {
        Ok(loaded) if loaded.not_after > Utc::now() => Stored::Usable(Box::new(loaded)),
        Ok(loaded) => Stored::Unusable(format!("the stored certificate expired at {}", loaded.not_after)),
        Err(err) => Stored::Unusable(format!("the stored certificate is unusable: {err}")),
    })
}

/// A cheap, cloneable handle on the running manager. Keep it (or a clone) for as long as
/// HTTPS is served; the background task runs until [`CertManagerHandle::stop`].
#[derive(Clone)]
pub struct CertManagerHandle {
    inner: Arc<HandleInner>,
}

struct HandleInner {
    resolver: Arc<CertResolver>,
    http01: Http01Responder,
    status: watch::Receiver<Progress>,
    task: JoinHandle<()>,
    domains: Vec<String>,
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
    /// The SNI resolver for [`super::server_config`]; it follows renewals by itself.
    pub fn resolver(&self) -> Arc<dyn ResolvesServerCert> {
        self.inner.resolver.clone()
    }

    /// HTTP-01 answers for [`super::HttpsRedirect`].
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

    /// Whether the background task has ended (after [`Self::stop`]).
    pub fn is_stopped(&self) -> bool {
        self.inner.task.is_finished()
    }

    /// Stops obtaining and renewing. The resolver keeps serving what it has.
    pub fn stop(&self) {
        self.inner.task.abort();
    }
}

/// What we know of the CA's renewal information (RFC 9773) for the current certificate.
#[derive(Debug, Clone)]
enum Ari {
    /// Not asked yet (or the certificate changed).
    Unknown,
    /// The CA has no renewal information, or the certificate has no identifier for it.
    Unsupported,
    Advised {
        renew_at: DateTime<Utc>,
        ask_again_at: DateTime<Utc>,
    },
    /// Asking failed; use the default schedule meanwhile and ask again after `retry_max`
    /// (renewal information is advice, not worth hammering an unreachable CA for).
    Failed {
        ask_again_at: DateTime<Utc>,
    },
}

struct Worker {
    issuer: Issuer,
    status: watch::Sender<Progress>,
    cluster: Cluster,
    current: Option<LoadedCertificate>,
    account: Option<Account>,
    failures: u32,
    retry_at: Option<DateTime<Utc>>,
    ari: Ari,
}

impl Worker {
    async fn run(mut self) {
        let mut was_leading = self.cluster.is_leading();
        loop {
            let leading = self.cluster.is_leading();
            if leading != was_leading {
                if leading {
                    tracing::info!("this node leads now: it orders and renews the certificate");
                    // The old leader may have renewed since this node last looked.
                    self.follow_store().await;
                    self.failures = 0;
                    self.retry_at = None;
                } else {
                    tracing::info!("this node follows now: it serves the certificate the leader stores");
                }
                was_leading = leading;
            }
            let wake = if leading {
                Some(self.lead().await)
            } else {
                self.follow_store().await;
                None
            };
            self.publish(leading);
            let sleep = wake.map_or(MAX_SLEEP, |wake| (wake - Utc::now()).to_std().unwrap_or(Duration::ZERO));
            tokio::select! {
                _ = tokio::time::sleep(sleep.min(MAX_SLEEP)) => {}
                _ = self.cluster.changed(!leading) => {}
            }
        }
    }

    /// One step of a leader's work (an order when one is due, else renewal information when it
    /// is due); returns when there is something to do next.
    async fn lead(&mut self) -> DateTime<Utc> {
        let now = Utc::now();
        if now >= self.order_due_at(now) {
            self.attempt().await;
        } else if self.ari_due(now) {
            self.ask_renewal_info().await;
        }
        let mut wake = self.order_due_at(Utc::now());
        if let Some(ask) = self.ari_ask_at() {
            wake = wake.min(ask);
        }
        wake
    }

    /// Serves the certificate in the (replicated) store when it is newer than the one served.
    async fn follow_store(&mut self) {
        self.cluster.mark_store_seen();
        match read_stored(self.issuer.store.as_ref()).await {
            Ok(Stored::Usable(loaded)) => {
                let newer = self
                    .current
                    .as_ref()
                    .is_none_or(|c| c.serial_hex != loaded.serial_hex && loaded.not_after >= c.not_after);
                if newer {
                    tracing::info!(
                        serial = %loaded.serial_hex,
                        not_after = %loaded.not_after,
                        "serving the certificate the leader stored"
                    );
                    self.install(*loaded, false);
                }
            }
            Ok(Stored::Nothing | Stored::Unusable(_)) => {}
            Err(err) => tracing::warn!(error = %err, "cannot read the stored certificate"),
        }
    }

    /// When the served certificate must be replaced (or, after failures, the next retry).
    fn order_due_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let scheduled = match &self.current {
            Some(current) if !self.must_replace(current) => self.renewal_time(current),
            _ => now,
        };
        match self.retry_at {
            Some(retry) => scheduled.max(retry),
            None => scheduled,
        }
    }

    fn must_replace(&self, current: &LoadedCertificate) -> bool {
        let options = &self.issuer.options;
        !current.covers(&options.domains) || current.record.directory_url != options.directory_url
    }

    fn renewal_time(&self, current: &LoadedCertificate) -> DateTime<Utc> {
        match &self.ari {
            Ari::Advised { renew_at, .. } => *renew_at,
            _ => default_renewal_time(current.not_before, current.not_after),
        }
    }

    fn ari_ask_at(&self) -> Option<DateTime<Utc>> {
        match (&self.ari, &self.current) {
            (_, None) => None,
            (Ari::Unknown, Some(_)) => Some(Utc::now()),
            (Ari::Unsupported, _) => None,
            (Ari::Advised { ask_again_at, .. } | Ari::Failed { ask_again_at }, Some(_)) => Some(*ask_again_at),
        }
    }

    fn ari_due(&self, now: DateTime<Utc>) -> bool {
        self.ari_ask_at().is_some_and(|at| now >= at)
    }

    async fn ask_renewal_info(&mut self) {
        let Some(id) = self.current.as_ref().and_then(|c| c.ari_id.clone()) else {
            self.ari = Ari::Unsupported;
            return;
        };
        let account = match self.account.take() {
            Some(account) => account,
            None => match self.issuer.account().await {
                Ok(account) => account,
                Err(err) => {
                    tracing::debug!(error = %err, "cannot ask for renewal information");
                    self.ari = Ari::Failed { ask_again_at: Utc::now() + delta(self.issuer.options.retry_max) };
                    return;
                }
            },
        };
        let answer = account.renewal_info(&id).await;
        self.account = Some(account);
        let now = Utc::now();
        self.ari = match answer {
            Ok((info, retry_after)) => {
                let window = &info.suggested_window;
                let (Some(start), Some(end)) = (
                    DateTime::from_timestamp(window.start.unix_timestamp(), 0),
                    DateTime::from_timestamp(window.end.unix_timestamp(), 0),
                ) else {
                    self.ari = Ari::Unsupported;
                    return;
                };
                let renew_at = time_in_window(start, end, now, rand::random::<f64>());
                let ask_again = retry_after.clamp(Duration::from_secs(60), Duration::from_secs(86_400));
                tracing::info!(%start, %end, %renew_at, "CA renewal information received");
                Ari::Advised { renew_at, ask_again_at: now + delta(ask_again) }
            }
            Err(instant_acme::Error::Unsupported(_)) => Ari::Unsupported,
            Err(err) => {
                tracing::debug!(error = %err, "renewal information request failed");
                Ari::Failed { ask_again_at: now + delta(self.issuer.options.retry_max) }
            }
        };
    }

    async fn attempt(&mut self) {
        let outcome =
            tokio::time::timeout(ATTEMPT_LIMIT, self.obtain()).await.unwrap_or(Err(TlsError::Timeout(ATTEMPT_LIMIT)));
        match outcome {
            Ok(loaded) => {
                tracing::info!(
                    names = ?loaded.names,
                    serial = %loaded.serial_hex,
                    not_after = %loaded.not_after,
                    "certificate obtained"
                );
                let record = loaded.record.clone();
                self.install(loaded, true);
                self.failures = 0;
                self.retry_at = None;
                // Saved after installing: a store failure must not waste the new certificate.
                let saved = self.issuer.store.save(CERTIFICATE_KEY, record.to_bytes()).await;
                let last_error = match saved {
                    Ok(()) => None,
                    Err(err) => {
                        tracing::error!(error = %err, "could not save the new certificate; it is served but will be ordered again after a restart");
                        Some(err.to_string())
                    }
                };
                self.status.send_modify(|p| p.last_error = last_error);
            }
            Err(err) => {
                self.failures += 1;
                if !err.is_transient() {
                    // Fetch the directory again next time: it may have moved or restarted.
                    self.account = None;
                }
                let options = &self.issuer.options;
                let delay = if err.is_transient() && self.failures <= QUICK_RETRIES {
                    QUICK_RETRY_DELAY.min(options.retry_base)
                } else {
                    retry_delay(self.failures, options.retry_base, options.retry_max, rand::random())
                };
                self.retry_at = Some(Utc::now() + delta(delay));
                tracing::warn!(
                    error = %err,
                    failures = self.failures,
                    retry_in = ?delay,
                    still_serving = self.current.is_some(),
                    "could not obtain a certificate"
                );
                let message = err.to_string();
                self.status.send_modify(|p| {
                    p.last_error = Some(message);
                    p.consecutive_failures = self.failures;
                    p.failures_total += 1;
                });
            }
        }
    }

    async fn obtain(&mut self) -> Result<LoadedCertificate, TlsError> {
        let mut account = match self.account.take() {
            Some(account) => account,
            None => self.issuer.account().await?,
        };
        let replaces = match (&self.ari, &self.current) {
            (Ari::Advised { .. }, Some(current)) if !self.must_replace(current) => current.ari_id.clone(),
            _ => None,
        };
        let result = self.issuer.obtain(&mut account, replaces).await;
        self.account = Some(account);
        let loaded = LoadedCertificate::from_record(result?)?;
        if !loaded.covers(&self.issuer.options.domains) {
            return Err(TlsError::BadCertificate(format!(
                "it names {:?}, not all of {:?}",
                loaded.names, self.issuer.options.domains
            )));
        }
        Ok(loaded)
    }

    fn install(&mut self, loaded: LoadedCertificate, issued: bool) {
        self.issuer.resolver.set_current(loaded.certified.clone());
        self.ari = Ari::Unknown;
        self.status.send_modify(|p| {
            p.not_after = Some(loaded.not_after);
            p.serial = Some(loaded.serial_hex.clone());
            p.consecutive_failures = 0;
            if issued {
                p.issued_total += 1;
            }
        });
        self.current = Some(loaded);
    }

    fn publish(&self, leading: bool) {
        let next = leading.then(|| self.order_due_at(Utc::now()));
        let renewal_info = leading && matches!(self.ari, Ari::Advised { .. });
        self.status.send_modify(|p| {
            p.next_renewal_at = next;
            p.renewal_info = renewal_info;
            p.orders = leading;
        });
    }
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}
