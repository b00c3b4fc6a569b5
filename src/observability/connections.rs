//! Counters of the connection loop (`app::server`), read by /metrics at scrape time.

use std::sync::atomic::{AtomicU64, AtomicUsize};

#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: AtomicUsize,
    /// Connections closed at once because their address held `http.max_connections_per_address`.
    pub refused_per_address: AtomicU64,
    /// `accept` failures (descriptors used up, out of memory), each followed by a back-off.
    pub accept_errors: AtomicU64,
    /// Connections closed for moving no byte for `http.idle_timeout`.
    pub timed_out: AtomicU64,
}
