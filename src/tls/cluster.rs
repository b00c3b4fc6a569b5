//! One certificate for the nodes of a failover cluster. The store is the replicated database, so
//! only the leader may write it: the leader alone orders and renews (a follower's orders could
//! not be stored and would spend the CA's failed-validation limit), followers serve what the
//! leader stored and reload it whenever their copy changes, and a node that takes over serves the
//! newest stored certificate and carries on renewing it.

use tokio::sync::watch;

/// What the certificate manager needs to know of the cluster around it.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// True while this node leads (and so may write the store).
    pub leading: watch::Receiver<bool>,
    /// Changes whenever the store may have changed under this node (an apply from the leader).
    pub store_changed: watch::Receiver<u64>,
}

impl Cluster {
    /// A node on its own: always leading, and only it writes its store.
    pub fn single() -> Self {
        Self { leading: watch::channel(true).1, store_changed: watch::channel(0).1 }
    }

    pub(crate) fn is_leading(&mut self) -> bool {
        *self.leading.borrow_and_update()
    }

    /// Marks every store change so far as seen (before reading the store, so that a change
    /// during the read wakes [`Cluster::changed`] again).
    pub(crate) fn mark_store_seen(&mut self) {
        self.store_changed.borrow_and_update();
    }

    /// Resolves when leadership changes or, with `or_store`, when the store may have changed;
    /// never for a channel nobody can change any more.
    pub(crate) async fn changed(&mut self, or_store: bool) {
        let Self { leading, store_changed } = self;
        tokio::select! {
            _ = changed_or_never(leading) => {}
            _ = changed_or_never(store_changed), if or_store => {}
        }
    }
}

async fn changed_or_never<T>(receiver: &mut watch::Receiver<T>) {
    if receiver.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_single_node_leads_and_never_wakes_for_changes() {
        let mut single = Cluster::single();
        assert!(single.is_leading());
        let woke = tokio::time::timeout(Duration::from_millis(50), single.changed(true)).await;
        assert!(woke.is_err(), "closed channels must not wake the manager in a loop");
    }

    #[tokio::test]
    async fn changes_wake_the_waiter() {
        let (lead_tx, leading) = watch::channel(false);
        let (changed_tx, store_changed) = watch::channel(0);
        let mut cluster = Cluster { leading, store_changed };
        assert!(!cluster.is_leading());
        changed_tx.send_modify(|n| *n += 1);
        let ignored = tokio::time::timeout(Duration::from_millis(50), cluster.changed(false)).await;
        assert!(ignored.is_err(), "a leader does not wake for store changes");
        tokio::time::timeout(Duration::from_secs(1), cluster.changed(true)).await.unwrap();
        cluster.mark_store_seen();
        lead_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(1), cluster.changed(false)).await.unwrap();
        assert!(cluster.is_leading());
    }
}
