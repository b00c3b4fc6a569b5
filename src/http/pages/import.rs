//! /admin/import: an admin imports an artist by name from MusicBrainz and setlist.fm, then watches the
//! progress. The job page polls `/admin/import/jobs/{id}/progress` (JSON) from assets/static/import.js;
//! without JavaScript it offers a refresh link.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Form, Json, Path};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;

use super::{Layout, render, render_with_status, respond};
use crate::domain::{CurrentUser, DomainError, Role};
use crate::http::assets;
use crate::http::auth::Visitor;
use crate::http::error::AppError;
use crate::http::forms::see_other;
use crate::http::state::AppState;
use crate::import::jobs::{JobSnapshot, JobState};

pub struct JobRow {
    pub id: u64,
    pub label: String,
    pub state: &'static str,
    pub phase: String,
    pub started: String,
}

#[derive(askama::Template)]
#[template(path = "admin_import.html")]
struct ImportTemplate {
    layout: Layout,
    notice: Option<&'static str>,
    setlistfm_configured: bool,
    error: Option<String>,
    artist: String,
    jobs: Vec<JobRow>,
}

pub struct CountRow {
    pub kind: &'static str,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub skipped: usize,
}

pub struct SkippedRow {
    pub at: String,
    pub label: String,
    pub reason: String,
}

#[derive(askama::Template)]
#[template(path = "admin_import_job.html")]
struct JobTemplate {
    layout: Layout,
    notice: Option<&'static str>,
    js_url: String,
    id: u64,
    label: String,
    state: &'static str,
    running: bool,
    phase: String,
    done: u64,
    /// 0 when unknown (the progress bar is then indeterminate).
    total: u64,
    notes: Vec<String>,
    error: Option<String>,
    counts: Vec<CountRow>,
    skipped: Vec<SkippedRow>,
}

fn state_name(s: JobState) -> &'static str {
    match s {
        JobState::Running => "running",
        JobState::Done => "done",
        JobState::Failed => "failed",
    }
}

fn when(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_default()
}

fn require_admin(visitor: &Visitor) -> Result<CurrentUser, AppError> {
    let user = visitor.require_user()?.clone();
    user.require(Role::Admin)?;
    Ok(user)
}

/// Job ids arrive as text so that a malformed one is a 404, like an unknown one.
fn job_id(raw: &str) -> Result<u64, AppError> {
    raw.parse().map_err(|_| AppError::Domain(DomainError::NotFound("import")))
}

fn import_page_response(
    state: &AppState,
    visitor: &Visitor,
    error: Option<String>,
    artist: String,
    status: StatusCode,
) -> Result<Response, AppError> {
    let jobs = state
        .importer
        .jobs()
        .recent(20)
        .into_iter()
        .map(|j| JobRow {
            id: j.id,
            label: j.label,
            state: state_name(j.state),
            phase: j.phase,
            started: when(j.started_at),
        })
        .collect();
    let t = ImportTemplate {
        layout: Layout::new(visitor),
        notice: None,
        setlistfm_configured: state.importer.setlistfm_configured(),
        error,
        artist,
        jobs,
    };
    render_with_status(&t, status)
}

#[handler]
pub async fn import_page(Data(state): Data<&Arc<AppState>>, mut visitor: Visitor) -> Response {
    let result = require_admin(&visitor)
        .and_then(|_| import_page_response(state, &visitor, None, String::new(), StatusCode::OK));
    respond(&mut visitor, "/admin/import", result)
}

#[derive(Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    artist: String,
}

#[handler]
pub async fn start_import(
    Data(state): Data<&Arc<AppState>>,
    mut visitor: Visitor,
    Form(form): Form<ImportForm>,
) -> Response {
    let result = visitor.check_csrf(&form.csrf).and_then(|_| require_admin(&visitor)).and_then(|user| {
        match state.importer.start_artist_import(&user, &form.artist) {
            Ok(id) => Ok(see_other(&format!("/admin/import/jobs/{id}"))),
            // Refused input is shown again next to the form, with what was typed.
            Err(e @ DomainError::Invalid { .. }) => import_page_response(
                state,
                &visitor,
                Some(e.to_string()),
                form.artist.clone(),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            Err(e @ DomainError::Conflict(_)) => {
                import_page_response(state, &visitor, Some(e.to_string()), form.artist.clone(), StatusCode::CONFLICT)
            }
            Err(e) => Err(e.into()),
        }
    });
    respond(&mut visitor, "/admin/import", result)
}

fn job(state: &AppState, id: u64) -> Result<JobSnapshot, AppError> {
    state.importer.jobs().get(id).ok_or(AppError::Domain(DomainError::NotFound("import")))
}

#[handler]
pub async fn job_page(Data(state): Data<&Arc<AppState>>, Path(raw): Path<String>, mut visitor: Visitor) -> Response {
    let result = require_admin(&visitor).and_then(|_| job(state, job_id(&raw)?)).and_then(|j| {
        let t = JobTemplate {
            layout: Layout::new(&visitor),
            notice: None,
            js_url: assets::url("import.js"),
            id: j.id,
            label: j.label,
            state: state_name(j.state),
            running: j.state == JobState::Running,
            phase: j.phase,
            done: j.done,
            total: j.total.unwrap_or(0),
            notes: j.notes,
            error: j.error,
            counts: j
                .summary
                .into_iter()
                .map(|r| CountRow {
                    kind: r.kind,
                    created: r.created,
                    updated: r.updated,
                    unchanged: r.unchanged,
                    skipped: r.skipped,
                })
                .collect(),
            skipped: j
                .skipped
                .into_iter()
                .map(|e| SkippedRow {
                    at: e.at.unwrap_or_default(),
                    label: e.label,
                    reason: e.detail.unwrap_or_default(),
                })
                .collect(),
        };
        render(&t)
    });
    respond(&mut visitor, &format!("/admin/import/jobs/{raw}"), result)
}

/// The job's progress as JSON (what the job page polls).
#[handler]
pub async fn job_progress(Data(state): Data<&Arc<AppState>>, Path(raw): Path<String>, visitor: Visitor) -> Response {
    match require_admin(&visitor).and_then(|_| job(state, job_id(&raw)?)) {
        Ok(j) => {
            let mut resp = Json(j).into_response();
            resp.headers_mut().insert("cache-control", poem::http::HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => e.into_response(),
    }
}
