//! The node's health, judged once: [`thresholds`] holds every bound, [`report`] turns the
//! subsystems' status into a [`Report`] (per check: level, value, reason) that `/readyz`, the alert
//! engine and the technical status page all read. Readiness conditions that subsystems contribute
//! (TLS, replication, role, database files) are [`ReadinessCheck`]s; they live here, not in `http`,
//! so that a subsystem can offer a check without depending on the web layer.

pub mod not_ready;
pub mod report;
pub mod thresholds;

use std::sync::Arc;

pub use not_ready::NotReady;
pub use report::{Check, HealthInputs, Level, Report, RequestCounts, Rule};

/// A readiness condition: `Err(reason)` makes `/readyz` answer 503 with the reason.
pub type ReadinessCheck = Arc<dyn Fn() -> Result<(), NotReady> + Send + Sync>;
