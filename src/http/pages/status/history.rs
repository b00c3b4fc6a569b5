//! The technical page's charts: the in-process minute series folded into five-minute slots over the
//! last 24 hours, drawn as inline SVG.

use super::Chart;
use super::charts::{BLUE, GREEN, Line, ORANGE, PURPLE, Unit, line_chart};
use crate::observability::latency::{self, Counts};
use crate::observability::timeseries::MinutePoint;

/// Five-minute slots over the last 24 hours for the charts.
const SLOT_SECS: i64 = 300;
const SLOTS: usize = 288;

#[derive(Default, Clone)]
struct Slot {
    minutes: u32,
    requests: u64,
    errors: u64,
    latency: Counts,
    lag_max: f64,
    db: u64,
    wal: u64,
    sse: u64,
    queue_max: u64,
}

fn slots(points: &[MinutePoint], now: i64) -> Vec<Option<Slot>> {
    let last = now.div_euclid(SLOT_SECS) * SLOT_SECS;
    let first = last - (SLOTS as i64 - 1) * SLOT_SECS;
    let mut out: Vec<Option<Slot>> = vec![None; SLOTS];
    for p in points.iter().filter(|p| p.minute >= first) {
        let i = ((p.minute - first) / SLOT_SECS) as usize;
        let Some(cell) = out.get_mut(i) else { continue };
        let s = cell.get_or_insert_with(Slot::default);
        s.minutes += 1;
        s.requests += p.requests;
        s.errors += p.server_errors;
        latency::add(&mut s.latency, &p.latency);
        s.lag_max = s.lag_max.max(p.gauges.replication_lag);
        s.db = p.gauges.db_bytes;
        s.wal = p.gauges.wal_bytes;
        s.sse = p.gauges.sse_connections;
        s.queue_max = s.queue_max.max(p.gauges.queue_depth);
    }
    out
}

pub(super) fn charts_for(points: &[MinutePoint], now: i64) -> Vec<Chart> {
    let slots = slots(points, now);
    let series = |f: &dyn Fn(&Slot) -> Option<f64>| -> Vec<Option<f64>> {
        slots.iter().map(|s| s.as_ref().and_then(f)).collect()
    };
    let x = ("24 h ago", "now");
    let q = |q: f64| series(&|s: &Slot| latency::quantile(&s.latency, q));
    vec![
        Chart {
            svg: line_chart(
                "rate",
                "Requests per minute (5-minute averages)",
                Unit::Count,
                x,
                &[Line {
                    name: "requests/min",
                    color: BLUE,
                    values: series(&|s: &Slot| Some(s.requests as f64 / s.minutes.max(1) as f64)),
                }],
            ),
        },
        Chart {
            svg: line_chart(
                "errors",
                "Share of requests answered 5xx",
                Unit::Percent,
                x,
                &[Line {
                    name: "5xx",
                    color: ORANGE,
                    values: series(&|s: &Slot| (s.requests > 0).then(|| s.errors as f64 / s.requests as f64)),
                }],
            ),
        },
        Chart {
            svg: line_chart(
                "latency",
                "Latency percentiles",
                Unit::Seconds,
                x,
                &[
                    Line { name: "p50", color: GREEN, values: q(0.5) },
                    Line { name: "p95", color: BLUE, values: q(0.95) },
                    Line { name: "p99", color: ORANGE, values: q(0.99) },
                ],
            ),
        },
        Chart {
            svg: line_chart(
                "lag",
                "Replication lag (highest per 5 minutes)",
                Unit::Seconds,
                x,
                &[Line { name: "lag", color: PURPLE, values: series(&|s: &Slot| Some(s.lag_max)) }],
            ),
        },
        Chart {
            svg: line_chart(
                "size",
                "Database and WAL size",
                Unit::Bytes,
                x,
                &[
                    Line { name: "database", color: BLUE, values: series(&|s: &Slot| Some(s.db as f64)) },
                    Line { name: "WAL", color: ORANGE, values: series(&|s: &Slot| Some(s.wal as f64)) },
                ],
            ),
        },
        Chart {
            svg: line_chart(
                "live",
                "Live connections and writer queue (highest)",
                Unit::Count,
                x,
                &[
                    Line { name: "live connections", color: GREEN, values: series(&|s: &Slot| Some(s.sse as f64)) },
                    Line { name: "queued writes", color: ORANGE, values: series(&|s: &Slot| Some(s.queue_max as f64)) },
                ],
            ),
        },
    ]
}
