//! `/reset/<token>`: a one-time link (an admin's, or one "Forgot password?" emailed) sets a new
//! password, ends every session of the account and signs the visitor in. An unknown, used or
//! expired link is a 404 page that says so.

use std::sync::Arc;

use poem::web::{Data, Form, Path};
use poem::{Response, handler};
use serde::Deserialize;

use super::auth_pages::start_session;
use super::form_errors::FormErrors;
use super::{Layout, form_result, render, render_with_status, respond};
use crate::domain::DomainError;
use crate::http::auth::Visitor;
use crate::http::error::AppError;
use crate::http::forms::see_other;
use crate::http::state::AppState;

#[derive(askama::Template)]
#[template(path = "reset.html")]
struct ResetTemplate {
    layout: Layout,
    /// None: the link does not work (any more).
    email: Option<String>,
    errors: FormErrors,
    gone: &'static str,
}

const GONE: &str = "This reset link has expired or was already used. Ask an admin for a new one.";
/// The same, where "Forgot password?" can send a new one.
const GONE_WITH_MAIL: &str =
    "This reset link has expired or was already used. Ask for a new one with \"Forgot password?\" on the sign-in page.";

fn gone() -> AppError {
    AppError::Domain(DomainError::NotFound("reset link"))
}

async fn form(state: &AppState, visitor: &mut Visitor, token: &str, errors: FormErrors) -> Result<Response, AppError> {
    let email = state.domain.reset_link_target(token).await?;
    let status = match (&email, errors.is_empty()) {
        (None, _) => Some(gone().status()),
        (Some(_), false) => Some(poem::http::StatusCode::UNPROCESSABLE_ENTITY),
        (Some(_), true) => None,
    };
    let gone = if state.domain.mail_enabled() { GONE_WITH_MAIL } else { GONE };
    let t = ResetTemplate { layout: Layout::with_csrf(visitor), email, errors, gone };
    match status {
        Some(s) => render_with_status(&t, s),
        None => render(&t),
    }
}

#[handler]
pub async fn reset_form(
    Data(state): Data<&Arc<AppState>>,
    Path(token): Path<String>,
    mut visitor: Visitor,
) -> Response {
    let result = form(state, &mut visitor, &token, FormErrors::default()).await;
    respond(&mut visitor, "/", result)
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    new_password: String,
}

#[handler]
pub async fn reset_submit(
    Data(state): Data<&Arc<AppState>>,
    Path(token): Path<String>,
    mut visitor: Visitor,
    Form(submitted): Form<ResetForm>,
) -> Response {
    let result = async {
        // The form keeps nothing worth keeping (one password field): the error page says what to do.
        visitor.check_csrf(&submitted.csrf)?;
        match form_result(state.domain.reset_password(&token, &submitted.new_password).await)? {
            Ok(user) => {
                start_session(state, &mut visitor, &user).await?;
                Ok(see_other("/account?done=reset"))
            }
            Err(e) => {
                form(state, &mut visitor, &token, FormErrors::from_error(&e, &[("new_password", "New password")])).await
            }
        }
    }
    .await;
    respond(&mut visitor, "/", result)
}
