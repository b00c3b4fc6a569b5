//! [`CommitSeq`]: the writer's commit sequence, kept apart from Litestream TXIDs
//! ([`crate::replicate::Txid`]) so that the two counters cannot be mixed up.

/// The number of groups the writer committed since it started (0: none yet). The replication
/// shipper follows it, and a write is durable once the shipper has stored its sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct CommitSeq(pub u64);

impl CommitSeq {
    pub fn get(self) -> u64 {
        self.0
    }

    /// The sequence of the group committed after this one.
    pub fn next(self) -> CommitSeq {
        CommitSeq(self.0 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_follows_and_orders() {
        assert_eq!(CommitSeq::default().next(), CommitSeq(1));
        assert!(CommitSeq(2) > CommitSeq(1));
    }
}
