//! The node's health, judged once: [`thresholds`] holds every bound, [`report`] turns the
//! subsystems' status into a [`Report`](report::Report) (per check: level, value, reason) that `/readyz`, the alert
//! engine and the technical status page all read. Readiness conditions that subsystems contribute
//! (TLS, replication, role, database files) are [`ReadinessCheck`]s; they live here, not in `http`,
//! so that a subsystem can offer a check without depending on the web layer.

pub(crate) mod not_ready;
pub(crate) mod report;
pub(crate) mod thresholds;

use std::sync::Arc;

pub use not_ready::NotReady;
pub use report::Level;

/// A readiness condition: `Err(reason)` makes `/readyz` answer 503 with the reason.
pub type ReadinessCheck = Arc<dyn Fn() -> Result<(), NotReady> + Send + Sync>;
