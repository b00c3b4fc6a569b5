//! An in-process time series at minute resolution, kept for 24 hours in a ring buffer: what the
//! status page charts and the error-rate alert read. Counters are stored per minute as the increase
//! over the previous sample; gauges as the value at sampling time. Nothing is persisted: after a
//! restart the charts start empty (Prometheus is the long-term store).

use std::collections::VecDeque;

use parking_lot::Mutex;

use super::latency::{self, Counts};

/// 24 hours of minutes.
pub const CAPACITY: usize = 24 * 60;

/// Monotonic counters as read at sampling time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cumulative {
    pub requests: u64,
    pub server_errors: u64,
    pub latency: Counts,
    pub votes: u64,
    pub vote_rejections: u64,
    pub commits: u64,
    pub cpu_seconds: f64,
    pub rate_limited: u64,
    pub upload_errors: u64,
}

/// Values sampled as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gauges {
    pub sse_connections: u64,
    pub queue_depth: u64,
    pub replication_lag: f64,
    pub db_bytes: u64,
    pub wal_bytes: u64,
    pub disk_available: u64,
    pub disk_total: u64,
    pub resident_bytes: u64,
}

/// One minute: increases of the counters during it, gauges at its end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinutePoint {
    /// Unix time of the minute's start.
    pub minute: i64,
    pub requests: u64,
    pub server_errors: u64,
    pub latency: Counts,
    pub votes: u64,
    pub vote_rejections: u64,
    pub commits: u64,
    pub cpu_seconds: f64,
    pub rate_limited: u64,
    pub upload_errors: u64,
    pub gauges: Gauges,
}

impl MinutePoint {
    fn add_increase(&mut self, now: &Cumulative, before: &Cumulative) {
        self.requests += now.requests.saturating_sub(before.requests);
        self.server_errors += now.server_errors.saturating_sub(before.server_errors);
        latency::add(&mut self.latency, &latency::delta(&now.latency, &before.latency));
        self.votes += now.votes.saturating_sub(before.votes);
        self.vote_rejections += now.vote_rejections.saturating_sub(before.vote_rejections);
        self.commits += now.commits.saturating_sub(before.commits);
        self.cpu_seconds += (now.cpu_seconds - before.cpu_seconds).max(0.0);
        self.rate_limited += now.rate_limited.saturating_sub(before.rate_limited);
        self.upload_errors += now.upload_errors.saturating_sub(before.upload_errors);
    }
}

#[derive(Default)]
struct Inner {
    points: VecDeque<MinutePoint>,
    last: Cumulative,
}

#[derive(Default)]
pub struct TimeSeries {
    inner: Mutex<Inner>,
}

impl TimeSeries {
    /// Records a sample taken at `unix` (any second of the minute). Counters started at zero when the
    /// process started, so the first sample holds everything since then. A second sample in the same
    /// minute adds to that minute.
    pub fn record(&self, unix: i64, now: Cumulative, gauges: Gauges) {
        let minute = unix.div_euclid(60) * 60;
        let mut inner = self.inner.lock();
        let before = std::mem::replace(&mut inner.last, now.clone());
        match inner.points.back_mut() {
            Some(last) if last.minute == minute => {
                last.add_increase(&now, &before);
                last.gauges = gauges;
            }
            _ => {
                let mut p = MinutePoint { minute, gauges, ..Default::default() };
                p.add_increase(&now, &before);
                inner.points.push_back(p);
            }
        }
        let oldest_kept = minute - (CAPACITY as i64 - 1) * 60;
        while inner.points.len() > CAPACITY || inner.points.front().is_some_and(|p| p.minute < oldest_kept) {
            inner.points.pop_front();
        }
    }

    /// Points with `minute >= from`, oldest first.
    pub fn since(&self, from: i64) -> Vec<MinutePoint> {
        self.inner.lock().points.iter().filter(|p| p.minute >= from).cloned().collect()
    }

    /// The increase since the last sample, as a point for the current (not yet sampled) minute, so
    /// that a page shows the last few seconds too.
    pub fn unsampled(&self, unix: i64, now: &Cumulative, gauges: Gauges) -> MinutePoint {
        let inner = self.inner.lock();
        let mut p = MinutePoint { minute: unix.div_euclid(60) * 60, gauges, ..Default::default() };
        p.add_increase(now, &inner.last);
        p
    }
}

/// Totals over several minutes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    pub minutes: usize,
    pub requests: u64,
    pub server_errors: u64,
    pub latency: Counts,
    pub votes: u64,
}

impl Window {
    pub fn of(points: &[MinutePoint]) -> Self {
        let mut w = Window { minutes: points.len(), ..Default::default() };
        for p in points {
            w.requests += p.requests;
            w.server_errors += p.server_errors;
            w.votes += p.votes;
            latency::add(&mut w.latency, &p.latency);
        }
        w
    }

    pub fn error_ratio(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.server_errors as f64 / self.requests as f64)
    }

    pub fn quantile(&self, q: f64) -> Option<f64> {
        latency::quantile(&self.latency, q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cum(requests: u64, errors: u64) -> Cumulative {
        Cumulative { requests, server_errors: errors, ..Default::default() }
    }

    #[test]
    fn stores_increases_per_minute_and_merges_samples_of_one_minute() {
        let ts = TimeSeries::default();
        ts.record(600, cum(10, 1), Gauges::default());
        ts.record(630, cum(15, 1), Gauges { queue_depth: 3, ..Default::default() });
        ts.record(660, cum(40, 5), Gauges::default());
        let pts = ts.since(0);
        assert_eq!(pts.len(), 2);
        assert_eq!((pts[0].minute, pts[0].requests, pts[0].server_errors, pts[0].gauges.queue_depth), (600, 15, 1, 3));
        assert_eq!((pts[1].minute, pts[1].requests, pts[1].server_errors), (660, 25, 4));
        let w = Window::of(&pts);
        assert_eq!((w.requests, w.server_errors, w.minutes), (40, 5, 2));
        assert_eq!(w.error_ratio(), Some(5.0 / 40.0));
    }

    #[test]
    fn keeps_only_24_hours() {
        let ts = TimeSeries::default();
        for m in 0..(CAPACITY as i64 + 100) {
            ts.record(m * 60, cum(m as u64, 0), Gauges::default());
        }
        assert_eq!(ts.since(i64::MIN).len(), CAPACITY);
        // A jump forward drops everything older than 24 h before the newest point.
        ts.record((CAPACITY as i64 + 100 + 2 * CAPACITY as i64) * 60, cum(0, 0), Gauges::default());
        assert_eq!(ts.since(i64::MIN).len(), 1);
    }
}
