//! Server-rendered pages (askama). They work without JavaScript: plain forms with CSRF tokens,
//! Post/Redirect/Get. assets/static/app.js enhances voting and live rankings.

mod auth_pages;
mod home;
mod import;
mod show;
mod view;

use poem::http::StatusCode;
use poem::{IntoResponse, Response, Route, get, post};

use super::assets;
use super::auth::Visitor;
use crate::domain::{DomainError, Role};
use crate::error::AppError;

pub use view::ShowCard;

pub fn routes() -> Route {
    Route::new()
        .at("/", get(home::home))
        .at("/shows/:slug", get(show::show_page))
        .at("/shows/:slug/vote", post(show::vote))
        .at("/shows/:slug/songs", post(show::add_song))
        .at("/login", get(auth_pages::login_form).post(auth_pages::login_submit))
        .at("/signup", get(auth_pages::signup_form).post(auth_pages::signup_submit))
        .at("/logout", post(auth_pages::logout))
        .at("/admin/import", get(import::import_page).post(import::start_import))
        .at("/admin/import/jobs/:id", get(import::job_page))
        .at("/admin/import/jobs/:id/progress", get(import::job_progress))
}

/// What every page's layout needs.
pub struct Layout {
    pub css_url: String,
    pub js_url: String,
    pub icon_url: String,
    pub user: Option<String>,
    pub is_staff: bool,
    pub csrf: String,
}

impl Layout {
    pub fn new(visitor: &mut Visitor) -> Self {
        let csrf = visitor.csrf_token();
        Self {
            css_url: assets::url("app.css"),
            js_url: assets::url("app.js"),
            icon_url: assets::url("icon.svg"),
            user: visitor.user().map(|u| u.display_name.clone()),
            is_staff: visitor.user().is_some_and(|u| u.role >= Role::Moderator),
            csrf,
        }
    }
}

pub fn html(body: String) -> Response {
    Response::builder().content_type("text/html; charset=utf-8").header("cache-control", "no-store").body(body)
}

pub fn render<T: askama::Template>(t: &T) -> Result<Response, AppError> {
    t.render().map(html).map_err(|e| AppError::Domain(DomainError::Internal(e.into())))
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    heading: String,
    message: String,
}

/// Errors on pages render as HTML with the right status (the API uses problem+json instead).
pub fn error_page(visitor: &mut Visitor, err: AppError) -> Response {
    let status = err.status();
    let heading = match status {
        StatusCode::NOT_FOUND => "Not found".to_owned(),
        StatusCode::FORBIDDEN => "Not allowed".to_owned(),
        StatusCode::UNAUTHORIZED => "Please sign in".to_owned(),
        _ => status.canonical_reason().unwrap_or("Error").to_owned(),
    };
    if status.is_server_error() {
        let _ = err.to_problem(); // logs the internal cause
    }
    let page = ErrorPage { layout: Layout::new(visitor), heading, message: err.public_message() };
    let body = askama::Template::render(&page).unwrap_or_else(|_| "error".into());
    let mut resp = html(body).into_response();
    resp.set_status(status);
    visitor.finish(resp)
}
