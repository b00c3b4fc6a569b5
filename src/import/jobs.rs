//! Progress of online imports, kept in memory keyed by job id (the admin page polls it as JSON).
//! A restart forgets it: the imported data itself is in the database and the audit log.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;

use super::report::{Entry, Report, SummaryRow};
use super::{ImportError, Progress};

/// Finished jobs kept for the admin page.
const KEEP_FINISHED: usize = 50;
/// Notes kept per job (the newest).
const KEEP_NOTES: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobSnapshot {
    pub id: u64,
    /// What is imported, e.g. `artist "Pearl Jam"`.
    pub label: String,
    pub state: JobState,
    pub phase: String,
    pub done: u64,
    pub total: Option<u64>,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub notes: Vec<String>,
    pub summary: Vec<SummaryRow>,
    pub skipped: Vec<Entry>,
    pub error: Option<String>,
}

#[derive(Default)]
pub struct Jobs {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    jobs: BTreeMap<u64, JobSnapshot>,
}

impl Jobs {
    /// Registers a running job; refuses while another one runs (the APIs' rate limits are shared, so
    /// two imports would only slow each other down).
    pub fn start(&self, label: String) -> Result<u64, u64> {
        let mut inner = self.inner.lock();
        if let Some(running) = inner.jobs.values().find(|j| j.state == JobState::Running) {
            return Err(running.id);
        }
        inner.next_id += 1;
        let id = inner.next_id;
        inner.jobs.insert(
            id,
            JobSnapshot {
                id,
                label,
                state: JobState::Running,
                phase: "starting".into(),
                done: 0,
                total: None,
                started_at: crate::db::now(),
                finished_at: None,
                notes: Vec::new(),
                summary: Vec::new(),
                skipped: Vec::new(),
                error: None,
            },
        );
        let finished: Vec<u64> = inner.jobs.values().filter(|j| j.state != JobState::Running).map(|j| j.id).collect();
        for old in finished.iter().take(finished.len().saturating_sub(KEEP_FINISHED)) {
            inner.jobs.remove(old);
        }
        Ok(id)
    }

    pub fn get(&self, id: u64) -> Option<JobSnapshot> {
        self.inner.lock().jobs.get(&id).cloned()
    }

    /// Newest first.
    pub fn recent(&self, limit: usize) -> Vec<JobSnapshot> {
        self.inner.lock().jobs.values().rev().take(limit).cloned().collect()
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut JobSnapshot)) {
        if let Some(j) = self.inner.lock().jobs.get_mut(&id) {
            f(j);
        }
    }

    pub fn finish(&self, id: u64, result: &Result<Report, ImportError>) {
        self.update(id, |j| {
            j.finished_at = Some(crate::db::now());
            match result {
                Ok(report) => {
                    j.state = JobState::Done;
                    j.phase = "finished".into();
                    j.summary = report.summary();
                    j.skipped = report.skipped().cloned().collect();
                }
                Err(e) => {
                    j.state = JobState::Failed;
                    j.phase = "failed".into();
                    j.error = Some(e.to_string());
                }
            }
        });
    }
}

/// Reports a job's progress into the registry.
pub struct JobProgress {
    pub jobs: Arc<Jobs>,
    pub id: u64,
}

impl Progress for JobProgress {
    fn phase(&self, name: &str, total: Option<u64>) {
        self.jobs.update(self.id, |j| {
            j.phase = name.to_owned();
            j.done = 0;
            j.total = total;
        });
    }

    fn advance(&self, n: u64) {
        self.jobs.update(self.id, |j| j.done += n);
    }

    fn note(&self, line: &str) {
        self.jobs.update(self.id, |j| {
            j.notes.push(line.to_owned());
            if j.notes.len() > KEEP_NOTES {
                j.notes.remove(0);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_running_job_and_progress() {
        let jobs = Arc::new(Jobs::default());
        let id = jobs.start("artist A".into()).unwrap();
        assert_eq!(jobs.start("artist B".into()), Err(id));
        let p = JobProgress { jobs: jobs.clone(), id };
        p.phase("setlists", Some(3));
        p.advance(2);
        p.note("hello");
        let j = jobs.get(id).unwrap();
        assert_eq!((j.phase.as_str(), j.done, j.total), ("setlists", 2, Some(3)));
        jobs.finish(id, &Err(ImportError::Remote("down".into())));
        assert_eq!(jobs.get(id).unwrap().state, JobState::Failed);
        let next = jobs.start("artist B".into()).unwrap();
        assert_eq!(jobs.recent(10).first().unwrap().id, next);
    }
}
