//! Changing one's own account (display name, email, password) and one-time password reset links
//! that an admin issues and hands over (so a forgotten password needs no mail server).

use std::net::IpAddr;

use serde_json::json;

use super::tokens::{random_token, token_hash};
use super::{CurrentUser, Domain, DomainError, Role, passwords, validate};
use crate::db;

/// How long a reset link works (once).
pub const RESET_LINK_TTL_SECS: i64 = 24 * 3600;

/// A reset link just issued: the token is shown once (only its hash is stored).
#[derive(Debug, Clone)]
pub struct ResetLink {
    pub token: String,
    pub email: String,
    pub expires_at: i64,
}

/// What a password change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordChanged {
    /// Sessions on other devices that were signed out.
    pub other_sessions_ended: usize,
}

impl Domain {
    /// Checks the account's current password like a sign-in does (same limits, same pool), so that
    /// a stolen session cannot become a way to guess it. `field` names the form field it came from.
    pub(super) async fn confirm_password(
        &self,
        user: &CurrentUser,
        password: &str,
        field: &str,
        ip: IpAddr,
    ) -> Result<(), DomainError> {
        self.limits.password_check(&user.email.to_lowercase(), ip)?;
        let id = user.id;
        let stored = self.db.read(move |c| db::users::by_id(c, id)).await?.ok_or(DomainError::NotFound("user"))?;
        if !self.passwords.verify(password.to_owned(), Some(stored.password_hash)).await? {
            return Err(DomainError::invalid(field, "is wrong"));
        }
        Ok(())
    }

    /// A new display name and, with the current password, a new email address.
    pub async fn update_profile(
        &self,
        user: &CurrentUser,
        display_name: &str,
        email: &str,
        current_password: &str,
        ip: IpAddr,
    ) -> Result<(), DomainError> {
        let display_name = validate::text("display_name", display_name, 60)?;
        let email = validate::email(email)?;
        if !email.eq_ignore_ascii_case(&user.email) {
            if current_password.is_empty() {
                return Err(DomainError::invalid("current_password", "is needed to change your email address"));
            }
            self.confirm_password(user, current_password, "current_password", ip).await?;
        }
        let id = user.id;
        self.db
            .write(move |c| match db::users::set_profile(c, id, &email, &display_name) {
                Err(e) if e.is_unique_violation() => {
                    Err(DomainError::invalid("email", "is already used by another account"))
                }
                Ok(true) => Ok(()),
                Ok(false) => Err(DomainError::NotFound("user")),
                Err(e) => Err(DomainError::from(e)),
            })
            .await?;
        // Cached sessions carry the old name and address.
        self.forget_sessions_of(id);
        Ok(())
    }

    /// A new password, checked against the current one. Every other session of the account ends
    /// (a password change is what a user does after a device is lost); `keep_session` (the cookie
    /// of the session that asked) stays signed in. Open reset links stop working.
    pub async fn change_password(
        &self,
        user: &CurrentUser,
        current_password: &str,
        new_password: &str,
        keep_session: Option<&str>,
        ip: IpAddr,
    ) -> Result<PasswordChanged, DomainError> {
        self.confirm_password(user, current_password, "current_password", ip).await?;
        let hash = self.hash_new_password(new_password, &user.email).await?;
        let (id, keep) = (user.id, keep_session.map(token_hash));
        let ended = self
            .db
            .write(move |c| -> Result<usize, DomainError> {
                db::users::set_password(c, id, &hash)?;
                db::password_resets::delete_for_user(c, id)?;
                Ok(match keep {
                    Some(keep) => db::sessions::delete_for_user_except(c, id, &keep)?,
                    None => db::sessions::delete_for_user(c, id)?,
                })
            })
            .await?;
        self.forget_sessions_of(id);
        Ok(PasswordChanged { other_sessions_ended: ended })
    }

    /// Admin: a one-time link that lets `user_id` set a new password (valid for a day). The
    /// password does not change until the link is used; issuing one is in the audit log.
    pub async fn issue_reset_link(&self, actor: &CurrentUser, user_id: i64) -> Result<ResetLink, DomainError> {
        actor.require(Role::Admin)?;
        let token = random_token();
        let hash = token_hash(&token);
        let now = self.now();
        let expires_at = now + RESET_LINK_TTL_SECS;
        let actor_id = actor.id;
        let email = self
            .db
            .write(move |c| -> Result<String, DomainError> {
                let user = db::users::by_id(c, user_id)?.filter(|u| u.deleted_at.is_none());
                let user = user.ok_or(DomainError::NotFound("user"))?;
                if user.banned_at.is_some() {
                    return Err(DomainError::invalid("user_id", "this account is banned; unban it first"));
                }
                db::password_resets::insert(c, &hash, user_id, Some(actor_id), now, expires_at)?;
                let details = json!({ "expires_at": expires_at });
                db::audit::append(c, Some(actor_id), "user.reset_link", "user", &user_id.to_string(), &details, now)?;
                Ok(user.email)
            })
            .await?;
        Ok(ResetLink { token, email, expires_at })
    }

    /// The email of the account a reset link resets, while the link works (None: unknown, used,
    /// expired, or the account is gone or banned).
    pub async fn reset_link_target(&self, token: &str) -> Result<Option<String>, DomainError> {
        if token.is_empty() || token.len() > 100 {
            return Ok(None);
        }
        let (hash, now) = (token_hash(token), self.now());
        let user = self
            .db
            .read(move |c| -> Result<Option<db::users::User>, db::DbError> {
                match db::password_resets::user_of(c, &hash, now)? {
                    Some(id) => db::users::by_id(c, id),
                    None => Ok(None),
                }
            })
            .await?;
        Ok(user.filter(|u| u.deleted_at.is_none() && u.banned_at.is_none()).map(|u| u.email))
    }

    /// Uses a reset link: sets the new password, ends every session of the account and every other
    /// link. Returns the user, for the caller to sign in.
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<CurrentUser, DomainError> {
        let expired = || DomainError::NotFound("reset link");
        let email = self.reset_link_target(token).await?.ok_or_else(expired)?;
        let hash = self.hash_new_password(new_password, &email).await?;
        let (token_hash, now) = (token_hash(token), self.now());
        let user = self
            .db
            .write(move |c| -> Result<db::users::User, DomainError> {
                // Checked again in the write: two uses of one link at once must not both succeed.
                let id = db::password_resets::user_of(c, &token_hash, now)?.ok_or_else(expired)?;
                db::users::set_password(c, id, &hash)?;
                db::password_resets::delete_for_user(c, id)?;
                db::sessions::delete_for_user(c, id)?;
                db::audit::append(c, Some(id), "user.password_reset", "user", &id.to_string(), &json!({}), now)?;
                db::users::by_id(c, id)?.ok_or(DomainError::NotFound("user"))
            })
            .await?;
        self.forget_sessions_of(user.id);
        Ok(super::users::to_current(&user))
    }

    async fn hash_new_password(&self, password: &str, email: &str) -> Result<String, DomainError> {
        passwords::check_policy(password, email).map_err(|e| match e {
            DomainError::Invalid { message, .. } => DomainError::invalid("new_password", message),
            other => other,
        })?;
        self.passwords.hash(password.to_owned()).await
    }
}
