//! The readiness checks of storage and failover that `/readyz` runs (the certificate's is added
//! with HTTPS), and what a follower says about its freshness.

use std::sync::Arc;

use super::storage::Storage;
use crate::config::Config;
use crate::health::{NotReady, thresholds};
use crate::http::{AppState, Freshness};

pub fn register(state: &AppState, storage: &Storage, config: &Config) {
    // A read-only mount or lost permissions make every write fail: take the node out of rotation.
    let db = storage.db.clone();
    state.add_readiness_check("database files", Arc::new(move || Ok(db.check_files_writable()?)));
    // A full or failing disk: writes answer 503 until it recovers (the writer logs the change).
    let db = storage.db.clone();
    state.add_readiness_check(
        "storage",
        Arc::new(move || match db.writer_stats().storage_failing {
            true => Err(NotReady::StorageFailing),
            false => Ok(()),
        }),
    );
    let db = storage.db.clone();
    state.add_readiness_check("database integrity", Arc::new(move || Ok(db.integrity().unwrap_or(Ok(()))?)));
    if let Some(f) = &storage.failover {
        // Ready only on the node that accepts writes, and there while replication keeps up.
        let lag_bound = thresholds::replication_lag_bound(config.settings.replication.sync_interval);
        state.add_readiness_check("role", f.readiness(lag_bound));
        // A follower says how far behind it may be (headers, and a notice once it is stale).
        let (weak, stale_after) = (Arc::downgrade(f), config.settings.failover.stale_after);
        *state.freshness.write() = Some(Arc::new(move || {
            let s = weak.upgrade()?.status();
            let lag = s.lag.filter(|_| !s.accepting_writes)?;
            Some(Freshness { txid: s.txid, lag, stale: lag > stale_after })
        }));
    }
}
