//! What the app sends by email, when `[smtp]` is configured: "Forgot password?" links (here) and the
//! follow emails (`follow_emails.rs`). The mail server sits behind [`crate::mail::Mailer`].
//!
//! Invariant of "Forgot password?": the answer does not depend on whether the address has an
//! account. The request is counted against the per-address limit, then the lookup, the link and the
//! sending happen in a background task, so neither the answer's text nor its timing (argon2 is not
//! involved, but the database write and the SMTP conversation are) tells an account from none. A
//! failure there is logged and never shown.

use std::sync::Arc;

use serde_json::json;

use super::account::RESET_LINK_TTL_SECS;
use super::tokens::{random_token, token_hash};
use super::{Domain, DomainError};
use crate::db::{self, Database};
use crate::mail::{Email, Mailer};

impl Domain {
    /// Whether mail can be sent (`smtp.host` is set): the "Forgot password?" link and the email
    /// preferences show only then.
    pub fn mail_enabled(&self) -> bool {
        self.mailer.is_some()
    }

    /// "Forgot password?": emails a one-time reset link to `email` if it belongs to an account that
    /// may sign in. Answers the same either way (see the module comment); refused only for too many
    /// requests for this address (`rate_limit.password_resets_per_hour`).
    pub async fn request_password_reset(&self, email: &str) -> Result<(), DomainError> {
        let Some(mailer) = self.mailer.clone() else { return Err(DomainError::NotFound("page")) };
        let email = email.trim();
        if email.is_empty() || email.len() > 254 || !email.contains('@') {
            return Err(DomainError::invalid("email", "is not a valid email address"));
        }
        self.reset_requests.check(&email.to_lowercase())?;
        let origin = self.config.public_origin().unwrap_or_default().to_owned();
        let (db, email, now) = (self.db.clone(), email.to_owned(), self.now());
        tokio::spawn(async move {
            if let Err(e) = send_reset_link(&db, mailer.as_ref(), &origin, &email, now).await {
                tracing::error!(error = %e, "a password reset email could not be sent");
            }
        });
        Ok(())
    }
}

async fn send_reset_link(
    db: &Database,
    mailer: &dyn Mailer,
    origin: &str,
    email: &str,
    now: i64,
) -> Result<(), anyhow::Error> {
    let token = random_token();
    let hash = token_hash(&token);
    let lookup = email.to_owned();
    let user = db
        .write(move |c| -> Result<Option<db::users::User>, DomainError> {
            let user = db::users::by_email(c, &lookup)?.filter(|u| u.deleted_at.is_none() && u.banned_at.is_none());
            let Some(user) = user else { return Ok(None) };
            db::password_resets::insert(c, &hash, user.id, None, now, now + RESET_LINK_TTL_SECS)?;
            let id = user.id.to_string();
            db::audit::append(c, Some(user.id), "user.reset_requested", "user", &id, &json!({}), now)?;
            Ok(Some(user))
        })
        .await?;
    let Some(user) = user else { return Ok(()) };
    let hours = RESET_LINK_TTL_SECS / 3600;
    let body = format!(
        "Hello {name},\n\nsomeone (hopefully you) asked to reset the password of your MySetlist account.\n\
         To choose a new password, open this link within {hours} hours (it works once):\n\n\
         {origin}/reset/{token}\n\n\
         If you did not ask for this, ignore this email: your password stays as it is.\n",
        name = if user.display_name.is_empty() { "there" } else { &user.display_name },
    );
    let message =
        Email { to: user.email, subject: "Reset your MySetlist password".into(), body, unsubscribe_url: None };
    mailer.send(&message).await?;
    tracing::info!(user_id = user.id, "sent a password reset link");
    Ok(())
}

/// The mailer `[smtp]` describes (None: mail is off). A bad setting was refused by validation, so
/// an error here is unexpected: it is logged and mail stays off rather than stopping the server.
pub(super) fn mailer(config: &crate::config::Config) -> Option<Arc<dyn Mailer>> {
    crate::mail::from_config(config).unwrap_or_else(|e| {
        tracing::error!(error = %e, "outgoing mail is off: the [smtp] settings cannot be used");
        None
    })
}
