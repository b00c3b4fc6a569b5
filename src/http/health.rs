//! /livez answers as long as the process serves requests and does no work. /readyz checks what this
//! node needs to take traffic: the database accepts a write, migrations are applied, and every
//! readiness check other subsystems registered (certificate, replication, role), run through
//! `health::report::readiness` like the status page's readiness section.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{IntoResponse, Response, handler};
use serde_json::json;

use super::state::AppState;
use crate::health::thresholds::READINESS_WRITE_PROBE_TIMEOUT;

#[handler]
pub fn livez() -> Response {
    Response::builder().content_type("text/plain; charset=utf-8").body("ok\n")
}

#[handler]
pub async fn readyz(Data(state): Data<&Arc<AppState>>) -> Response {
    let mut failures = failed_checks(state);
    // The write probe goes last: a node that already failed (e.g. a standby) need not queue a write.
    if failures.is_empty() {
        let probe = match tokio::time::timeout(READINESS_WRITE_PROBE_TIMEOUT, state.domain.check_writable()).await {
            Err(_) => Some("database: write probe timed out".to_string()),
            Ok(Err(crate::domain::DomainError::Internal(cause))) => {
                tracing::warn!(error = %cause, "readiness: database not writable");
                Some("database: not writable (details in the log)".into())
            }
            Ok(Err(other)) => Some(format!("database: {other}")),
            Ok(Ok(())) => None,
        };
        if let Some(probe) = probe {
            // A check may have turned false while the probe waited (a lease that lapsed refuses the
            // probe): its reason names the cause, the probe's only the symptom.
            failures = failed_checks(state);
            if failures.is_empty() {
                failures.push(probe);
            }
        }
    }
    let status = if failures.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({ "ready": failures.is_empty(), "failures": failures });
    (status, poem::web::Json(body)).into_response()
}

/// The registered checks that fail now, as "name: reason".
fn failed_checks(state: &AppState) -> Vec<String> {
    let registered: Vec<_> = state.readiness.read().clone();
    crate::health::report::readiness(&registered)
        .into_iter()
        .filter(|c| !c.level.is_ok())
        .map(|c| format!("{}: {}", c.subject.unwrap_or_default(), c.reason))
        .collect()
}
