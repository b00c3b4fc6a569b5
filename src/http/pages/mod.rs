//! Server-rendered pages (askama). They work without JavaScript: plain forms with CSRF tokens,
//! Post/Redirect/Get. assets/static/app.js enhances voting and live rankings.
//!
//! Conventions: a handler builds its page in a function returning `Result<Response, AppError>` and
//! hands it to [`respond`], which turns "sign in required" into a redirect to /login?next= and every
//! other error into an HTML error page with the right status. A form whose input is refused renders
//! its page again with the message and a 4xx status.

mod account;
mod account_edit;
mod admin;
mod api_docs;
mod api_examples;
mod artist;
mod auth_pages;
mod calendar;
mod forgot;
mod form_errors;
mod home;
mod import;
mod media;
mod privacy;
mod reset;
mod search;
mod setlist_text;
mod show;
mod show_forms;
pub(in crate::http) mod show_personal;
mod status;
mod unsubscribe;
mod venue;
mod view;

use poem::http::StatusCode;
use poem::{IntoResponse, Response, Route, get, post};

use super::assets;
use super::auth::Visitor;
use super::forms::see_other;
use crate::domain::{DomainError, Role};
use crate::http::error::AppError;

pub use api_docs::{ApiDocs, api_docs_page};
pub use view::ShowCard;

pub fn routes() -> Route {
    table().route
}

/// Every path the page router serves, in the router's own syntax (`/shows/:slug`). The access-control
/// test walks this list, so a new page cannot be added without saying who may use it.
pub fn paths() -> Vec<&'static str> {
    table().paths
}

/// The page router and the list of its paths, built from the one table below.
pub struct PageRoutes {
    route: Route,
    paths: Vec<&'static str>,
}

impl PageRoutes {
    pub fn at<E>(mut self, path: &'static str, ep: E) -> Self
    where
        E: poem::IntoEndpoint,
        E::Endpoint: 'static,
    {
        self.route = self.route.at(path, ep);
        self.paths.push(path);
        self
    }
}

fn table() -> PageRoutes {
    let pages = PageRoutes { route: Route::new(), paths: Vec::new() }
        .at("/", get(home::home))
        .at("/shows/:slug", get(show::show_page))
        .at("/shows/:slug/vote", post(show_forms::vote))
        .at("/shows/:slug/songs", post(show_forms::add_song))
        .at("/shows/:slug/report", post(show_forms::report))
        .at("/shows/:slug/calendar.ics", get(calendar::show_ics))
        .at("/calendar/:file", get(calendar::feed))
        .at("/artists/:slug", get(artist::artist_page))
        .at("/artists/:slug/follow", post(artist::follow))
        .at("/venues/:slug", get(venue::venue_page))
        .at("/media/:file", get(media::media))
        .at("/search", get(search::search_page))
        .at("/login", get(auth_pages::login_form).post(auth_pages::login_submit))
        .at("/signup", get(auth_pages::signup_form).post(auth_pages::signup_submit))
        .at("/logout", post(auth_pages::logout))
        .at("/account", get(account::account_page))
        .at("/account/profile", post(account_edit::profile))
        .at("/account/password", post(account_edit::password))
        .at("/account/logout-all", post(account::logout_all))
        .at("/account/calendar", post(account::calendar_feed))
        .at("/account/emails", post(account::save_email_prefs))
        .at("/account/delete", post(account::delete))
        .at("/account/deleted", get(account::deleted))
        .at("/reset/:token", get(reset::reset_form).post(reset::reset_submit))
        .at("/forgot", get(forgot::forgot_form).post(forgot::forgot_submit))
        .at("/unsubscribe/:token", get(unsubscribe::unsubscribe_form).post(unsubscribe::unsubscribe))
        .at("/privacy", get(privacy::privacy_page))
        .at("/admin/import", get(import::import_page).post(import::start_import))
        .at("/admin/import/jobs/:id", get(import::job_page))
        .at("/admin/import/jobs/:id/progress", get(import::job_progress));
    status::add_routes(admin::add_routes(pages))
}

/// Fuzzing entry (see `http::fuzzing`): the page forms and the text parsers behind them.
pub(crate) fn fuzz_forms(data: &[u8]) {
    admin::fuzz_forms(data);
    let text = String::from_utf8_lossy(data);
    let _ = setlist_text::parse(&text);
    let _ = super::forms::safe_next(Some(&text));
    let _ = login_url(&text);
}

/// What every page's layout needs.
#[derive(Clone)]
pub struct Layout {
    pub css_url: String,
    pub js_url: String,
    pub icon_url: String,
    pub user: Option<String>,
    pub is_staff: bool,
    /// The form token: the session's for signed-in visitors; empty for signed-out visitors unless the
    /// page has a form ([`Layout::with_csrf`]), so that pages without forms set no cookie and can be
    /// cached.
    pub csrf: String,
}

impl Layout {
    pub fn new(visitor: &Visitor) -> Self {
        Self {
            css_url: assets::url("app.css"),
            js_url: assets::url("app.js"),
            icon_url: assets::url("icon.svg"),
            user: visitor.user().map(|u| u.display_name.clone()),
            is_staff: visitor.user().is_some_and(|u| u.role >= Role::Moderator),
            csrf: visitor.session.as_ref().map(|s| s.csrf_token.clone()).unwrap_or_default(),
        }
    }

    /// For responses built before the visitor is known (the rate limiter): signed-out look, no form.
    pub fn bare() -> Self {
        Self {
            css_url: assets::url("app.css"),
            js_url: assets::url("app.js"),
            icon_url: assets::url("icon.svg"),
            user: None,
            is_staff: false,
            csrf: String::new(),
        }
    }

    /// For pages with a form a signed-out visitor may submit: creates the CSRF cookie if needed.
    pub fn with_csrf(visitor: &mut Visitor) -> Self {
        let csrf = visitor.csrf_token();
        Self { csrf, ..Self::new(visitor) }
    }
}

pub fn html(body: String) -> Response {
    html_bytes(body.into())
}

/// A page from shared bytes (a cached page: no copy per request).
pub fn html_bytes(body: bytes::Bytes) -> Response {
    Response::builder().content_type("text/html; charset=utf-8").header("cache-control", "no-store").body(body)
}

pub fn render<T: askama::Template>(t: &T) -> Result<Response, AppError> {
    t.render().map(html).map_err(render_failed)
}

/// A template that failed to render: an internal error (logged, never shown).
pub fn render_failed(e: askama::Error) -> AppError {
    AppError::Domain(DomainError::Internal(e.into()))
}

/// Renders a page with a non-200 status (a refused form shown again).
pub fn render_with_status<T: askama::Template>(t: &T, status: StatusCode) -> Result<Response, AppError> {
    let mut r = render(t)?;
    r.set_status(status);
    Ok(r)
}

/// The configured origin (`public_url`, else `https://<domain>`) for absolute links in link previews
/// and calendars; None on a plain local setup, where they would name whatever Host a request sent.
pub fn public_origin(state: &super::state::AppState) -> Option<&str> {
    state.config.public_origin()
}

/// `/login?next=<path>`: where signed-out visitors are sent.
pub fn login_url(next: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("/login?next={encoded}")
}

/// Errors a form shows next to itself (bad input, conflicts, closed voting) rather than as an error
/// page. Everything else (not found, forbidden, internal) becomes an error page.
pub fn is_form_error(e: &AppError) -> bool {
    matches!(
        e,
        AppError::BadRequest { .. }
            | AppError::Domain(DomainError::Invalid { .. } | DomainError::Conflict(_) | DomainError::VotingClosed)
    )
}

/// An operation's result as a form sees it: `Ok(Err(refusal))` is shown next to the form (see
/// `is_form_error`), `Err` becomes the error page.
pub fn form_result<T>(result: Result<T, DomainError>) -> Result<Result<T, AppError>, AppError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(e) => {
            let e = AppError::Domain(e);
            if is_form_error(&e) { Ok(Err(e)) } else { Err(e) }
        }
    }
}

/// Finishes a page handler: pending cookies attached, "sign in required" redirected to the login page
/// (coming back to `next` afterwards), other errors rendered as HTML error pages.
pub fn respond(visitor: &mut Visitor, next: &str, result: Result<Response, AppError>) -> Response {
    match result {
        Ok(r) => visitor.finish(r),
        Err(AppError::Domain(DomainError::Unauthorized)) => visitor.finish(see_other(&login_url(next))),
        Err(e) => error_page(visitor, e),
    }
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    heading: String,
    message: String,
    /// Offer a search (a page that was not found).
    search: bool,
}

/// What a browser gets for an address no route has, or a method a route does not take (JSON
/// clients and `/api/` paths get problem+json instead, see `middleware::RouteCapture`): an HTML page
/// with a search, not a JSON document. Built before the visitor is known: the signed-out look.
pub fn unrouted_page(status: StatusCode) -> Response {
    let (heading, message) = if status == StatusCode::METHOD_NOT_ALLOWED {
        (
            "This page cannot do that",
            "The address exists, but not for this kind of request. Try opening it from a link.",
        )
    } else {
        ("Page not found", "Nothing lives at this address. Perhaps it was mistyped, or the show was removed.")
    };
    let page = ErrorPage { layout: Layout::bare(), heading: heading.into(), message: message.into(), search: true };
    let body = askama::Template::render(&page).unwrap_or_else(|_| "not found".into());
    let mut resp = html(body);
    resp.set_status(status);
    resp
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
    let search = status == StatusCode::NOT_FOUND;
    let page = ErrorPage { layout: Layout::new(visitor), heading, message: err.public_message(), search };
    let body = askama::Template::render(&page).unwrap_or_else(|_| "error".into());
    let mut resp = html(body).into_response();
    resp.set_status(status);
    if let Some(secs) = err.retry_after() {
        resp.headers_mut().insert("retry-after", poem::http::HeaderValue::from(secs));
    }
    visitor.finish(resp)
}

/// What a page or form request refused by the per-address rate limit gets: an HTML page with 429 and
/// Retry-After (the JSON API gets problem+json instead).
pub fn rate_limited_page(err: &AppError) -> Response {
    let status = err.status();
    let message = match err {
        AppError::RateLimited { retry_after_secs }
        | AppError::Domain(DomainError::RateLimited { retry_after_secs }) => {
            format!("Too many attempts from your network. Please try again in {retry_after_secs} seconds.")
        }
        other => other.public_message(),
    };
    let page = ErrorPage { layout: Layout::bare(), heading: "Too many requests".into(), message, search: false };
    let body = askama::Template::render(&page).unwrap_or_else(|_| "too many requests".into());
    let mut resp = html(body);
    resp.set_status(status);
    if let Some(secs) = err.retry_after() {
        resp.headers_mut().insert("retry-after", poem::http::HeaderValue::from(secs));
    }
    resp
}
