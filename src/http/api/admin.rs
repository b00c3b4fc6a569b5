//! Administration over JSON: users, roles, bans, the audit log. Admin only.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

use super::ApiTags;
use super::json_body::JsonBody;
use super::models::*;
use super::responses::ChangeResponse;
use crate::domain::Role;
use crate::http::auth::{SameOriginUser, Visitor};
use crate::http::error::{ApiResult, AppError};
use crate::http::state::AppState;

pub struct AdminApi;

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminApi {
    /// Users (admin)
    #[oai(path = "/admin/users", method = "get")]
    async fn users(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Visitor,
        #[oai(default = "default_limit", validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<i64>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "1000000")))] offset: Query<i64>,
    ) -> ApiResult<Json<Vec<UserSummary>>> {
        let user = visitor.require_user()?;
        let users = state.domain.list_users(user, limit.0, offset.0).await?;
        Ok(Json(
            users
                .iter()
                .map(|u| UserSummary {
                    id: u.id,
                    email: u.email.clone(),
                    display_name: u.display_name.clone(),
                    role: u.role.clone(),
                    banned: u.banned_at.is_some(),
                    created_at: iso(u.created_at),
                })
                .collect(),
        ))
    }

    /// Promote or demote a user (admin)
    #[oai(path = "/admin/users/:id/role", method = "put")]
    async fn set_role(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        id: Path<i64>,
        body: JsonBody<RoleRequest>,
    ) -> ApiResult<ChangeResponse> {
        let role =
            Role::parse(&body.role).ok_or_else(|| AppError::bad_request("role", "must be user, moderator or admin"))?;
        state.domain.set_role(&user, id.0, role).await?;
        Ok(ChangeResponse::Done)
    }

    /// Ban or unban a user (admin); a ban ends the user's sessions
    #[oai(path = "/admin/users/:id/ban", method = "put")]
    async fn set_banned(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        id: Path<i64>,
        body: JsonBody<BanRequest>,
    ) -> ApiResult<ChangeResponse> {
        state.domain.set_banned(&user, id.0, body.banned).await?;
        Ok(ChangeResponse::Done)
    }

    /// The audit log, newest first (admin)
    #[oai(path = "/admin/audit", method = "get")]
    async fn audit(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Visitor,
        #[oai(default = "default_limit", validator(minimum(value = "1"), maximum(value = "1000")))] limit: Query<i64>,
    ) -> ApiResult<Json<Vec<AuditEntry>>> {
        let user = visitor.require_user()?;
        let entries = state.domain.audit_log(user, limit.0).await?;
        Ok(Json(
            entries
                .into_iter()
                .map(|e| AuditEntry {
                    id: e.id,
                    at: iso(e.at),
                    actor_id: e.actor_id,
                    actor_email: e.actor_email,
                    action: e.action,
                    target_type: e.target_type,
                    target_id: e.target_id,
                    details: e.details,
                })
                .collect(),
        ))
    }
}

fn default_limit() -> i64 {
    100
}
