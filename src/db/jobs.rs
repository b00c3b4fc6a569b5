//! Scheduler bookkeeping: the last run of each periodic job.

use super::stored_words::stored_as_words;
use rusqlite::{Connection, params};

use super::DbError;

/// How a job's last run ended, stored as its lowercase name (the `job_runs.last_outcome` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobOutcome {
    Ok,
    Failed,
}

stored_as_words!(JobOutcome, "job outcome", {
    Ok => "ok",
    Failed => "failed",
});

#[derive(Debug, Clone, serde::Serialize)]
pub struct JobRun {
    pub job: String,
    pub last_started: Option<i64>,
    pub last_finished: Option<i64>,
    pub last_outcome: Option<JobOutcome>,
    pub last_error: Option<String>,
    /// Failures in a row (0 after a success).
    pub failures: i64,
    /// When the job last finished successfully.
    pub last_success: Option<i64>,
}

pub fn record(conn: &Connection, job: &str, started: i64, finished: i64, error: Option<&str>) -> Result<(), DbError> {
    let outcome = if error.is_some() { JobOutcome::Failed } else { JobOutcome::Ok };
    conn.prepare_cached(
        "INSERT INTO job_runs (job, last_started, last_finished, last_outcome, last_error, failures, last_success)
         VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?5 IS NULL THEN 0 ELSE 1 END, CASE WHEN ?5 IS NULL THEN ?3 END)
         ON CONFLICT(job) DO UPDATE SET last_started = ?2, last_finished = ?3, last_outcome = ?4, last_error = ?5,
           failures = CASE WHEN ?5 IS NULL THEN 0 ELSE failures + 1 END,
           last_success = CASE WHEN ?5 IS NULL THEN ?3 ELSE last_success END",
    )?
    .execute(params![job, started, finished, outcome, error])?;
    Ok(())
}

pub fn all(conn: &Connection) -> Result<Vec<JobRun>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT job, last_started, last_finished, last_outcome, last_error, failures, last_success
         FROM job_runs ORDER BY job",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(JobRun {
                job: r.get(0)?,
                last_started: r.get(1)?,
                last_finished: r.get(2)?,
                last_outcome: r.get(3)?,
                last_error: r.get(4)?,
                failures: r.get(5)?,
                last_success: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
