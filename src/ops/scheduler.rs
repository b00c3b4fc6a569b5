//! The one place for periodic jobs.
//!
//! | job              | every (default)                  | does                                                   |
//! |------------------|----------------------------------|--------------------------------------------------------|
//! | `lock_shows`     | 15 s                             | upcoming -> locked at the show's start                 |
//! | `complete_shows` | 5 min                            | locked -> completed 4 h after the start                |
//! | `fetch_setlists` | 30 min                           | actual setlists of finished shows from setlist.fm (+ accuracy) |
//! | `retention`      | 6 h                              | purge sessions, vote network hashes, old audit entries |
//! | `backup_verify`  | `replication.verify_interval`    | the replicator's backup drill (first run 5 min after start) |
//! | `follow_emails`  | `smtp.notify_interval` (10 min)  | opt-in emails about followed artists (only with `[smtp]`) |
//!
//! Trending needs no job: its score decays exponentially and is updated in O(1) in the vote
//! transaction, and the ranking is evaluated on read (see `domain::trending`).
//!
//! Each job is its own task: a slow or failing job never delays the others. A job runs at start (the
//! backup drill after a short delay) and then `every` after its previous run ended; a failure is
//! retried after an exponential backoff (`Backoff`), and every run's start, end, outcome and error
//! land in `job_runs` (`db::jobs::record`).
//! Jobs run only while the node is primary: the scheduler watches a `watch::Receiver<bool>` and pauses
//! every job while it is false (a standby follows the primary's database and must not write).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::db::{self, Database};
use crate::domain::Purged;
use crate::import::Importer;

pub type JobFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
/// A job body. Also the shape of the backup-verify hook the replication code installs.
pub type JobFn = Arc<dyn Fn() -> JobFuture + Send + Sync>;

/// The backup drill's first run waits this long (at most its interval) after start.
pub const BACKUP_VERIFY_FIRST_DELAY: Duration = Duration::from_secs(5 * 60);

/// How often the standard jobs run.
#[derive(Debug, Clone)]
pub struct Intervals {
    pub lock_shows: Duration,
    pub complete_shows: Duration,
    pub fetch_setlists: Duration,
    pub retention: Duration,
    pub backup_verify: Duration,
    pub follow_emails: Duration,
}

impl Intervals {
    pub fn from_config(config: &Config) -> Self {
        Self {
            lock_shows: Duration::from_secs(15),
            complete_shows: Duration::from_secs(5 * 60),
            fetch_setlists: Duration::from_secs(30 * 60),
            retention: Duration::from_secs(6 * 3600),
            backup_verify: config.settings.replication.verify_interval,
            follow_emails: config.settings.smtp.notify_interval,
        }
    }

    /// Every job at the same interval (tests).
    pub fn all(every: Duration) -> Self {
        Self {
            lock_shows: every,
            complete_shows: every,
            fetch_setlists: every,
            retention: every,
            backup_verify: every,
            follow_emails: every,
        }
    }
}

/// Retry delay after the n-th consecutive failure: `first`, 2×, 4×, ... at most `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { first: Duration::from_secs(30), max: Duration::from_secs(30 * 60) }
    }
}

impl Backoff {
    pub fn after(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
        self.first.saturating_mul(factor).min(self.max)
    }
}

struct Job {
    name: String,
    every: Duration,
    /// Wait before the first run (0: at start).
    first_delay: Duration,
    run: JobFn,
}

pub struct Scheduler {
    db: Database,
    jobs: Vec<Job>,
    backoff: Backoff,
}

impl Scheduler {
    /// A scheduler without jobs; `job` adds them.
    pub fn new(db: Database) -> Self {
        Self { db, jobs: Vec::new(), backoff: Backoff::default() }
    }

    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    pub fn job<F, Fut>(self, name: &str, every: Duration, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.job_fn(name, every, Duration::ZERO, Arc::new(move || Box::pin(f())))
    }

    /// A job whose first run waits `first_delay` instead of running at start.
    pub fn job_fn(mut self, name: &str, every: Duration, first_delay: Duration, run: JobFn) -> Self {
        self.jobs.push(Job { name: name.to_owned(), every, first_delay, run });
        self
    }

    /// The standard jobs (table above), recording their runs in `db`. `backup_verify` is the
    /// replication's hook; None leaves it out.
    pub fn standard(
        db: Database,
        importer: Arc<Importer>,
        intervals: &Intervals,
        backup_verify: Option<JobFn>,
    ) -> Self {
        let domain = importer.domain().clone();
        let mut s = Scheduler::new(db);
        let d = domain.clone();
        s = s.job("lock_shows", intervals.lock_shows, move || {
            let d = d.clone();
            async move {
                let n = d.lock_started_shows().await?;
                if n > 0 {
                    tracing::info!(shows = n, "locked shows that started");
                }
                Ok(())
            }
        });
        let d = domain.clone();
        s = s.job("complete_shows", intervals.complete_shows, move || {
            let d = d.clone();
            async move {
                let n = d.complete_finished_shows().await?;
                if n > 0 {
                    tracing::info!(shows = n, "completed shows that are over");
                }
                Ok(())
            }
        });
        s = s.job("fetch_setlists", intervals.fetch_setlists, move || {
            let importer = importer.clone();
            async move {
                if let Some(summary) = importer.fetch_finished_setlists().await?
                    && summary.looked_up > 0
                {
                    tracing::info!(looked_up = summary.looked_up, found = summary.found, "looked up actual setlists");
                }
                Ok(())
            }
        });
        let d = domain.clone();
        s = s.job("retention", intervals.retention, move || {
            let d = d.clone();
            async move {
                let p = d.purge_expired_data().await?;
                if p != Purged::default() {
                    tracing::info!(
                        sessions = p.sessions,
                        reset_links = p.reset_links,
                        ip_hashes = p.ip_hashes,
                        audit_entries = p.audit_entries,
                        "retention purge"
                    );
                }
                Ok(())
            }
        });
        if domain.mail_enabled() {
            let d = domain.clone();
            s = s.job("follow_emails", intervals.follow_emails, move || {
                let d = d.clone();
                async move {
                    let n = d.send_follow_emails().await?;
                    if n > 0 {
                        tracing::info!(emails = n, "sent follow emails");
                    }
                    Ok(())
                }
            });
        }
        if let Some(verify) = backup_verify {
            // Not at start: on a first start the bucket holds no snapshot yet, and a verify that fails
            // for that reason would raise the backup alert. A restart keeps the last success (job_runs).
            let first = intervals.backup_verify.min(BACKUP_VERIFY_FIRST_DELAY);
            s = s.job_fn("backup_verify", intervals.backup_verify, first, verify);
        }
        s
    }

    /// Starts one task per job. Jobs run while `primary` is true.
    pub fn start(self, primary: watch::Receiver<bool>) -> SchedulerHandle {
        let (stop_tx, stop_rx) = watch::channel(false);
        let tasks = self
            .jobs
            .into_iter()
            .map(|job| tokio::spawn(run_job(self.db.clone(), job, self.backoff, primary.clone(), stop_rx.clone())))
            .collect();
        SchedulerHandle { stop: stop_tx, tasks }
    }
}

/// Stops the jobs (cancelling runs in progress).
pub struct SchedulerHandle {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl SchedulerHandle {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for mut t in self.tasks {
            if tokio::time::timeout(Duration::from_secs(10), &mut t).await.is_err() {
                tracing::warn!("a scheduled job did not stop within 10 s; aborting it");
                t.abort();
            }
        }
    }
}

/// Waits until the node is primary; false when the scheduler stops (or can never become primary).
async fn until_primary(primary: &mut watch::Receiver<bool>, stop: &mut watch::Receiver<bool>) -> bool {
    loop {
        if *stop.borrow() {
            return false;
        }
        if *primary.borrow_and_update() {
            return true;
        }
        tokio::select! {
            changed = primary.changed() => if changed.is_err() { return false },
            _ = stop.changed() => return false,
        }
    }
}

async fn run_job(
    db: Database,
    job: Job,
    backoff: Backoff,
    mut primary: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let mut failures: u32 = 0;
    if !job.first_delay.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(job.first_delay) => {}
            _ = stop.changed() => return,
        }
    }
    loop {
        if !until_primary(&mut primary, &mut stop).await {
            return;
        }
        let started = db::now();
        // Stopping cancels a run in progress: every job is idempotent and writes in transactions.
        let outcome = tokio::select! {
            outcome = AssertUnwindSafe((job.run)()).catch_unwind() => outcome,
            _ = stop.changed() => return,
        };
        let error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("{e:#}")),
            Err(_) => Some("the job panicked".to_owned()),
        };
        let finished = db::now();
        let delay = match &error {
            None => {
                failures = 0;
                job.every
            }
            Some(e) => {
                failures += 1;
                let delay = backoff.after(failures);
                tracing::warn!(job = %job.name, error = %e, failures, retry_in_ms = delay.as_millis() as u64, "scheduled job failed");
                delay
            }
        };
        let name = job.name.clone();
        if let Err(e) = db.write(move |c| db::jobs::record(c, &name, started, finished, error.as_deref())).await {
            tracing::warn!(job = %job.name, error = %e, "cannot record the job's run");
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff { first: Duration::from_secs(1), max: Duration::from_secs(10) };
        let delays: Vec<u64> = (1..=6).map(|n| b.after(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.after(500), Duration::from_secs(10));
    }
}
