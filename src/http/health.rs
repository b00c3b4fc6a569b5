//! /livez answers as long as the process serves requests and does no work. /readyz checks what this
//! node needs to take traffic: the database accepts a write, migrations are applied, and every
//! readiness check other subsystems registered (certificate, replication, role).

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{IntoResponse, Response, handler};
use serde_json::json;

use super::state::AppState;

#[handler]
pub fn livez() -> Response {
    Response::builder().content_type("text/plain; charset=utf-8").body("ok\n")
}

#[handler]
pub async fn readyz(Data(state): Data<&Arc<AppState>>) -> Response {
    let mut failures: Vec<String> = Vec::new();
    let checks: Vec<_> = state.readiness.read().clone();
    for (name, check) in checks {
        if let Err(reason) = check() {
            failures.push(format!("{name}: {reason}"));
        }
    }
    // The write probe goes last: a node that already failed (e.g. a standby) need not queue a write.
    if failures.is_empty() {
        match tokio::time::timeout(std::time::Duration::from_secs(2), state.domain.check_writable()).await {
            Err(_) => failures.push("database: write probe timed out".into()),
            Ok(Err(crate::domain::DomainError::Internal(cause))) => {
                tracing::warn!(error = %cause, "readiness: database not writable");
                failures.push("database: not writable (details in the log)".into());
            }
            Ok(Err(other)) => failures.push(format!("database: {other}")),
            Ok(Ok(())) => {}
        }
    }
    let status = if failures.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({ "ready": failures.is_empty(), "failures": failures });
    (status, poem::web::Json(body)).into_response()
}
