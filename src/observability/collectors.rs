//! Metrics read from their source at scrape time: votes (domain counters), live SSE connections,
//! the database writer, file and disk sizes, the process (/proc/self), and the scheduled jobs' last
//! runs (table job_runs, read just before each scrape by [`super::Observability::render_metrics`]).

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use parking_lot::Mutex;

use super::process;
use crate::db::COMMIT_BUCKETS;
use crate::db::jobs::{JobOutcome, JobRun};
use crate::domain::Domain;
use crate::domain::events::VoteRejection;

fn gauge<N: prometheus_client::encoding::EncodeGaugeValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: N,
) -> std::fmt::Result {
    let g = ConstGauge::new(value);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

/// `name` without `_total`; the encoder appends it.
fn counter<N: prometheus_client::encoding::EncodeCounterValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: N,
) -> std::fmt::Result {
    let c = ConstCounter::new(value);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

/// Votes, live connections and the database.
pub struct AppCollector {
    pub domain: Arc<Domain>,
    pub connections: Arc<super::connections::ConnectionStats>,
}

impl std::fmt::Debug for AppCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppCollector")
    }
}

impl Collector for AppCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let events = &self.domain.vote_events;
        counter(
            &mut enc,
            "mysetlist_votes",
            "Votes cast (every accepted toggle, taking back included)",
            events.toggles(),
        )?;
        counter(&mut enc, "mysetlist_votes_retracted", "Votes taken back by toggling again", events.retracted())?;
        let db = &self.domain;
        gauge(
            &mut enc,
            "mysetlist_db_storage_failing",
            "1 while the disk refuses writes (full, read-only, failing)",
            u64::from(db.writer_stats().storage_failing),
        )?;
        if let Some(checked) = db.integrity() {
            gauge(
                &mut enc,
                "mysetlist_db_integrity_ok",
                "1 when the last quick_check found no damage",
                u64::from(checked.is_ok()),
            )?;
        }
        let c = &self.connections;
        let load = std::sync::atomic::Ordering::Relaxed;
        gauge(&mut enc, "mysetlist_http_connections_open", "HTTP connections open now", c.open.load(load) as u64)?;
        counter(
            &mut enc,
            "mysetlist_http_connections_refused_per_address",
            "Connections closed at once: their address held http.max_connections_per_address",
            c.refused_per_address.load(load),
        )?;
        counter(
            &mut enc,
            "mysetlist_http_accept_errors",
            "Failed accepts (descriptors used up), each followed by a back-off",
            c.accept_errors.load(load),
        )?;
        counter(
            &mut enc,
            "mysetlist_http_connections_timed_out",
            "Connections closed for moving no byte for http.idle_timeout, or sending no first request head by http.header_read_timeout",
            c.timed_out.load(load),
        )?;
        {
            let mut family = enc.encode_descriptor(
                "mysetlist_votes_rejected",
                "Votes refused, by reason",
                None,
                MetricType::Counter,
            )?;
            for reason in VoteRejection::ALL {
                let labels = [("reason", reason.as_str())];
                ConstCounter::new(events.rejected(reason)).encode(family.encode_family(&labels)?)?;
            }
        }
        gauge(
            &mut enc,
            "mysetlist_sse_connections",
            "Open live-ranking connections (server-sent events)",
            self.domain.hub.watchers() as i64,
        )?;
        counter(
            &mut enc,
            "mysetlist_live_rankings_unchanged",
            "Rankings read for live watchers and not sent, being the same as the last one sent",
            self.domain.hub.unchanged_rankings(),
        )?;

        let db = &self.domain;
        let w = db.writer_stats();
        gauge(&mut enc, "mysetlist_db_writer_queue_depth", "Writes waiting for the writer thread", w.queue_depth)?;
        gauge(&mut enc, "mysetlist_db_writer_last_batch_size", "Writes in the last group commit", w.last_batch_size)?;
        let busy = w.busy_since_unix_ms.map(|ms| (super::unix_ms().saturating_sub(ms)) as f64 / 1000.0);
        gauge(
            &mut enc,
            "mysetlist_db_writer_busy_seconds",
            "How long the writer has been working on its current group (0 when idle)",
            busy.unwrap_or(0.0),
        )?;
        counter(&mut enc, "mysetlist_db_commits", "Group commits", w.commits)?;
        counter(&mut enc, "mysetlist_db_writes", "Writes committed (sum of group sizes)", w.writes)?;
        counter(
            &mut enc,
            "mysetlist_db_commit_failures",
            "Group commits that failed and rolled back",
            w.failed_commits,
        )?;
        {
            let bounds = COMMIT_BUCKETS;
            let buckets: Vec<(f64, u64)> = w
                .commit_buckets
                .iter()
                .enumerate()
                .map(|(i, n)| (bounds.get(i).copied().unwrap_or(f64::MAX), *n))
                .collect();
            let count: u64 = w.commit_buckets.iter().sum();
            let mut h = enc.encode_descriptor(
                "mysetlist_db_commit_duration_seconds",
                "Time of one group commit",
                None,
                MetricType::Histogram,
            )?;
            h.encode_histogram::<NoLabelSet>(w.commit_micros_total as f64 / 1e6, count, &buckets, None)?;
        }
        let sizes = db.db_file_sizes();
        gauge(&mut enc, "mysetlist_db_size_bytes", "Size of the database file", sizes.db)?;
        gauge(&mut enc, "mysetlist_db_wal_size_bytes", "Size of the write-ahead log", sizes.wal)?;
        if let Some(disk) = db.disk_space() {
            gauge(
                &mut enc,
                "mysetlist_disk_size_bytes",
                "Size of the filesystem holding the data directory",
                disk.total,
            )?;
            gauge(
                &mut enc,
                "mysetlist_disk_available_bytes",
                "Space available on the filesystem holding the data directory",
                disk.available,
            )?;
        }
        counter(
            &mut enc,
            "mysetlist_log_lines_dropped",
            "Log lines dropped because stderr did not keep up (the log queue was full)",
            crate::telemetry::log_lines_dropped(),
        )?;
        Ok(())
    }
}

/// The standard `process_*` metrics.
#[derive(Debug)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let Some(p) = process::read() else { return Ok(()) };
        counter(&mut enc, "process_cpu_seconds", "User and system CPU time spent", p.cpu_seconds)?;
        gauge(&mut enc, "process_resident_memory_bytes", "Resident memory size", p.resident_bytes)?;
        gauge(&mut enc, "process_virtual_memory_bytes", "Virtual memory size", p.virtual_bytes)?;
        gauge(&mut enc, "process_open_fds", "Open file descriptors", p.open_fds)?;
        if let Some(max) = p.max_fds {
            gauge(&mut enc, "process_max_fds", "Limit on open file descriptors", max)?;
        }
        gauge(&mut enc, "process_threads", "OS threads", p.threads)?;
        gauge(&mut enc, "process_start_time_seconds", "Unix time the process started", p.start_time)?;
        Ok(())
    }
}

/// The scheduled jobs' last runs, as read from table job_runs for the current scrape.
#[derive(Debug, Default)]
pub struct JobsCollector {
    pub runs: Arc<Mutex<Vec<JobRun>>>,
}

/// One gauge family labelled by the job's `name` (not `job`: Prometheus sets that label to the scrape
/// job and would rename ours to `exported_job`), with a value for the jobs that have one.
fn job_family(enc: &mut DescriptorEncoder, name: &str, help: &str, values: &[(&str, Option<i64>)]) -> std::fmt::Result {
    if values.iter().all(|(_, v)| v.is_none()) {
        return Ok(());
    }
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (job, v) in values {
        if let Some(v) = v {
            ConstGauge::new(*v).encode(family.encode_family(&[("name", *job)])?)?;
        }
    }
    Ok(())
}

impl Collector for JobsCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let runs = self.runs.lock();
        let each = |f: &dyn Fn(&JobRun) -> Option<i64>| -> Vec<(&str, Option<i64>)> {
            runs.iter().map(|r| (r.job.as_str(), f(r))).collect()
        };
        job_family(
            &mut enc,
            "mysetlist_job_last_run_timestamp_seconds",
            "Unix time the scheduled job's last run ended, successful or not",
            &each(&|r| r.last_finished.or(r.last_started)),
        )?;
        job_family(
            &mut enc,
            "mysetlist_job_last_success_timestamp_seconds",
            "Unix time the scheduled job last ended successfully",
            &each(&|r| r.last_success),
        )?;
        job_family(
            &mut enc,
            "mysetlist_job_last_run_ok",
            "1 if the scheduled job's last run succeeded, 0 if it failed",
            &each(&|r| r.last_outcome.map(|o| i64::from(o == JobOutcome::Ok))),
        )?;
        job_family(
            &mut enc,
            "mysetlist_job_consecutive_failures",
            "Failed runs of the scheduled job since its last success",
            &each(&|r| Some(r.failures)),
        )?;
        Ok(())
    }
}
