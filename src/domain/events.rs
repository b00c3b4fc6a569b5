//! Counters of what the rules decided, for monitoring. The domain only counts; whoever wants the
//! numbers (the /metrics endpoint, the status page) reads them, so the domain knows nothing of HTTP
//! or of the metrics library.

use std::sync::atomic::{AtomicU64, Ordering};

use super::DomainError;

/// Why a vote was refused. The names are stable: they become the `reason` label of
/// `mysetlist_votes_rejected_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteRejection {
    VotingClosed,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
    Invalid,
    Error,
}

impl VoteRejection {
    pub const ALL: [VoteRejection; 7] = [
        VoteRejection::VotingClosed,
        VoteRejection::NotFound,
        VoteRejection::RateLimited,
        VoteRejection::Unauthorized,
        VoteRejection::Unavailable,
        VoteRejection::Invalid,
        VoteRejection::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VoteRejection::VotingClosed => "voting_closed",
            VoteRejection::NotFound => "not_found",
            VoteRejection::RateLimited => "rate_limited",
            VoteRejection::Unauthorized => "unauthorized",
            VoteRejection::Unavailable => "unavailable",
            VoteRejection::Invalid => "invalid",
            VoteRejection::Error => "error",
        }
    }

    pub fn of(err: &DomainError) -> Self {
        match err {
            DomainError::VotingClosed => VoteRejection::VotingClosed,
            DomainError::NotFound(_) => VoteRejection::NotFound,
            DomainError::RateLimited { .. } => VoteRejection::RateLimited,
            DomainError::Unauthorized | DomainError::Forbidden(_) => VoteRejection::Unauthorized,
            DomainError::Unavailable { .. } | DomainError::Storage { .. } => VoteRejection::Unavailable,
            DomainError::Invalid { .. } | DomainError::Conflict(_) => VoteRejection::Invalid,
            DomainError::Internal(_) => VoteRejection::Error,
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).expect("ALL lists every variant")
    }
}

/// Monotonic counters of vote toggles since the process started.
#[derive(Debug, Default)]
pub struct VoteEvents {
    cast: AtomicU64,
    retracted: AtomicU64,
    rejected: [AtomicU64; VoteRejection::ALL.len()],
}

impl VoteEvents {
    pub(super) fn record_toggle(&self, voted: bool) {
        let counter = if voted { &self.cast } else { &self.retracted };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn record_rejection(&self, err: &DomainError) {
        self.rejected[VoteRejection::of(err).index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Votes that now exist after a toggle.
    pub fn cast(&self) -> u64 {
        self.cast.load(Ordering::Relaxed)
    }

    /// Votes taken back by toggling again.
    pub fn retracted(&self) -> u64 {
        self.retracted.load(Ordering::Relaxed)
    }

    /// Every accepted toggle, either way.
    pub fn toggles(&self) -> u64 {
        self.cast() + self.retracted()
    }

    pub fn rejected(&self, reason: VoteRejection) -> u64 {
        self.rejected[reason.index()].load(Ordering::Relaxed)
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_outcome() {
        let e = VoteEvents::default();
        e.record_toggle(true);
        e.record_toggle(true);
        e.record_toggle(false);
        e.record_rejection(&DomainError::VotingClosed);
        e.record_rejection(&DomainError::RateLimited { retry_after_secs: 1 });
        assert_eq!((e.cast(), e.retracted(), e.toggles()), (2, 1, 3));
        assert_eq!(e.rejected(VoteRejection::VotingClosed), 1);
        assert_eq!(e.rejected(VoteRejection::RateLimited), 1);
        assert_eq!(e.rejected_total(), 2);
    }
}
