//! `/forgot`: "Forgot password?" (only while `[smtp]` is configured; a 404 otherwise). The answer
//! to a request is one page, the same for an address with an account and one without: the domain
//! sends the link in the background (see `domain::email`).

use std::sync::Arc;

use poem::web::{Data, Form};
use poem::{Response, handler};
use serde::Deserialize;

use super::form_errors::FormErrors;
use super::{Layout, form_result, render, render_with_status, respond};
use crate::domain::DomainError;
use crate::http::auth::Visitor;
use crate::http::error::AppError;
use crate::http::state::AppState;

/// What every accepted request is told.
pub const SENT: &str = "If an account exists for that address, we sent a link to it. The link works once, for 24 \
                        hours. No email? Check the spam folder, or ask an admin.";

#[derive(askama::Template)]
#[template(path = "forgot.html")]
struct ForgotTemplate {
    layout: Layout,
    email: String,
    errors: FormErrors,
    sent: Option<&'static str>,
}

fn page(visitor: &mut Visitor, email: String, errors: FormErrors, sent: bool) -> Result<Response, AppError> {
    let failed = !errors.is_empty();
    let t = ForgotTemplate { layout: Layout::with_csrf(visitor), email, errors, sent: sent.then_some(SENT) };
    if failed { render_with_status(&t, poem::http::StatusCode::UNPROCESSABLE_ENTITY) } else { render(&t) }
}

fn mail_off() -> AppError {
    AppError::Domain(DomainError::NotFound("page"))
}

#[handler]
pub fn forgot_form(Data(state): Data<&Arc<AppState>>, mut visitor: Visitor) -> Response {
    let result = if state.domain.mail_enabled() {
        page(&mut visitor, String::new(), FormErrors::default(), false)
    } else {
        Err(mail_off())
    };
    respond(&mut visitor, "/", result)
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

#[handler]
pub async fn forgot_submit(
    Data(state): Data<&Arc<AppState>>,
    mut visitor: Visitor,
    Form(form): Form<ForgotForm>,
) -> Response {
    let result = async {
        visitor.check_csrf(&form.csrf)?;
        if !state.domain.mail_enabled() {
            return Err(mail_off());
        }
        match form_result(state.domain.request_password_reset(&form.email).await)? {
            Ok(()) => page(&mut visitor, String::new(), FormErrors::default(), true),
            Err(e) => page(&mut visitor, form.email.clone(), FormErrors::from_error(&e, &[("email", "Email")]), false),
        }
    }
    .await;
    respond(&mut visitor, "/", result)
}
