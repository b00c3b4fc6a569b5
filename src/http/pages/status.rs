//! Admin status pages (admin only; the domain enforces the role):
//! - `/admin/status`: the executive view: votes per hour and day, active voters, upcoming shows and
//!   their activity, the most wanted songs (from the database).
//! - `/admin/status/technical`: request rate, error rate, latency percentiles, replication, backups,
//!   certificates, storage, the process, readiness, scheduler jobs and active alerts, with charts of
//!   the last 24 hours from the in-process minute series (`observability::timeseries`).
//!
//! The technical page only draws: what is good or bad comes from the health report
//! (`Observability::report`, judged by `health::thresholds`) and the readiness checks, the numbers
//! from the minute series and the subsystems' status. Charts are inline SVG rendered here; the
//! pages carry no script.

mod charts;
mod history;

use std::sync::Arc;

use poem::web::Data;
use poem::{Response, get, handler};

use self::charts::{Unit, bar_chart, format_bytes, format_value};
use self::history::charts_for;
use super::view::local_time;
use super::{Layout, error_page, render};
use crate::domain::CurrentUser;
use crate::domain::rows::{JobOutcome, JobRun};
use crate::health::report::{Report, Rule, readiness};
use crate::http::auth::Visitor;
use crate::http::error::AppError;
use crate::http::forms::see_other;
use crate::http::state::AppState;
use crate::observability::timeseries::{MinutePoint, Window};

pub fn add_routes(r: super::PageRoutes) -> super::PageRoutes {
    r.at("/admin/status", get(executive)).at("/admin/status/technical", get(technical))
}

/// A labelled value; `bad` marks it for attention.
pub struct Fact {
    pub label: String,
    pub value: String,
    pub bad: bool,
}

fn fact(label: &str, value: impl Into<String>) -> Fact {
    Fact { label: label.to_owned(), value: value.into(), bad: false }
}

fn bad_if(mut f: Fact, bad: bool) -> Fact {
    f.bad = bad;
    f
}

fn utc(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default().format("%Y-%m-%d %H:%M UTC").to_string()
}

fn ago(now: i64, ts: i64) -> String {
    let secs = (now - ts).max(0) as u64;
    let rounded = if secs < 120 { secs } else { secs / 60 * 60 };
    format!("{} ago ({})", humantime::format_duration(std::time::Duration::from_secs(rounded)), utc(ts))
}

fn opt_secs(v: Option<f64>) -> String {
    v.map(|s| format_value(s, Unit::Seconds)).unwrap_or_else(|| "–".into())
}

/// Where signed-out visitors go; signed-in non-admins get 403 from the domain.
fn sign_in_first(back_to: &str) -> Response {
    see_other(&format!("/login?next={back_to}"))
}

pub struct UpcomingRow {
    pub slug: String,
    pub artist: String,
    pub venue: String,
    pub city: String,
    pub when: String,
    pub votes_total: i64,
    pub votes_recent: i64,
    pub voters_recent: i64,
}

pub struct TopSongRow {
    pub title: String,
    pub artist: String,
    pub votes: i64,
    pub shows: i64,
}

#[derive(askama::Template)]
#[template(path = "status.html")]
struct ExecutiveTemplate {
    layout: Layout,
    generated: String,
    kpis: Vec<Fact>,
    per_hour: String,
    per_day: String,
    upcoming: Vec<UpcomingRow>,
    top_songs: Vec<TopSongRow>,
}

#[handler]
pub async fn executive(Data(state): Data<&Arc<AppState>>, mut visitor: Visitor) -> Response {
    let Some(user) = visitor.user().cloned() else { return sign_in_first("/admin/status") };
    match render_executive(state, &user, &mut visitor).await {
        Ok(r) => visitor.finish(r),
        Err(e) => error_page(&mut visitor, e),
    }
}

async fn render_executive(state: &AppState, user: &CurrentUser, visitor: &mut Visitor) -> Result<Response, AppError> {
    let a = state.domain.voting_activity(user).await?;
    let now = state.domain.now();
    let hour_label = |ts: i64| chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default().format("%H:00").to_string();
    let day_label = |ts: i64| chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default().format("%d %b").to_string();
    let per_hour: Vec<(String, f64)> = a.per_hour.iter().map(|(t, n)| (hour_label(*t), *n as f64)).collect();
    let per_day: Vec<(String, f64)> = a.per_day.iter().map(|(t, n)| (day_label(*t), *n as f64)).collect();
    let t = ExecutiveTemplate {
        layout: Layout::new(visitor),
        generated: utc(now),
        kpis: vec![
            fact("Votes in the last hour", a.votes_last_hour.to_string()),
            fact("Votes in the last 24 hours", a.votes_last_day.to_string()),
            fact("Active voters, 24 hours", a.voters_last_day.to_string()),
            fact("Active voters, 7 days", a.voters_last_week.to_string()),
            fact("Standing votes in total", a.totals.votes.to_string()),
            fact("Accounts", a.totals.users.to_string()),
            fact(
                "Shows / artists / venues",
                format!("{} / {} / {}", a.totals.shows, a.totals.artists, a.totals.venues),
            ),
        ],
        per_hour: bar_chart("votes-hour", "Votes per hour, last 24 hours (UTC)", Unit::Count, &per_hour),
        per_day: bar_chart("votes-day", "Votes per day, last 14 days (UTC)", Unit::Count, &per_day),
        upcoming: a
            .upcoming
            .iter()
            .map(|s| UpcomingRow {
                slug: s.slug.clone(),
                artist: s.artist.clone(),
                venue: s.venue.clone(),
                city: s.city.clone(),
                when: local_time(s.starts_at, &s.timezone).0,
                votes_total: s.votes_total,
                votes_recent: s.votes_recent,
                voters_recent: s.voters_recent,
            })
            .collect(),
        top_songs: a
            .top_songs
            .iter()
            .map(|s| TopSongRow { title: s.title.clone(), artist: s.artist.clone(), votes: s.votes, shows: s.shows })
            .collect(),
    };
    render(&t)
}

pub struct Chart {
    pub svg: String,
}

pub struct AlertRow {
    pub severity: &'static str,
    pub name: String,
    pub summary: String,
    pub state: &'static str,
    pub since: String,
}

pub struct JobRow {
    pub job: String,
    pub last_started: String,
    pub last_finished: String,
    pub outcome: String,
    pub failures: i64,
    pub last_error: String,
    pub bad: bool,
}

#[derive(askama::Template)]
#[template(path = "status_technical.html")]
struct TechnicalTemplate {
    layout: Layout,
    generated: String,
    notifications: String,
    alerts: Vec<AlertRow>,
    traffic: Vec<Fact>,
    durability: Vec<Fact>,
    storage: Vec<Fact>,
    process: Vec<Fact>,
    readiness: Vec<Fact>,
    charts: Vec<Chart>,
    jobs: Vec<JobRow>,
}

#[handler]
pub async fn technical(Data(state): Data<&Arc<AppState>>, mut visitor: Visitor) -> Response {
    let Some(user) = visitor.user().cloned() else { return sign_in_first("/admin/status/technical") };
    match render_technical(state, &user, &mut visitor).await {
        Ok(r) => visitor.finish(r),
        Err(e) => error_page(&mut visitor, e),
    }
}

/// `uptime`: seconds since the process started, so a young process's rate is not understated;
/// `bad`: whether the health report judged this window's 5xx share too high.
fn window_facts(label: &str, w: &Window, minutes: i64, uptime: i64, bad: bool) -> Vec<Fact> {
    let secs = (minutes * 60).min(uptime).max(1) as f64;
    let ratio = w.error_ratio();
    vec![
        fact(&format!("Requests/s, {label}"), format!("{:.2}", w.requests as f64 / secs)),
        bad_if(
            fact(&format!("5xx share, {label}"), ratio.map(|r| format_value(r, Unit::Percent)).unwrap_or("–".into())),
            bad,
        ),
        fact(
            &format!("p50 / p95 / p99, {label}"),
            format!("{} / {} / {}", opt_secs(w.quantile(0.5)), opt_secs(w.quantile(0.95)), opt_secs(w.quantile(0.99))),
        ),
    ]
}

async fn render_technical(state: &AppState, user: &CurrentUser, visitor: &mut Visitor) -> Result<Response, AppError> {
    // The job list comes first: it checks the admin role before anything else is read.
    let job_runs = state.domain.job_runs(user).await?;
    let obs = &state.obs;
    let now = state.domain.now();
    let points = obs.recent_points(now);
    let report = obs.report(now, &points, &job_runs);
    let registered: Vec<_> = state.readiness.read().clone();
    let t = TechnicalTemplate {
        layout: Layout::new(visitor),
        generated: utc(now),
        notifications: notifications(state),
        alerts: alert_rows(state, now),
        traffic: traffic(state, &report, &points, now),
        durability: durability(state, &report, now),
        storage: storage(state, &report),
        process: process(state, now),
        readiness: readiness_facts(&registered),
        charts: charts_for(&points, now),
        jobs: job_rows(job_runs, &report, now),
    };
    render(&t)
}

fn traffic(state: &AppState, report: &Report, points: &[MinutePoint], now: i64) -> Vec<Fact> {
    let obs = &state.obs;
    let minute = now.div_euclid(60) * 60;
    let last = |minutes: i64| {
        Window::of(&points.iter().filter(|p| p.minute > minute - minutes * 60).cloned().collect::<Vec<_>>())
    };
    let uptime = now - obs.started_at();
    let mut traffic = window_facts("last 5 min", &last(5), 5, uptime, report.bad(Rule::ErrorRateRecent, None));
    traffic.extend(window_facts("last hour", &last(60), 60, uptime, report.bad(Rule::ErrorRateHour, None)));
    let m = &obs.metrics;
    let gauges = obs.gauges();
    traffic.push(fact("Requests in flight", m.http.in_flight().to_string()));
    traffic.push(fact("Live connections", gauges.sse_connections.to_string()));
    let day = Window::of(points);
    traffic.push(fact("Votes, last 24 h (this process)", day.votes.to_string()));
    traffic
        .push(fact("Rate-limit rejections, last 24 h", points.iter().map(|p| p.rate_limited).sum::<u64>().to_string()));
    traffic
}

fn durability(state: &AppState, report: &Report, now: i64) -> Vec<Fact> {
    let (obs, config) = (&state.obs, &state.config);
    let m = &obs.metrics;
    let mut durability = Vec::new();
    durability.push(fact("Role", m.failover.role().unwrap_or_else(|| "–".into())));
    if let Some(leader) = m.failover.is_leader() {
        durability.push(bad_if(fact("Holds the lease", if leader { "yes" } else { "no" }), !leader));
    }
    if config.replication_enabled() {
        let lag = m.replication.lag_seconds();
        durability.push(bad_if(
            fact("Replication lag", format_value(lag, Unit::Seconds)),
            report.bad(Rule::ReplicationLag, None),
        ));
        durability.push(fact(
            "Last upload",
            m.replication.last_upload().map(|t| ago(now, t as i64)).unwrap_or_else(|| "none yet".into()),
        ));
        durability.push(fact("Upload errors since start", m.replication.upload_errors().to_string()));
        let last_ok = m.backup.last_success();
        durability.push(bad_if(
            fact("Last successful backup verification", last_ok.map(|t| ago(now, t)).unwrap_or_else(|| "none".into())),
            report.bad(Rule::BackupVerifyStale, None),
        ));
        if let Some(ok) = m.backup.last_run_ok() {
            durability.push(bad_if(
                fact("Last verification", if ok { "passed" } else { "FAILED" }),
                report.bad(Rule::BackupVerifyFailed, None),
            ));
        }
    } else {
        durability.push(fact("Replication", "off (replication.url is empty)"));
    }
    let certs = m.tls.expiries();
    if certs.is_empty() {
        durability.push(fact("Certificates", if config.https_enabled() { "none reported yet" } else { "plain HTTP" }));
    }
    for (domain, expiry) in certs {
        let days = (expiry - now) as f64 / 86_400.0;
        durability.push(bad_if(
            fact(&format!("Certificate {domain}"), format!("expires in {days:.1} days ({})", utc(expiry))),
            report.bad(Rule::CertificateExpiry, Some(&domain)),
        ));
    }
    durability
}

fn storage(state: &AppState, report: &Report) -> Vec<Fact> {
    let gauges = state.obs.gauges();
    let w = state.domain.writer_stats();
    let avg_commit = (w.commits > 0).then(|| w.commit_micros_total as f64 / w.commits as f64 / 1e6);
    let disk_share = (gauges.disk_total > 0).then(|| gauges.disk_available as f64 / gauges.disk_total as f64);
    vec![
        fact("Database", format_bytes(gauges.db_bytes as f64)),
        fact("WAL", format_bytes(gauges.wal_bytes as f64)),
        bad_if(
            fact(
                "Disk available",
                match disk_share {
                    Some(share) => format!(
                        "{} of {} ({:.0} %)",
                        format_bytes(gauges.disk_available as f64),
                        format_bytes(gauges.disk_total as f64),
                        share * 100.0
                    ),
                    None => "unknown".into(),
                },
            ),
            report.bad(Rule::DiskSpace, None),
        ),
        bad_if(fact("Writes queued", w.queue_depth.to_string()), report.bad(Rule::WriterQueue, None)),
        fact("Group commits / writes", format!("{} / {}", w.commits, w.writes)),
        bad_if(fact("Failed commits", w.failed_commits.to_string()), report.bad(Rule::FailedCommits, None)),
        fact("Average commit time", opt_secs(avg_commit)),
        fact("Last batch size", w.last_batch_size.to_string()),
    ]
}

fn process(state: &AppState, now: i64) -> Vec<Fact> {
    let obs = &state.obs;
    let mut process = vec![fact("Version", env!("CARGO_PKG_VERSION")), fact("Up since", ago(now, obs.started_at()))];
    if let Some(p) = crate::observability::process::read() {
        process.push(fact("Resident memory", format_bytes(p.resident_bytes as f64)));
        process.push(fact("CPU time", format!("{:.1} s", p.cpu_seconds)));
        process.push(fact(
            "Open files",
            match p.max_fds {
                Some(max) => format!("{} of {max}", p.open_fds),
                None => p.open_fds.to_string(),
            },
        ));
        process.push(fact("Threads", p.threads.to_string()));
    }
    process
}

fn readiness_facts(registered: &[(&'static str, crate::health::ReadinessCheck)]) -> Vec<Fact> {
    let mut facts: Vec<Fact> = readiness(registered)
        .into_iter()
        .map(|c| {
            let name = c.subject.unwrap_or_default();
            if c.level.is_ok() { fact(&name, "ok") } else { bad_if(fact(&name, c.reason), true) }
        })
        .collect();
    if facts.is_empty() {
        facts.push(fact("Checks", "none registered"));
    }
    facts
}

fn alert_rows(state: &AppState, now: i64) -> Vec<AlertRow> {
    state
        .obs
        .alerts
        .active()
        .into_iter()
        .map(|a| {
            let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            AlertRow {
                severity: a.severity.as_str(),
                name: if labels.is_empty() {
                    a.alert.to_owned()
                } else {
                    format!("{} ({})", a.alert, labels.join(", "))
                },
                summary: a.summary,
                state: if a.firing { "firing" } else { "pending" },
                since: ago(now, a.since),
            }
        })
        .collect()
}

fn notifications(state: &AppState) -> String {
    let alert_cfg = &state.config.settings.alerts;
    if alert_cfg.webhook_url.is_empty() {
        "No webhook configured (alerts.webhook_url): alerts show here and in the log only.".to_owned()
    } else {
        format!("Notifications go to the configured webhook ({:?} format).", alert_cfg.webhook_format)
    }
}

fn job_rows(job_runs: Vec<JobRun>, report: &Report, now: i64) -> Vec<JobRow> {
    job_runs
        .into_iter()
        .map(|j| {
            let bad = report.bad(Rule::Job, Some(&j.job));
            JobRow {
                job: j.job,
                last_started: j.last_started.map(|t| ago(now, t)).unwrap_or_else(|| "never".into()),
                last_finished: j.last_finished.map(|t| ago(now, t)).unwrap_or_else(|| "–".into()),
                outcome: j.last_outcome.map_or("–", JobOutcome::as_str).to_owned(),
                failures: j.failures,
                last_error: j.last_error.map(|e| e.chars().take(200).collect()).unwrap_or_default(),
                bad,
            }
        })
        .collect()
}
