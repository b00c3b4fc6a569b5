//! `mysetlist promote`: the planned switch-over, run on the standby that is to lead.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::probe;
use crate::config::Config;
use crate::failover::FailoverConfig;
use crate::failover::promote::{Promoted, promote as take_over};

pub async fn promote(config: &Config, timeout: Duration) -> anyhow::Result<ExitCode> {
    if !config.replication_enabled() {
        anyhow::bail!("replication.url is not set: without a bucket there is no lease to hand over");
    }
    let fcfg = FailoverConfig::from_config(config, crate::app::replication::options(config));
    let deadline = Instant::now() + timeout;
    match take_over(&fcfg, timeout).await? {
        Promoted::AlreadyLeader { term } => println!("{} already leads (term {term}); nothing to do", fcfg.node_id),
        Promoted::TookOver { from, term, txid } => {
            println!("{} now leads (term {term}, taken over from {from} at TXID {txid})", fcfg.node_id)
        }
    }
    // The lease is ours; writes are accepted once the takeover's first commit is stored.
    let base = probe::local_base(config);
    if !probe::wait_ready(&base, deadline).await {
        anyhow::bail!("this node holds the lease but {base}/readyz did not answer 200 in time");
    }
    println!("{base} accepts writes");
    Ok(ExitCode::SUCCESS)
}
