//! Replication settings -> [`ReplicatorOptions`]. Starting, the durability gate for
//! `ack = "replicated"`, restore-if-missing and readiness belong to the failover machinery
//! (`crate::failover`), which decides when this node replicates at all.

use std::sync::Arc;

use anyhow::Context;

use crate::config::{self, Config};
use crate::failover::Failover;
use crate::replicate::{AckMode, PageEncoding, ReplicatorOptions};

pub fn options(c: &Config) -> ReplicatorOptions {
    let r = &c.settings.replication;
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let mut o = ReplicatorOptions::new(r.url.clone());
    o.endpoint = non_empty(&r.endpoint);
    o.region = r.region.clone();
    o.force_path_style = r.force_path_style;
    o.access_key_id = non_empty(r.access_key_id.expose());
    o.secret_access_key = non_empty(r.secret_access_key.expose());
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

/// The scheduler's `backup_verify` job: the replicator's exact backup drill (restore the newest TXID
/// into a temporary directory, integrity check, page-by-page comparison with the live database),
/// reported to the backup metrics that the alerts and the status page read. Runs on the leader,
/// whose replicator changes with each takeover, so the job asks failover for the current one.
pub fn verify_job(
    c: &Config,
    failover: &Arc<Failover>,
    metrics: crate::observability::metrics::BackupMetrics,
) -> crate::ops::scheduler::JobFn {
    let opts = options(c);
    let failover = Arc::downgrade(failover);
    Arc::new(move || {
        let (failover, opts, metrics) = (failover.clone(), opts.clone(), metrics.clone());
        Box::pin(async move {
            let Some(handle) = failover.upgrade().and_then(|f| f.replicator()) else {
                anyhow::bail!("this node is not replicating (not the leader): nothing to verify");
            };
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
                    tracing::info!(txid = %report.txid, pages = report.pages, "backup verified");
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
