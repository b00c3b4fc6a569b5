//! A lock-free latency histogram with fine buckets, for percentiles on the status page and in the
//! minute time series (the Prometheus histogram's buckets are coarser and cannot be read back).

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds in seconds; roughly ×1.5 apart so that an interpolated percentile is within ~25 %.
pub const BOUNDS: [f64; 26] = [
    0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5,
    0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0,
];
/// Buckets: one per bound plus one for slower requests.
pub const BUCKETS: usize = BOUNDS.len() + 1;

pub type Counts = [u64; BUCKETS];

#[derive(Debug, Default)]
pub struct LatencyHistogram {
    counts: [AtomicU64; BUCKETS],
}

impl LatencyHistogram {
    pub fn observe(&self, seconds: f64) {
        let i = BOUNDS.iter().position(|b| seconds <= *b).unwrap_or(BOUNDS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Cumulative counts since start (not cumulative across buckets).
    pub fn snapshot(&self) -> Counts {
        std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed))
    }
}

/// Per-bucket difference `now - before` (counters only grow).
pub fn delta(now: &Counts, before: &Counts) -> Counts {
    std::array::from_fn(|i| now[i].saturating_sub(before[i]))
}

pub fn add(into: &mut Counts, more: &Counts) {
    for (a, b) in into.iter_mut().zip(more) {
        *a += b;
    }
}

/// The `q` quantile (0..1) in seconds, interpolated linearly inside its bucket; None without data.
/// Requests slower than the last bound are reported as that bound.
pub fn quantile(counts: &Counts, q: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
    let mut seen = 0u64;
    for (i, &n) in counts.iter().enumerate() {
        if n == 0 {
            continue;
        }
        if (seen + n) as f64 >= rank {
            let Some(&upper) = BOUNDS.get(i) else { return Some(BOUNDS[BOUNDS.len() - 1]) };
            let lower = if i == 0 { 0.0 } else { BOUNDS[i - 1] };
            let within = (rank - seen as f64) / n as f64;
            return Some(lower + (upper - lower) * within);
        }
        seen += n;
    }
    Some(BOUNDS[BOUNDS.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_land_in_the_right_bucket() {
        let h = LatencyHistogram::default();
        for _ in 0..90 {
            h.observe(0.004); // bucket (0.003, 0.005]
        }
        for _ in 0..10 {
            h.observe(0.8); // bucket (0.75, 1.0]
        }
        let c = h.snapshot();
        let p50 = quantile(&c, 0.5).unwrap();
        assert!((0.003..=0.005).contains(&p50), "{p50}");
        let p99 = quantile(&c, 0.99).unwrap();
        assert!((0.75..=1.0).contains(&p99), "{p99}");
        assert_eq!(quantile(&[0; BUCKETS], 0.5), None);
        h.observe(60.0);
        assert_eq!(quantile(&h.snapshot(), 1.0), Some(10.0));
    }
}
