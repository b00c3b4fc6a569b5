//! Admin only: users (roles, bans) and the audit log.

use std::sync::Arc;

use poem::web::{Data, Form, Path, Query};
use poem::{Response, handler};
use serde::Deserialize;

use super::{Done, id, staff, submitter};
use crate::domain::{CurrentUser, Role};
use crate::http::auth::Visitor;
use crate::http::error::AppError;
use crate::http::forms::see_other;
use crate::http::pages::view::{date, utc_minute};
use crate::http::pages::{Layout, render, respond};
use crate::http::state::AppState;

pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub banned: bool,
    pub since: String,
    pub me: bool,
}

#[derive(askama::Template)]
#[template(path = "admin/users.html")]
struct UsersTemplate {
    layout: Layout,
    users: Vec<UserRow>,
    notice: Option<&'static str>,
}

#[handler]
pub async fn list(Data(state): Data<&Arc<AppState>>, Query(done): Query<Done>, mut visitor: Visitor) -> Response {
    let result = async {
        let admin = staff(&visitor, Role::Admin)?;
        let users = state.domain.list_users(&admin, 500, 0).await?;
        let users = users
            .into_iter()
            .map(|u| UserRow {
                me: u.id == admin.id,
                id: u.id,
                email: u.email,
                display_name: u.display_name,
                role: u.role,
                banned: u.banned_at.is_some(),
                since: date(u.created_at),
            })
            .collect();
        render(&UsersTemplate { layout: Layout::new(&visitor), users, notice: done.notice() })
    }
    .await;
    respond(&mut visitor, "/admin/users", result)
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
}

#[handler]
pub async fn set_role(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<RoleForm>,
) -> Response {
    let result = async {
        let admin = submitter(&visitor, Role::Admin, &form.csrf)?;
        let role =
            Role::parse(&form.role).ok_or_else(|| AppError::bad_request("role", "must be user, moderator or admin"))?;
        state.domain.set_role(&admin, id(&raw)?, role).await?;
        Ok(see_other(&format!("/admin/users?done=role#user-{raw}")))
    }
    .await;
    respond(&mut visitor, "/admin/users", result)
}

#[derive(Deserialize)]
pub struct BanForm {
    #[serde(default)]
    csrf: String,
    /// "1" bans, anything else unbans.
    #[serde(default)]
    banned: String,
    /// "yes" once the admin confirmed a ban on the confirmation page.
    #[serde(default)]
    confirm: String,
}

#[derive(askama::Template)]
#[template(path = "admin/ban.html")]
struct BanTemplate {
    layout: Layout,
    id: i64,
    email: String,
    display_name: String,
    notice: Option<&'static str>,
}

/// A ban signs the user out everywhere and stops them signing in: the admin confirms it on a page
/// of its own (works without JavaScript), which names whom.
async fn ban_confirmation(
    state: &AppState,
    visitor: &Visitor,
    admin: &CurrentUser,
    raw: &str,
) -> Result<Response, AppError> {
    let id = id(raw)?;
    let users = state.domain.list_users(admin, 500, 0).await?;
    let user = users.into_iter().find(|u| u.id == id).ok_or(AppError::NotFound)?;
    render(&BanTemplate {
        layout: Layout::new(visitor),
        id,
        email: user.email,
        display_name: user.display_name,
        notice: None,
    })
}

#[handler]
pub async fn confirm_ban(Data(state): Data<&Arc<AppState>>, Path(raw): Path<String>, mut visitor: Visitor) -> Response {
    let result = async {
        let admin = staff(&visitor, Role::Admin)?;
        ban_confirmation(state, &visitor, &admin, &raw).await
    }
    .await;
    respond(&mut visitor, "/admin/users", result)
}

#[handler]
pub async fn set_banned(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<BanForm>,
) -> Response {
    let result = async {
        let admin = submitter(&visitor, Role::Admin, &form.csrf)?;
        let ban = form.banned == "1";
        if ban && form.confirm != "yes" {
            return ban_confirmation(state, &visitor, &admin, &raw).await;
        }
        state.domain.set_banned(&admin, id(&raw)?, ban).await?;
        let done = if ban { "banned" } else { "unbanned" };
        Ok(see_other(&format!("/admin/users?done={done}#user-{raw}")))
    }
    .await;
    respond(&mut visitor, "/admin/users", result)
}

#[derive(askama::Template)]
#[template(path = "admin/reset_link.html")]
struct ResetLinkTemplate {
    layout: Layout,
    email: String,
    url: String,
    expires: String,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// A one-time password reset link for a user, shown once to the admin who hands it over (it works
/// without a mail server). The page is `no-store` like every admin page.
#[handler]
pub async fn reset_link(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    req: &poem::Request,
    mut visitor: Visitor,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let result = async {
        let admin = submitter(&visitor, Role::Admin, &form.csrf)?;
        let link = state.domain.issue_reset_link(&admin, id(&raw)?).await?;
        // The configured origin; without one (local use) the origin the admin is using.
        let origin = state.config.allowed_origins.first().cloned().unwrap_or_else(|| {
            let host = req.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            let scheme = if state.https { "https" } else { "http" };
            format!("{scheme}://{host}")
        });
        render(&ResetLinkTemplate {
            layout: Layout::new(&visitor),
            email: link.email,
            url: format!("{origin}/reset/{}", link.token),
            expires: utc_minute(link.expires_at),
            notice: None,
        })
    }
    .await;
    respond(&mut visitor, "/admin/users", result)
}

pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: String,
}

#[derive(askama::Template)]
#[template(path = "admin/audit.html")]
struct AuditTemplate {
    layout: Layout,
    entries: Vec<AuditRow>,
    notice: Option<&'static str>,
}

#[handler]
pub async fn audit(Data(state): Data<&Arc<AppState>>, mut visitor: Visitor) -> Response {
    let result = async {
        let admin = staff(&visitor, Role::Admin)?;
        let entries = state.domain.audit_log(&admin, 300).await?;
        let entries = entries
            .into_iter()
            .map(|e| AuditRow {
                at: utc_minute(e.at),
                actor: e.actor_email.unwrap_or_else(|| "system".into()),
                action: e.action,
                target: format!("{} {}", e.target_type, e.target_id),
                details: if e.details == "{}" { String::new() } else { e.details },
            })
            .collect();
        render(&AuditTemplate { layout: Layout::new(&visitor), entries, notice: None })
    }
    .await;
    respond(&mut visitor, "/admin/audit", result)
}
