//! Storage at start: the one-server lock, the failover boot (restore, or wait for the leader's first
//! backup), the database opened as leader or follower, and the domain over it.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;

use super::replication;
use super::systemd::extending_start_timeout;
use crate::config::Config;
use crate::db::server_lock::ServerLock;
use crate::db::{Database, DbOptions};
use crate::domain::Domain;
use crate::failover::{self, Failover, FailoverConfig};

pub struct Storage {
    pub db: Database,
    pub domain: Arc<Domain>,
    /// With replication on: the failover machinery (role, followed TXID, promotion).
    pub failover: Option<Arc<Failover>>,
    /// Bumped after every apply on a follower: the certificate manager reloads the stored one.
    pub store_changed: watch::Receiver<u64>,
    /// Held until the server has stopped: one server per database, visible to commands beside it.
    pub _lock: ServerLock,
}

impl Storage {
    pub async fn open(config: &Arc<Config>) -> anyhow::Result<Self> {
        let open_err = || format!("cannot open the database at {}", config.database_path().display());
        // Before anything touches the data directory (a restore at boot included).
        let lock = ServerLock::acquire(&config.database_path()).context("cannot serve")?;
        let options = DbOptions::from_config(config);
        let (db, failover) = if config.replication_enabled() {
            // With replication on, the lease decides whether this node leads (and writes) or follows.
            let fcfg = FailoverConfig::from_config(config, replication::options(config));
            // Restoring the bucket or waiting for the primary's first backup can outlast the unit's
            // start timeout: keep asking systemd for more time until boot returns.
            let booted = extending_start_timeout(failover::boot(&fcfg)).await.context("cannot start failover")?;
            let db = match booted.is_leader() {
                true => Database::open(&options),
                false => Database::open_follower(&options),
            }
            .with_context(open_err)?;
            tracing::info!(
                url = %config.settings.replication.url,
                ack = ?config.settings.replication.ack,
                node = fcfg.node_id,
                leader = booted.is_leader(),
                "replicating"
            );
            let f = Failover::start(fcfg, booted, db.clone()).context("cannot start failover")?;
            (db, Some(f))
        } else {
            (Database::open(&options).with_context(open_err)?, None)
        };
        let domain = Domain::new(db.clone(), config.clone()).await.context("cannot initialise the application")?;
        let (store_changed_tx, store_changed) = watch::channel(0u64);
        if let Some(f) = &failover {
            let d = Arc::downgrade(&domain);
            f.on_data_changed(Arc::new(move || {
                if let Some(d) = d.upgrade() {
                    d.data_changed();
                }
                store_changed_tx.send_modify(|n| *n = n.wrapping_add(1));
            }));
        }
        Ok(Storage { db, domain, failover, store_changed, _lock: lock })
    }

    /// Whether this node takes writes now: the leader, or a node without replication.
    pub fn accepts_writes(&self, config: &Config) -> bool {
        match &self.failover {
            Some(f) => f.accepting_writes(),
            None => config.settings.role == crate::config::Role::Primary,
        }
    }

    /// With `--demo` on a node that writes: loads the demo dataset once and returns the path
    /// (`/reset/<token>`) of a one-time link that sets the demo admin's password and signs in.
    pub async fn prepare_demo(&self, config: &Config) -> anyhow::Result<Option<String>> {
        if !self.accepts_writes(config) {
            tracing::info!("--demo ignored: this node follows the leader, whose data it serves");
            return Ok(None);
        }
        if self.domain.load_demo().await.context("cannot load the demo dataset")? {
            tracing::info!("loaded the demo dataset");
        }
        let link = self.domain.demo_admin_link().await.context("cannot make the demo admin's sign-in link")?;
        Ok(Some(format!("/reset/{}", link.token)))
    }
}
