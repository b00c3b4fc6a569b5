//! The background work of a running node: the scheduler's periodic jobs (on the leader only) and
//! the database's integrity check (on every node).

use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::replication;
use super::storage::Storage;
use crate::config::Config;
use crate::http::AppState;
use crate::ops::scheduler::{Intervals, Scheduler, SchedulerHandle};

/// How often `PRAGMA quick_check` runs (the first run is at start).
const INTEGRITY_CHECK_INTERVAL: Duration = Duration::from_secs(24 * 3600);

pub struct Jobs {
    scheduler: SchedulerHandle,
    /// The daily quick_check, stopped with the server (it holds the database).
    integrity_checks: JoinHandle<()>,
}

impl Jobs {
    /// Starts both; the scheduler runs its jobs while `leading` is true.
    pub async fn start(
        config: &Config,
        storage: &Storage,
        state: &AppState,
        leading: watch::Receiver<bool>,
    ) -> anyhow::Result<Self> {
        // quick_check at start (in the background: a large database takes seconds) and daily.
        let checked = storage.db.clone();
        let integrity_checks = tokio::spawn(async move {
            let mut daily = tokio::time::interval(INTEGRITY_CHECK_INTERVAL);
            loop {
                daily.tick().await;
                let _ = checked.quick_check().await;
            }
        });
        let backup_verify = match &storage.failover {
            Some(f) => {
                let metrics = state.obs.metrics.backup.clone();
                // The last success survives restarts (for the "backup stale" alert).
                let runs = storage.domain.all_job_runs().await.context("cannot read job_runs")?;
                if let Some(at) = runs.iter().find(|j| j.job == "backup_verify").and_then(|j| j.last_success) {
                    metrics.restore_last_success(at);
                }
                Some(replication::verify_job(config, f, metrics))
            }
            None => None,
        };
        let intervals = Intervals::from_config(config);
        let scheduler =
            Scheduler::standard(storage.db.clone(), state.importer.clone(), &intervals, backup_verify).start(leading);
        Ok(Jobs { scheduler, integrity_checks })
    }

    /// Stops the jobs (they write, and the verify job holds the replicator) before the writer stops.
    pub async fn stop(self) {
        self.scheduler.stop().await;
        self.integrity_checks.abort();
    }
}
