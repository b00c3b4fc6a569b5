//! Operations: the scheduler of periodic jobs (their bodies are domain rules).

pub(crate) mod scheduler;

pub use scheduler::{Backoff, Intervals, JobFn, Scheduler};
