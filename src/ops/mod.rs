//! Operations: the scheduler of periodic jobs and the housekeeping they do.

pub mod housekeeping;
pub mod scheduler;
