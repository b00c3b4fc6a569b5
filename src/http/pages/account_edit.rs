//! Changing one's profile (display name, email) and password from the account page. A refused form
//! comes back on the account page with its messages next to its fields and its input kept.

use std::sync::Arc;

use poem::web::{Data, Form};
use poem::{Response, handler};
use serde::Deserialize;

use super::account::{AccountForms, page};
use super::form_errors::FormErrors;
use super::{is_form_error, respond};
use crate::http::auth::Visitor;
use crate::http::error::AppError;
use crate::http::forms::see_other;
use crate::http::state::AppState;

/// What a form whose token no longer matches says (open too long, or from before a sign-in).
const EXPIRED: &str =
    "This form had expired (its CSRF token no longer matched), so nothing was changed. Please submit it again.";

#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    current_password: String,
}

const PROFILE_FIELDS: &[(&str, &str)] =
    &[("display_name", "Display name"), ("email", "Email"), ("current_password", "Current password")];

#[handler]
pub async fn profile(
    Data(state): Data<&Arc<AppState>>,
    mut visitor: Visitor,
    Form(form): Form<ProfileForm>,
) -> Response {
    let result = async {
        let user = visitor.require_user()?.clone();
        let changed: Result<(), AppError> = async {
            visitor.check_csrf(&form.csrf)?;
            let ip = visitor.ip;
            Ok(state.domain.update_profile(&user, &form.display_name, &form.email, &form.current_password, ip).await?)
        }
        .await;
        match changed {
            Ok(()) => Ok(see_other("/account?done=profile#profile")),
            Err(e) if is_form_error(&e) || matches!(e, AppError::Forbidden(_)) => {
                let errors = match e {
                    AppError::Forbidden(_) => FormErrors::general(EXPIRED),
                    _ => FormErrors::from_error(&e, PROFILE_FIELDS),
                };
                let forms = AccountForms {
                    profile: errors,
                    profile_input: Some((form.display_name.clone(), form.email.clone())),
                    ..Default::default()
                };
                page(state, &visitor, forms, Some(e.status())).await
            }
            Err(e) => Err(e),
        }
    }
    .await;
    respond(&mut visitor, "/account", result)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

const PASSWORD_FIELDS: &[(&str, &str)] = &[("current_password", "Current password"), ("new_password", "New password")];

#[handler]
pub async fn password(
    Data(state): Data<&Arc<AppState>>,
    mut visitor: Visitor,
    Form(form): Form<PasswordForm>,
) -> Response {
    let result = async {
        let user = visitor.require_user()?.clone();
        let changed: Result<_, AppError> = async {
            visitor.check_csrf(&form.csrf)?;
            let keep = visitor.session_token.as_deref();
            Ok(state
                .domain
                .change_password(&user, &form.current_password, &form.new_password, keep, visitor.ip)
                .await?)
        }
        .await;
        match changed {
            Ok(_) => Ok(see_other("/account?done=password#password")),
            Err(e) if is_form_error(&e) || matches!(e, AppError::Forbidden(_)) => {
                let errors = match e {
                    AppError::Forbidden(_) => FormErrors::general(EXPIRED),
                    _ => FormErrors::from_error(&e, PASSWORD_FIELDS),
                };
                let forms = AccountForms { password: errors, ..Default::default() };
                page(state, &visitor, forms, Some(e.status())).await
            }
            Err(e) => Err(e),
        }
    }
    .await;
    respond(&mut visitor, "/account", result)
}
