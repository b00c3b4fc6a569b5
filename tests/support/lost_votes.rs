//! The failover loss rule, written once: every vote a node acknowledged must be on the node that
//! serves afterwards. Used by the failover integration test (tests/api/failover.rs) and, through the
//! `lost_votes` example program, by the failover mirror (vm-tests/mirror/failover.sh).

use std::collections::BTreeSet;

/// What a check found: how many distinct votes were acknowledged, and which of them are missing.
#[derive(Debug)]
pub struct Loss<T> {
    pub acknowledged: usize,
    pub lost: Vec<T>,
}

/// Compares the acknowledged votes (a vote acknowledged twice counts once) with what the node has.
pub fn lost_votes<T: Ord + Clone>(acknowledged: &[T], present: impl Fn(&T) -> bool) -> Loss<T> {
    let distinct: BTreeSet<&T> = acknowledged.iter().collect();
    let lost = distinct.iter().filter(|vote| !present(vote)).map(|vote| (*vote).clone()).collect();
    Loss { acknowledged: distinct.len(), lost }
}
