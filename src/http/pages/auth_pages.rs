//! Sign in, sign up, sign out. A new session (new token) is issued on every sign-in, so a token
//! planted before sign-in is worthless (session fixation).

use std::sync::Arc;

use poem::web::{Data, Form, Query};
use poem::{Response, handler};
use serde::Deserialize;

use super::{Layout, error_page, render};
use crate::domain::DomainError;
use crate::http::auth::{Visitor, cookie_header, session_cookie_name};
use crate::http::error::AppError;
use crate::http::forms::{safe_next, see_other};
use crate::http::state::AppState;

#[derive(askama::Template)]
#[template(path = "auth.html")]
struct AuthTemplate {
    layout: Layout,
    heading: &'static str,
    action: &'static str,
    signup: bool,
    /// A message about the whole form (shown above it).
    error: Option<String>,
    /// Messages that belong to one field, shown next to it (aria-invalid, aria-describedby).
    email_error: Option<String>,
    name_error: Option<String>,
    password_error: Option<String>,
    /// What was entered, kept when the form comes back (never the password).
    email: String,
    display_name: String,
    next: String,
    notice: Option<&'static str>,
    /// Show "Forgot password?" (mail is configured).
    forgot: bool,
}

/// A refused form, told where it belongs: next to a field, or above the form.
#[derive(Default)]
struct Refusal {
    general: Option<String>,
    email: Option<String>,
    name: Option<String>,
    password: Option<String>,
}

impl Refusal {
    fn general(message: impl Into<String>) -> Self {
        Self { general: Some(message.into()), ..Default::default() }
    }

    /// "is not a valid email address" on `email` reads "Email is not a valid email address."
    fn from_error(e: &AppError) -> Self {
        let AppError::Domain(DomainError::Invalid { field, message }) = e else {
            return Self::general(e.public_message());
        };
        let label = match field.as_str() {
            "email" => "Email",
            "display_name" => "Display name",
            "password" => "Password",
            _ => return Self::general(e.public_message()),
        };
        let text = super::form_errors::sentence(label, message);
        match field.as_str() {
            "email" => Self { email: Some(text), ..Default::default() },
            "display_name" => Self { name: Some(text), ..Default::default() },
            _ => Self { password: Some(text), ..Default::default() },
        }
    }
}

/// What a form whose token no longer matches (open too long, or from before a sign-in or sign-out
/// in another tab) says; the form comes back with a fresh token and the input kept.
const EXPIRED: &str = "This form had expired, so nothing was sent (its CSRF token no longer matched). Your input \
                       is kept below: please submit it again.";

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    /// Set by the redirect after a sign-up.
    signed_up: Option<String>,
}

fn form_page(
    state: &AppState,
    visitor: &mut Visitor,
    signup: bool,
    refusal: Refusal,
    form: &AuthForm,
    next: String,
) -> Response {
    form_page_with(state, visitor, signup, refusal, (form.email.clone(), form.display_name.clone()), next, None)
}

fn form_page_with(
    state: &AppState,
    visitor: &mut Visitor,
    signup: bool,
    refusal: Refusal,
    (email, display_name): (String, String),
    next: String,
    notice: Option<&'static str>,
) -> Response {
    let t = AuthTemplate {
        notice,
        forgot: !signup && state.domain.mail_enabled(),
        layout: Layout::with_csrf(visitor),
        heading: if signup { "Create an account" } else { "Sign in" },
        action: if signup { "/signup" } else { "/login" },
        signup,
        error: refusal.general,
        email_error: refusal.email,
        name_error: refusal.name,
        password_error: refusal.password,
        email,
        display_name,
        next,
    };
    match render(&t) {
        Ok(r) => visitor.finish(r),
        Err(e) => error_page(visitor, e),
    }
}

#[handler]
pub fn login_form(Data(state): Data<&Arc<AppState>>, mut visitor: Visitor, Query(q): Query<NextQuery>) -> Response {
    let notice = q.signed_up.is_some().then_some(crate::http::api::SIGNED_UP);
    form_page_with(
        state,
        &mut visitor,
        false,
        Refusal::default(),
        Default::default(),
        safe_next(q.next.as_deref()),
        notice,
    )
}

#[handler]
pub fn signup_form(Data(state): Data<&Arc<AppState>>, mut visitor: Visitor, Query(q): Query<NextQuery>) -> Response {
    form_page_with(
        state,
        &mut visitor,
        true,
        Refusal::default(),
        Default::default(),
        safe_next(q.next.as_deref()),
        None,
    )
}

#[derive(Deserialize)]
pub struct AuthForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    next: String,
}

pub(super) async fn start_session(
    state: &AppState,
    visitor: &mut Visitor,
    user: &crate::domain::CurrentUser,
) -> Result<(), AppError> {
    if let Some(old) = visitor.session_token.clone() {
        state.domain.end_session(&old).await?;
    }
    let s = state.domain.create_session(user).await?;
    let max_age = state.config.settings.sessions.absolute_timeout.as_secs();
    visitor.set_cookie(cookie_header(state.https, session_cookie_name(state.https), &s.token, Some(max_age)));
    Ok(())
}

#[handler]
pub async fn login_submit(
    Data(state): Data<&Arc<AppState>>,
    mut visitor: Visitor,
    Form(form): Form<AuthForm>,
) -> Response {
    let next = safe_next(Some(&form.next));
    if let Err(e) = visitor.check_csrf(&form.csrf) {
        let mut r = form_page(state, &mut visitor, false, Refusal::general(EXPIRED), &form, next);
        r.set_status(e.status());
        return r;
    }
    let result = async {
        let user = state.domain.authenticate(&form.email, &form.password, visitor.ip).await?;
        start_session(state, &mut visitor, &user).await
    }
    .await;
    match result {
        Ok(()) => visitor.finish(see_other(&next)),
        Err(e @ AppError::Domain(DomainError::Invalid { .. } | DomainError::Forbidden(_))) => {
            let mut r = form_page(state, &mut visitor, false, Refusal::from_error(&e), &form, next);
            r.set_status(e.status());
            r
        }
        Err(e) => error_page(&mut visitor, e),
    }
}

#[handler]
pub async fn signup_submit(
    Data(state): Data<&Arc<AppState>>,
    mut visitor: Visitor,
    Form(form): Form<AuthForm>,
) -> Response {
    let next = safe_next(Some(&form.next));
    if let Err(e) = visitor.check_csrf(&form.csrf) {
        let mut r = form_page(state, &mut visitor, true, Refusal::general(EXPIRED), &form, next);
        r.set_status(e.status());
        return r;
    }
    // A new address and one that already has an account get the same redirect (no enumeration);
    // the new account signs in on the page it lands on.
    match state.domain.register(&form.email, &form.password, &form.display_name).await {
        Ok(_) => visitor.finish(see_other(&format!("{}&signed_up=1", super::login_url(&next)))),
        Err(e @ (DomainError::Invalid { .. } | DomainError::Conflict(_))) => {
            let e = AppError::Domain(e);
            let mut r = form_page(state, &mut visitor, true, Refusal::from_error(&e), &form, next);
            r.set_status(e.status());
            r
        }
        Err(e) => error_page(&mut visitor, e.into()),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

#[handler]
pub async fn logout(Data(state): Data<&Arc<AppState>>, mut visitor: Visitor, Form(form): Form<CsrfForm>) -> Response {
    if let Err(e) = visitor.check_csrf(&form.csrf) {
        return error_page(&mut visitor, e);
    }
    if let Some(token) = visitor.session_token.clone()
        && let Err(e) = state.domain.end_session(&token).await
    {
        return error_page(&mut visitor, e.into());
    }
    visitor.set_cookie(cookie_header(state.https, session_cookie_name(state.https), "", Some(0)));
    visitor.finish(see_other("/"))
}
