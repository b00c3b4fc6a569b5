//! The CA's renewal information (RFC 9773): what we know of it and asking for it.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::worker::{Worker, delta};
use crate::tls::schedule::time_in_window;

/// What we know of the CA's renewal information (RFC 9773) for the current certificate.
#[derive(Debug, Clone)]
pub(super) enum Ari {
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

impl Worker {
    pub(super) fn ari_ask_at(&self) -> Option<DateTime<Utc>> {
        match (&self.ari, &self.current) {
            (_, None) => None,
            (Ari::Unknown, Some(_)) => Some(Utc::now()),
            (Ari::Unsupported, _) => None,
            (Ari::Advised { ask_again_at, .. } | Ari::Failed { ask_again_at }, Some(_)) => Some(*ask_again_at),
        }
    }

    pub(super) fn ari_due(&self, now: DateTime<Utc>) -> bool {
        self.ari_ask_at().is_some_and(|at| now >= at)
    }

    pub(super) async fn ask_renewal_info(&mut self) {
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
}
