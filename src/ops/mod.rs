//! Operations: the scheduler of periodic jobs (their bodies are domain rules).

pub mod scheduler;
