//! When a certificate is due (lifetime, renewal advice, retries) and one order attempt with its backoff.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::renewal_info::Ari;
use super::worker::{Worker, delta};
use crate::tls::certificate::LoadedCertificate;
use crate::tls::error::TlsError;
use crate::tls::schedule::{default_renewal_time, retry_delay};
use crate::tls::store::CERTIFICATE_KEY;

/// An attempt (account, order, validation, download) that takes longer is abandoned.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(300);
/// A rejected nonce is retried quickly this many times before the normal backoff applies.
const QUICK_RETRIES: u32 = 3;
const QUICK_RETRY_DELAY: Duration = Duration::from_secs(5);

impl Worker {
    /// When the served certificate must be replaced (or, after failures, the next retry).
    pub(super) fn order_due_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
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

    pub(super) async fn attempt(&mut self) {
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
}
