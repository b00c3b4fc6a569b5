//! The background task's loop: lead (order, renew) or follow (serve what the leader stored), then publish.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use instant_acme::Account;
use tokio::sync::watch;

use super::renewal_info::Ari;
use super::stored::{Stored, read_stored};
use crate::tls::certificate::LoadedCertificate;
use crate::tls::cluster::Cluster;
use crate::tls::issue::Issuer;
use crate::tls::status::Progress;

/// The task wakes at least this often to look at the wall clock again (suspend, clock jumps).
const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// The background task's state. Its methods live by purpose in this file, `order` and `renewal_info`,
/// hence the fields are visible to the whole manager module.
pub(super) struct Worker {
    pub(super) issuer: Issuer,
    pub(super) status: watch::Sender<Progress>,
    pub(super) cluster: Cluster,
    pub(super) current: Option<LoadedCertificate>,
    pub(super) account: Option<Account>,
    pub(super) failures: u32,
    pub(super) retry_at: Option<DateTime<Utc>>,
    pub(super) ari: Ari,
}

impl Worker {
    pub(super) async fn run(mut self) {
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

    pub(super) fn install(&mut self, loaded: LoadedCertificate, issued: bool) {
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

    pub(super) fn publish(&self, leading: bool) {
        let next = leading.then(|| self.order_due_at(Utc::now()));
        let renewal_info = leading && matches!(self.ari, Ari::Advised { .. });
        self.status.send_modify(|p| {
            p.next_renewal_at = next;
            p.renewal_info = renewal_info;
            p.orders = leading;
        });
    }
}

pub(super) fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}
