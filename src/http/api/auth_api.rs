//! Accounts over JSON: sign up, sign in (sets the session cookie), sign out, me, export, delete.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::{Json, Response as OaResponse};
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::json_body::JsonBody;
use super::models::{LoginRequest, Me, SignUpAccepted, SignUpRequest};
use crate::http::auth::{SameOrigin, SameOriginUser, Visitor, cookie_header, session_cookie_name};
use crate::http::error::{ApiResult, AppError};
use crate::http::state::AppState;

pub struct AuthApi;

/// What sign-up says, whether the address was new or not.
pub const SIGNED_UP: &str = "If this address had no account, it has one now: sign in with it.";

#[derive(ApiResponse)]
pub enum SessionStarted {
    /// Signed in; the session cookie is set
    #[oai(status = 200)]
    Ok(Json<Me>, #[oai(header = "set-cookie")] String),
}

#[derive(ApiResponse)]
pub enum SignedUp {
    /// Accepted: a new address now has an account, which signs in with `/auth/login`; for an address
    /// that already has one nothing changed. Both get this same answer, so that sign-up does not
    /// reveal which addresses have accounts.
    #[oai(status = 202)]
    Accepted(Json<SignUpAccepted>),
}

#[derive(ApiResponse)]
pub enum SignedOut {
    /// Signed out; the session cookie is cleared
    #[oai(status = 204)]
    Done(#[oai(header = "set-cookie")] String),
}

async fn new_session(
    state: &AppState,
    visitor: &Visitor,
    user: &crate::domain::CurrentUser,
) -> Result<(Me, String), AppError> {
    if let Some(old) = &visitor.session_token {
        state.domain.end_session(old).await?;
    }
    let s = state.domain.create_session(user).await?;
    let cookie = cookie_header(
        state.https,
        session_cookie_name(state.https),
        &s.token,
        Some(state.config.settings.sessions.absolute_timeout.as_secs()),
    );
    let me = Me {
        id: user.id,
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        role: user.role.as_str().into(),
        csrf_token: s.csrf_token,
    };
    Ok((me, cookie))
}

#[OpenApi(tag = "ApiTags::Auth")]
impl AuthApi {
    /// Create an account (then sign in with `/auth/login`)
    #[oai(path = "/auth/signup", method = "post")]
    async fn signup(
        &self,
        state: Data<&Arc<AppState>>,
        _same_origin: SameOrigin,
        body: JsonBody<SignUpRequest>,
    ) -> ApiResult<SignedUp> {
        // Created or already registered: the same answer (see `SignedUp`).
        state.domain.register(&body.email, &body.password, &body.display_name).await?;
        Ok(SignedUp::Accepted(Json(SignUpAccepted { detail: SIGNED_UP.into() })))
    }

    /// Sign in with email and password
    #[oai(path = "/auth/login", method = "post")]
    async fn login(
        &self,
        state: Data<&Arc<AppState>>,
        _same_origin: SameOrigin,
        visitor: Visitor,
        body: JsonBody<LoginRequest>,
    ) -> ApiResult<SessionStarted> {
        let user = state.domain.authenticate(&body.email, &body.password, visitor.ip).await?;
        let (me, cookie) = new_session(&state, &visitor, &user).await?;
        Ok(SessionStarted::Ok(Json(me), cookie))
    }

    /// Sign out this session
    #[oai(path = "/auth/logout", method = "post")]
    async fn logout(
        &self,
        state: Data<&Arc<AppState>>,
        _same_origin: SameOrigin,
        visitor: Visitor,
    ) -> ApiResult<SignedOut> {
        if let Some(t) = &visitor.session_token {
            state.domain.end_session(t).await?;
        }
        Ok(SignedOut::Done(cookie_header(state.https, session_cookie_name(state.https), "", Some(0))))
    }

    /// Sign out every session of this account
    #[oai(path = "/auth/logout-all", method = "post")]
    async fn logout_all(&self, state: Data<&Arc<AppState>>, user: SameOriginUser) -> ApiResult<SignedOut> {
        state.domain.end_all_sessions(user.id).await?;
        Ok(SignedOut::Done(cookie_header(state.https, session_cookie_name(state.https), "", Some(0))))
    }

    /// The signed-in account
    #[oai(path = "/me", method = "get")]
    async fn me(&self, visitor: Visitor) -> ApiResult<Json<Me>> {
        let s = visitor.session.as_ref().ok_or(AppError::Domain(crate::domain::DomainError::Unauthorized))?;
        Ok(Json(Me {
            id: s.user.id,
            email: s.user.email.clone(),
            display_name: s.user.display_name.clone(),
            role: s.user.role.as_str().into(),
            csrf_token: s.csrf_token.clone(),
        }))
    }

    /// Everything stored about the signed-in account (data portability)
    #[oai(path = "/me/export", method = "get")]
    async fn export(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Visitor,
    ) -> ApiResult<OaResponse<Json<serde_json::Value>>> {
        let user = visitor.require_user()?;
        let data = state.domain.export_user(user).await?;
        Ok(OaResponse::new(Json(data)).header("content-disposition", "attachment; filename=\"mysetlist-export.json\""))
    }

    /// Delete the signed-in account (erasure; votes stay only as anonymous counts)
    #[oai(path = "/me/delete", method = "post")]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        body: JsonBody<LoginRequest>,
    ) -> ApiResult<SignedOut> {
        if !user.email.eq_ignore_ascii_case(body.email.trim()) {
            return Err(AppError::bad_request("email", "does not match the signed-in account"));
        }
        state.domain.delete_account(&user, &body.password, user.ip).await?;
        Ok(SignedOut::Done(cookie_header(state.https, session_cookie_name(state.https), "", Some(0))))
    }
}
