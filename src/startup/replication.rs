//! Wiring replication into the application: settings -> options, restore-if-missing before the
//! database opens, the durability gate for `ack = "replicated"`, and readiness.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::config::{self, Config};
use crate::db::{DbError, DurabilityGate};
use crate::replicate::{self, AckMode, PageEncoding, ReplicateError, ReplicatorHandle, ReplicatorOptions};

/// Replication lag beyond which /readyz reports the node as not ready.
pub const READY_LAG_BOUND: Duration = Duration::from_secs(60);

pub fn options(c: &Config) -> ReplicatorOptions {
    let r = &c.settings.replication;
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let mut o = ReplicatorOptions::new(r.url.clone());
    o.endpoint = non_empty(&r.endpoint);
    o.region = r.region.clone();
    o.force_path_style = r.force_path_style;
    o.access_key_id = non_empty(&r.access_key_id);
    o.secret_access_key = non_empty(&r.secret_access_key);
    o.sync_interval = r.sync_interval;
    o.snapshot_interval = r.snapshot_interval;
    o.retention = r.retention;
    o.ack = match r.ack {
        config::AckMode::Local => AckMode::Local,
        config::AckMode::Replicated => AckMode::Replicated,
    };
    o.page_encoding = match r.page_encoding {
        config::PageEncoding::Frame => PageEncoding::Frame,
        config::PageEncoding::Block => PageEncoding::Block,
    };
    o
}

/// The disaster-recovery path: with an empty data dir and `restore_if_missing`, fetch the newest
/// backup before anything opens the database. An empty bucket means a first start: nothing to do.
pub async fn restore_if_missing(c: &Config) -> anyhow::Result<()> {
    let path = c.database_path();
    if !c.replication_enabled() || !c.settings.replication.restore_if_missing || path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    tracing::info!(url = %c.settings.replication.url, "no local database: restoring from the bucket");
    match replicate::restore(&options(c), &path, replicate::RestoreTarget::Latest, false, |_| {}).await {
        Ok(report) => {
            tracing::info!(?report, "restored the database from the bucket");
            Ok(())
        }
        Err(ReplicateError::NoBackup(_)) => {
            tracing::info!("the bucket holds no backup yet: starting with an empty database");
            Ok(())
        }
        Err(e) => Err(anyhow::Error::new(e).context("restore_if_missing: cannot restore the database")),
    }
}

/// `ack = "replicated"`: a write is acknowledged only once the LTX file holding it is in S3.
pub struct ReplicatedAck {
    pub handle: Arc<ReplicatorHandle>,
    pub timeout: Duration,
}

impl DurabilityGate for ReplicatedAck {
    fn wait(&self, seq: u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), DbError>> + Send + '_>> {
        Box::pin(async move {
            self.handle.wait_durable(seq, self.timeout).await.map_err(|e| {
                tracing::warn!(error = %e, "write committed locally but not acknowledged: not yet in S3");
                DbError::NotDurable(e.to_string())
            })
        })
    }
}

/// Not ready when replication is fenced, stopped, or lagging beyond the bound.
pub fn readiness(handle: &Arc<ReplicatorHandle>) -> crate::http::ReadinessCheck {
    let h = Arc::downgrade(handle);
    Arc::new(move || {
        let Some(h) = h.upgrade() else { return Err("replication stopped".into()) };
        let s = h.status();
        if s.fenced {
            return Err("another node owns the bucket (fenced)".into());
        }
        if !s.running {
            return Err("the replication thread is not running".into());
        }
        if s.lag_seconds > READY_LAG_BOUND.as_secs_f64() {
            return Err(format!(
                "replication is {:.0}s behind (bound {}s){}",
                s.lag_seconds,
                READY_LAG_BOUND.as_secs(),
                s.last_error.map(|e| format!("; last error: {e}")).unwrap_or_default()
            ));
        }
        Ok(())
    })
}

pub fn start(
    c: &Config,
    db_path: &Path,
    commits: tokio::sync::watch::Receiver<u64>,
) -> anyhow::Result<Arc<ReplicatorHandle>> {
    let handle = replicate::Replicator::start(options(c), db_path, commits).context("cannot start replication")?;
    Ok(Arc::new(handle))
}

/// Final sync on shutdown; waits (bounded) for in-flight users of the handle to let go.
pub async fn shutdown(mut handle: Arc<ReplicatorHandle>) {
    for _ in 0..100 {
        match Arc::try_unwrap(handle) {
            Ok(h) => {
                h.shutdown().await;
                return;
            }
            Err(shared) => {
                handle = shared;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    tracing::warn!("replication still in use at shutdown; it finishes its final sync in the background");
}

/// The scheduler's `backup_verify` job: the replicator's exact backup drill (restore the newest TXID
/// into a temporary directory, integrity check, page-by-page comparison with the live database),
/// reported to the backup metrics that the alerts and the status page read.
pub fn verify_job(
    c: &Config,
    handle: &Arc<ReplicatorHandle>,
    metrics: crate::observability::metrics::BackupMetrics,
) -> crate::ops::scheduler::JobFn {
    let opts = options(c);
    let handle = handle.clone();
    Arc::new(move || {
        let (handle, opts, metrics) = (handle.clone(), opts.clone(), metrics.clone());
        Box::pin(async move {
            // The drill's future is not provably Send (a limit of the compiler with its inner async
            // closures), so it runs to completion on a blocking thread of the same runtime.
            let runtime = tokio::runtime::Handle::current();
            let result = tokio::task::spawn_blocking(move || runtime.block_on(handle.verify(&opts)))
                .await
                .context("the backup verify task failed")
                .and_then(|r| r.context("backup verify failed"));
            let now = crate::db::now();
            match result {
                Ok(report) => {
                    metrics.verify_succeeded(now);
                    tracing::info!(txid = report.txid, pages = report.pages, "backup verified");
                    Ok(())
                }
                Err(e) => {
                    metrics.verify_failed(now);
                    Err(e)
                }
            }
        })
    })
}
