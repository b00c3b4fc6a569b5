//! /admin: curation for moderators (artists, venues, shows, songs, actual setlists, reports) and
//! administration for admins (users, roles, bans, the audit log). Roles are enforced here for the
//! pages and again by the domain for every operation. Signed-out visitors are sent to sign in;
//! signed-in visitors without the role get a 403 page.

mod artists;
pub(super) mod forms;
mod shows;
mod users;
mod venues;

use std::sync::Arc;

use poem::web::{Data, Form, Path, Query};
use poem::{Response, get, handler, post};
use serde::Deserialize;

use super::view::utc_minute;
use super::{Layout, render, respond};
use crate::domain::rows::Totals;
use crate::domain::{CurrentUser, DomainError, Role};
use crate::http::auth::Visitor;
use crate::http::error::AppError;
use crate::http::forms::see_other;
use crate::http::state::AppState;

pub fn add_routes(r: super::PageRoutes) -> super::PageRoutes {
    r.at("/admin", get(dashboard))
        .at("/admin/reports/:id", post(resolve_report))
        .at("/admin/artists", get(artists::list).post(artists::create))
        .at("/admin/artists/:id", get(artists::edit).post(artists::update))
        .at("/admin/artists/:id/delete", post(artists::delete))
        .at("/admin/artists/:id/picture", post(artists::upload_picture))
        .at("/admin/artists/:id/picture/delete", post(artists::remove_picture))
        .at("/admin/artists/:id/songs", post(artists::add_song))
        .at("/admin/songs/:id", get(artists::edit_song).post(artists::update_song))
        .at("/admin/songs/:id/delete", post(artists::delete_song))
        .at("/admin/venues", get(venues::list).post(venues::create))
        .at("/admin/venues/:id", get(venues::edit).post(venues::update))
        .at("/admin/venues/:id/delete", post(venues::delete))
        .at("/admin/shows", get(shows::list).post(shows::create))
        .at("/admin/shows/:id", get(shows::edit).post(shows::update))
        .at("/admin/shows/:id/delete", post(shows::delete))
        .at("/admin/shows/:id/setlist", post(shows::set_setlist))
        .at("/admin/users", get(users::list))
        .at("/admin/users/:id/role", post(users::set_role))
        .at("/admin/users/:id/ban", get(users::confirm_ban).post(users::set_banned))
        .at("/admin/users/:id/reset-link", post(users::reset_link))
        .at("/admin/audit", get(users::audit))
}

/// The signed-in user when they have at least `role` (Unauthorized -> sign in, Forbidden -> 403).
pub fn staff(visitor: &Visitor, role: Role) -> Result<CurrentUser, AppError> {
    let user = visitor.require_user()?;
    user.require(role)?;
    Ok(user.clone())
}

/// How every admin form submission opens: the signed-in user when they have at least `role` and the
/// form carries this session's CSRF token.
pub fn submitter(visitor: &Visitor, role: Role, csrf: &str) -> Result<CurrentUser, AppError> {
    let user = staff(visitor, role)?;
    visitor.check_csrf(csrf)?;
    Ok(user)
}

/// A form's input, once it is valid, through the domain operation `op`: a refused field and a refused
/// operation become one outcome (for `refused_or`).
pub async fn apply<I, T, Fut>(input: Result<I, AppError>, op: impl FnOnce(I) -> Fut) -> Result<T, AppError>
where
    Fut: std::future::Future<Output = Result<T, DomainError>>,
{
    Ok(op(input?).await?)
}

/// Path ids arrive as text so that a malformed one is a 404 page, not a bare 400.
pub fn id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>().map_err(|_| AppError::NotFound)
}

/// `?done=...` after a redirect: a fixed message per code (nothing from the URL is echoed).
#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

impl Done {
    pub fn notice(&self) -> Option<&'static str> {
        match self.done.as_str() {
            "created" => Some("Created."),
            "saved" => Some("Saved."),
            "deleted" => Some("Deleted."),
            "setlist" => Some("Actual setlist saved; the accuracy was recomputed."),
            "resolved" => Some("Report closed."),
            "role" => Some("Role changed."),
            "banned" => Some("User banned; their sessions have ended."),
            "unbanned" => Some("User unbanned."),
            _ => None,
        }
    }
}

pub struct ReportRow {
    pub id: i64,
    pub target: String,
    pub reason: String,
    pub when: String,
}

#[derive(askama::Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardTemplate {
    layout: Layout,
    is_admin: bool,
    totals: Totals,
    reports: Vec<ReportRow>,
    /// Shows over without an actual setlist (the most recent few), and how many in all.
    missing_setlists: Vec<crate::http::pages::view::ShowCard>,
    missing_setlists_total: i64,
    notice: Option<&'static str>,
}

#[handler]
async fn dashboard(Data(state): Data<&Arc<AppState>>, Query(done): Query<Done>, mut visitor: Visitor) -> Response {
    let result = async {
        let user = staff(&visitor, Role::Moderator)?;
        let totals = state.domain.totals(&user).await?;
        let reports = state.domain.open_reports(&user).await?;
        let (missing, missing_setlists_total) = state.domain.shows_missing_setlists(&user, 5).await?;
        let t = DashboardTemplate {
            missing_setlists: missing.iter().map(crate::http::pages::view::ShowCard::from).collect(),
            missing_setlists_total,
            layout: Layout::new(&visitor),
            is_admin: user.role >= Role::Admin,
            totals,
            reports: reports
                .into_iter()
                .map(|r| ReportRow {
                    id: r.id,
                    target: format!("{} {}", r.target_type, r.target_id),
                    reason: r.reason,
                    when: utc_minute(r.created_at),
                })
                .collect(),
            notice: done.notice(),
        };
        render(&t)
    }
    .await;
    respond(&mut visitor, "/admin", result)
}

#[derive(Deserialize)]
struct ResolveForm {
    #[serde(default)]
    csrf: String,
    /// "resolve" or "dismiss"
    #[serde(default)]
    action: String,
}

#[handler]
async fn resolve_report(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<ResolveForm>,
) -> Response {
    let result = async {
        let user = submitter(&visitor, Role::Moderator, &form.csrf)?;
        state.domain.resolve_report(&user, id(&raw)?, form.action == "dismiss").await?;
        Ok(see_other("/admin?done=resolved#reports"))
    }
    .await;
    respond(&mut visitor, "/admin", result)
}

/// A refused form, shown again: its error and status, and what was typed.
pub struct Refused<F> {
    pub error: AppError,
    pub form: F,
}

/// The form values and error for a page: what was refused, or `fresh` values without an error.
pub fn form_state<F>(refused: Option<Refused<F>>, fresh: F) -> (F, Option<String>, Option<poem::http::StatusCode>) {
    match refused {
        Some(r) => (r.form, Some(r.error.public_message()), Some(r.error.status())),
        None => (fresh, None, None),
    }
}

/// Renders an admin page, with the refused form's status if there is one.
pub fn finish<T: askama::Template>(t: &T, status: Option<poem::http::StatusCode>) -> Result<Response, AppError> {
    match status {
        Some(s) => super::render_with_status(t, s),
        None => render(t),
    }
}

/// After a form: its redirect, or the page shown again when the input was refused.
pub async fn refused_or<F, E, Fut>(
    outcome: Result<Response, E>,
    form: F,
    show_again: impl FnOnce(Refused<F>) -> Fut,
) -> Result<Response, AppError>
where
    E: Into<AppError>,
    Fut: std::future::Future<Output = Result<Response, AppError>>,
{
    match outcome.map_err(Into::into) {
        Err(error) if super::is_form_error(&error) => show_again(Refused { error, form }).await,
        other => other,
    }
}

/// Fuzzing entry (see `http::fuzzing`): every admin form through poem's form extractor and on to
/// the domain's validation, as a submission would go.
pub(crate) fn fuzz_forms(data: &[u8]) {
    use futures_util::FutureExt;
    use poem::FromRequest;

    fn extract<T: serde::de::DeserializeOwned>(data: &[u8]) -> Option<T> {
        let req = poem::Request::builder()
            .method(poem::http::Method::POST)
            .content_type("application/x-www-form-urlencoded")
            .body(data.to_vec());
        let (req, mut body) = req.split();
        // The body is in memory: extraction never waits.
        let out = poem::web::Form::<T>::from_request(&req, &mut body).now_or_never()?;
        out.ok().map(|f| f.0)
    }
    if let Some(f) = extract::<forms::ArtistForm>(data) {
        let _ = f.input().validate();
    }
    if let Some(f) = extract::<forms::VenueForm>(data)
        && let Ok(input) = f.input()
    {
        let _ = input.validate();
    }
    if let Some(f) = extract::<forms::SongForm>(data)
        && let Ok(input) = f.input()
    {
        let _ = input.validate(1);
    }
    if let Some(f) = extract::<forms::ShowForm>(data) {
        for tz in ["Europe/Berlin", "America/St_Johns", f.title.as_str()] {
            if let Ok(input) = f.input(tz) {
                let _ = crate::domain::parse_time("starts_at", &input.starts_at);
                let _ = crate::domain::parse_status(&input.status);
            }
        }
    }
    if let Some(f) = extract::<shows::SetlistForm>(data) {
        let _ = super::setlist_text::parse(&f.setlist);
    }
}
