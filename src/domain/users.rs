//! Accounts: sign-up, sign-in, roles, bans, data export and erasure.

use std::net::IpAddr;

use serde_json::json;

use super::{CurrentUser, Domain, DomainError, Role, passwords, validate};
use crate::db::{self, DbError};

impl Domain {
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        display_name: &str,
        role: Role,
    ) -> Result<i64, DomainError> {
        self.create_user(email, password, display_name, role, false).await
    }

    async fn create_user(
        &self,
        email: &str,
        password: &str,
        display_name: &str,
        role: Role,
        audited: bool,
    ) -> Result<i64, DomainError> {
        let email = validate::email(email)?;
        let display_name = if display_name.trim().is_empty() {
            email.split('@').next().unwrap_or("fan").to_owned()
        } else {
            validate::text("display_name", display_name, 60)?
        };
        passwords::check_policy(password, &email)?;
        let hash = self.passwords.hash(password.to_owned()).await?;
        let now = self.now();
        self.db
            .write(move |c| {
                let id = match db::users::insert(c, &email, &display_name, &hash, role.as_str(), now) {
                    Err(e) if e.is_unique_violation() => {
                        return Err(DomainError::Conflict("an account with this email already exists".into()));
                    }
                    other => other?,
                };
                if audited {
                    // In the same transaction: an account the operator created is never unrecorded.
                    db::audit::append(
                        c,
                        None,
                        "user.create_cli",
                        "user",
                        &id.to_string(),
                        &json!({"role": role}),
                        now,
                    )?;
                }
                Ok(id)
            })
            .await
    }

    /// An account the operator creates on the server's console (`mysetlist admin create-user`),
    /// with any role; recorded in the audit log with no acting user.
    pub async fn create_user_by_operator(
        &self,
        email: &str,
        password: &str,
        display_name: &str,
        role: Role,
    ) -> Result<i64, DomainError> {
        self.create_user(email, password, display_name, role, true).await
    }

    /// Sign-up from the web: creates a `user` account. An address that already has an account is not
    /// an error here: nothing changes, and the web answers exactly as for a new address, so that
    /// sign-up does not tell who has an account. The password is hashed either way (same work, same
    /// time). There is no mail to tell the owner of the existing account (README, "Security").
    pub async fn register(&self, email: &str, password: &str, display_name: &str) -> Result<SignUp, DomainError> {
        match self.sign_up(email, password, display_name, Role::User).await {
            Ok(id) => Ok(SignUp::Created(id)),
            Err(DomainError::Conflict(_)) => Ok(SignUp::AlreadyRegistered),
            Err(e) => Err(e),
        }
    }

    /// Checks credentials from the client at `ip`; the same error for unknown email and wrong password.
    pub async fn authenticate(&self, email: &str, password: &str, ip: IpAddr) -> Result<CurrentUser, DomainError> {
        let wrong = || DomainError::invalid("password", "email or password is wrong");
        let email = validate::email(email).map_err(|_| wrong())?;
        // Before the (deliberately slow) hash check: a guessing run against one account stops here.
        self.limits.password_check(&email, ip)?;
        let user = self.db.read(move |c| db::users::by_email(c, &email)).await.map_err(DomainError::from)?;
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let ok = self.passwords.verify(password.to_owned(), stored).await?;
        let user = match user {
            Some(u) if ok && u.deleted_at.is_none() => u,
            _ => return Err(wrong()),
        };
        if user.banned_at.is_some() {
            return Err(DomainError::Forbidden("this account is banned".into()));
        }
        Ok(to_current(&user))
    }

    pub async fn user(&self, id: i64) -> Result<Option<CurrentUser>, DomainError> {
        let u = self.db.read(move |c| db::users::by_id(c, id)).await.map_err(DomainError::from)?;
        Ok(u.filter(|u| u.deleted_at.is_none() && u.banned_at.is_none()).map(|u| to_current(&u)))
    }

    pub async fn list_users(
        &self,
        actor: &CurrentUser,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<db::users::User>, DomainError> {
        actor.require(Role::Admin)?;
        self.db.read(move |c| db::users::list(c, limit.clamp(1, 500), offset.max(0))).await.map_err(DomainError::from)
    }

    pub async fn set_role(&self, actor: &CurrentUser, user_id: i64, role: Role) -> Result<(), DomainError> {
        actor.require(Role::Admin)?;
        if actor.id == user_id {
            return Err(DomainError::invalid("user_id", "you cannot change your own role"));
        }
        let actor_id = actor.id;
        let now = self.now();
        self.db
            .write(move |c| {
                if !db::users::set_role(c, user_id, role.as_str())? {
                    return Err(DomainError::NotFound("user"));
                }
                db::audit::append(
                    c,
                    Some(actor_id),
                    "user.set_role",
                    "user",
                    &user_id.to_string(),
                    &json!({"role": role}),
                    now,
                )?;
                Ok(())
            })
            .await?;
        self.forget_sessions_of(user_id);
        Ok(())
    }

    pub async fn set_banned(&self, actor: &CurrentUser, user_id: i64, banned: bool) -> Result<(), DomainError> {
        actor.require(Role::Admin)?;
        if actor.id == user_id {
            return Err(DomainError::invalid("user_id", "you cannot ban yourself"));
        }
        let actor_id = actor.id;
        let now = self.now();
        self.db
            .write(move |c| {
                if !db::users::set_banned(c, user_id, banned.then_some(now))? {
                    return Err(DomainError::NotFound("user"));
                }
                if banned {
                    db::sessions::delete_for_user(c, user_id)?;
                }
                let action = if banned { "user.ban" } else { "user.unban" };
                db::audit::append(c, Some(actor_id), action, "user", &user_id.to_string(), &json!({}), now)?;
                Ok(())
            })
            .await?;
        self.forget_sessions_of(user_id);
        Ok(())
    }

    /// Everything stored about a user, as JSON (data portability).
    pub async fn export_user(&self, user: &CurrentUser) -> Result<serde_json::Value, DomainError> {
        let id = user.id;
        self.db
            .read(move |c| -> Result<serde_json::Value, DomainError> {
                let u = db::users::by_id(c, id)?.ok_or(DomainError::NotFound("user"))?;
                let votes = db::votes::by_user(c, id)?;
                let follows = db::artists::followed_by(c, id)?;
                let songs_added = db::songs::added_by_user(c, id)?;
                let sessions = db::sessions::count_for_user(c, id)?;
                let feed = db::calendar_feeds::created_at(c, id)?;
                let email_prefs = db::email::prefs(c, id)?;
                let emails_sent = db::email::sent_to(c, id)?;
                Ok(json!({
                    "account": {"id": u.id, "email": u.email, "display_name": u.display_name, "role": u.role,
                                "created_at": u.created_at},
                    "votes": votes,
                    "follows": follows.iter().map(|a| json!({"artist": a.name, "slug": a.slug})).collect::<Vec<_>>(),
                    "songs_added": songs_added,
                    "active_sessions": sessions,
                    // The address itself is not stored (only its hash), so it cannot be exported.
                    "calendar_feed": feed.map(|t| json!({"created_at": t})),
                    // Unsubscribe tokens are not stored (only their hashes), so they are not exported.
                    "email_preferences": email_prefs,
                    "emails_sent": emails_sent
                        .iter()
                        .map(|(show, kind, at)| json!({"show_id": show, "kind": kind, "sent_at": at}))
                        .collect::<Vec<_>>(),
                }))
            })
            .await
    }

    /// Erasure: personal data removed; votes kept only as anonymous counts (README "Data protection").
    /// The password is checked like a sign-in (same limits, same pool): a stolen session must not
    /// become a way to guess the password.
    pub async fn delete_account(&self, user: &CurrentUser, password: &str, ip: IpAddr) -> Result<(), DomainError> {
        self.confirm_password(user, password, "password", ip).await?;
        let id = user.id;
        let now = self.now();
        self.db
            .write(move |c| -> Result<(), DbError> {
                db::votes::anonymize_user(c, id)?;
                db::sessions::delete_for_user(c, id)?;
                db::users::erase(c, id, now)?;
                Ok(())
            })
            .await
            .map_err(DomainError::from)?;
        self.forget_sessions_of(id);
        // The user's votes moved from signed-in to anonymous counts on every show they voted on.
        self.every_ranking_changed();
        // The old rows may still sit in WAL frames: move the zeroed pages into the file and empty
        // the WAL now rather than at some later checkpoint. Best effort: the account is erased either way.
        match self.db.checkpoint_truncate().await {
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "checkpoint after account erasure failed"),
        }
        Ok(())
    }
}

/// What a web sign-up did. Callers answer both the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignUp {
    Created(i64),
    AlreadyRegistered,
}

pub(super) fn to_current(u: &db::users::User) -> CurrentUser {
    CurrentUser {
        id: u.id,
        email: u.email.clone(),
        display_name: u.display_name.clone(),
        role: Role::parse(&u.role).unwrap_or(Role::User),
    }
}
