//! Progress of a long import, reported to a terminal progress bar (CLI) or to the in-memory job
//! registry that the admin page polls.

pub trait Progress: Send + Sync {
    /// A new phase starts; `total` items if known.
    fn phase(&self, name: &str, total: Option<u64>);
    /// `n` more items of the current phase are done.
    fn advance(&self, n: u64);
    /// A line worth showing to the operator (kept short).
    fn note(&self, _line: &str) {}
}

/// Reports nowhere.
pub struct Silent;

impl Progress for Silent {
    fn phase(&self, _name: &str, _total: Option<u64>) {}
    fn advance(&self, _n: u64) {}
}
