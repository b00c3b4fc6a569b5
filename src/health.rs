//! Readiness conditions that subsystems contribute (TLS, replication, role, database files) and
//! `/readyz` evaluates. Here, not in `http`, so that a subsystem can offer a check without
//! depending on the web layer.

use std::sync::Arc;

/// A readiness condition: `Err(reason)` makes `/readyz` answer 503 with the reason.
pub type ReadinessCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;
