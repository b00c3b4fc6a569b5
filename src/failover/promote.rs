//! `mysetlist promote`: a planned switch-over to *this* node, run on the standby's host.
//!
//! It needs no connection to the leader: it writes a hand-over request into the lease object
//! (`handover_to = <this node>`, `If-Match`), which the leader finds at its next renewal. The
//! leader stops accepting writes, ships every commit, and releases the lease with the final
//! TXID; this node's running server catches up to it and takes over. The command then waits
//! until the lease names this node.

use std::time::Duration;

use tokio::time::Instant;

use super::lease::{Lease, LeaseStore, Written};
use super::{FailoverConfig, FailoverError};
use crate::replicate::Txid;

/// How a promotion ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Promoted {
    /// This node already held the lease.
    AlreadyLeader { term: u64 },
    /// The lease moved to this node.
    TookOver { from: String, term: u64, txid: Txid },
}

/// Asks the leader to hand over to this node and waits (up to `timeout`) until it has.
pub async fn promote(cfg: &FailoverConfig, timeout: Duration) -> Result<Promoted, FailoverError> {
    let store = LeaseStore::new(&cfg.replication, cfg.lease_ttl)?;
    let node = cfg.node_id.as_str();
    let deadline = Instant::now() + timeout;
    let mut from: Option<String> = None;
    let mut asked = false;
    loop {
        if Instant::now() >= deadline {
            return Err(FailoverError::PromoteTimedOut {
                node: node.to_string(),
                waited: timeout,
                leader: from.unwrap_or_else(|| "unknown".into()),
            });
        }
        let current = match store.read().await {
            Ok(Some(o)) => o,
            Ok(None) => return Err(FailoverError::NoLease { key: store.key().to_string() }),
            Err(e) => {
                tracing::warn!(error = %e, "reading the lease failed; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let l = &current.lease;
        if l.holder == node && !l.released {
            return Ok(match from {
                None => Promoted::AlreadyLeader { term: l.term },
                Some(from) => Promoted::TookOver { from, term: l.term, txid: l.txid },
            });
        }
        from.get_or_insert_with(|| l.holder.clone());
        // Released (to us or anyone): the local server takes it. Otherwise (re-)post the request:
        // a renewal racing with it on a non-atomic S3 server may have overwritten it.
        if !l.released && l.handover_to.as_deref() != Some(node) {
            let request = Lease { handover_to: Some(node.to_string()), ..l.clone() };
            match store.replace(&current.etag, &request).await {
                Ok(Written::Stored(_)) if !asked => {
                    println!("asked {} to hand the lease over to {node}", l.holder);
                    asked = true;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "writing the hand-over request failed; retrying"),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
