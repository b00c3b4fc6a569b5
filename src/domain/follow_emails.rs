//! Follow emails: with `[smtp]` configured, a user may opt in to an email when an artist they follow
//! gets a new show, when voting on such a show closes in about a day, and when its setlist is in.
//!
//! Invariant: nothing is sent twice, across runs and restarts. Each (user, show, kind) is recorded
//! in `emails_sent` in its own write *before* the message goes out; a failed send removes the record
//! so the next run tries again. A crash between the record and the send loses that one message
//! rather than repeating it: for a notice, once at most is the right side to err on.
//!
//! Every message carries its own one-click unsubscribe token (RFC 8058: the `List-Unsubscribe` and
//! `List-Unsubscribe-Post` headers, and the link in the text). One token per message rather than one
//! per user: only the token's SHA-256 is stored, so a token cannot be read back to put into a second
//! message. Any of them unsubscribes the user from every kind.

use super::tokens::{random_token, token_hash};
use super::{CurrentUser, Domain, DomainError};
use crate::db::{self, email::DueEmail};
use crate::mail::Email;

pub use crate::db::email::EmailPrefs;

/// "Voting closes in about a day": shows starting within this are announced.
pub const VOTING_CLOSES_AHEAD_SECS: i64 = 24 * 3600;
/// Messages one run sends at most; the rest wait for the next run.
const PER_RUN: i64 = 500;

/// The kinds of follow email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowEmail {
    NewShow,
    VotingCloses,
    SetlistIn,
}

impl FollowEmail {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "new_show" => Some(Self::NewShow),
            "voting_closes" => Some(Self::VotingCloses),
            "setlist_in" => Some(Self::SetlistIn),
            _ => None,
        }
    }
}

impl Domain {
    pub async fn email_prefs(&self, user: &CurrentUser) -> Result<EmailPrefs, DomainError> {
        let id = user.id;
        Ok(self.db.read(move |c| db::email::prefs(c, id)).await?)
    }

    pub async fn set_email_prefs(&self, user: &CurrentUser, prefs: EmailPrefs) -> Result<(), DomainError> {
        let (id, now) = (user.id, self.now());
        Ok(self.db.write(move |c| db::email::set_prefs(c, id, prefs, now)).await?)
    }

    /// Whether an unsubscribe token is one we sent.
    pub async fn unsubscribe_token_valid(&self, token: &str) -> Result<bool, DomainError> {
        if token.is_empty() || token.len() > 100 {
            return Ok(false);
        }
        let hash = token_hash(token);
        Ok(self.db.read(move |c| db::email::user_of_unsubscribe(c, &hash)).await?.is_some())
    }

    /// One-click unsubscribe: every follow email off for the token's user. NotFound for a token we
    /// never sent.
    pub async fn unsubscribe(&self, token: &str) -> Result<(), DomainError> {
        if token.is_empty() || token.len() > 100 {
            return Err(DomainError::NotFound("unsubscribe link"));
        }
        let (hash, now) = (token_hash(token), self.now());
        self.db
            .write(move |c| -> Result<(), DomainError> {
                let id = db::email::user_of_unsubscribe(c, &hash)?.ok_or(DomainError::NotFound("unsubscribe link"))?;
                db::email::set_prefs(c, id, EmailPrefs::default(), now)?;
                Ok(())
            })
            .await
    }

    /// The scheduler's `follow_emails` job: sends what is due (see the module comment). Returns how
    /// many were sent; a mail server error ends the run (the next run tries again).
    pub async fn send_follow_emails(&self) -> Result<usize, DomainError> {
        let Some(mailer) = self.mailer.clone() else { return Ok(0) };
        let origin = self.config.public_origin().unwrap_or_default().to_owned();
        let now = self.now();
        let due = self.db.read(move |c| db::email::due(c, now, VOTING_CLOSES_AHEAD_SECS, PER_RUN)).await?;
        let mut sent = 0;
        for d in due {
            let Some(kind) = FollowEmail::parse(&d.kind) else { continue };
            let token = random_token();
            let (hash, user_id, show_id, kind_text) = (token_hash(&token), d.user_id, d.show_id, d.kind.clone());
            let claimed = self.db.write(move |c| db::email::claim(c, user_id, show_id, &kind_text, now, &hash)).await?;
            if !claimed {
                continue;
            }
            let email = compose(&d, kind, &origin, &token);
            if let Err(e) = mailer.send(&email).await {
                let kind_text = d.kind.clone();
                self.db.write(move |c| db::email::unclaim(c, user_id, show_id, &kind_text)).await?;
                return Err(DomainError::Internal(anyhow::anyhow!("sending a follow email failed: {e}")));
            }
            sent += 1;
        }
        Ok(sent)
    }
}

fn when(d: &DueEmail) -> String {
    let tz: chrono_tz::Tz = d.timezone.parse().unwrap_or(chrono_tz::UTC);
    match chrono::DateTime::from_timestamp(d.starts_at, 0) {
        Some(t) => t.with_timezone(&tz).format("%a %-d %b %Y, %H:%M (%Z)").to_string(),
        None => String::new(),
    }
}

fn compose(d: &DueEmail, kind: FollowEmail, origin: &str, token: &str) -> Email {
    let show = format!("{} at {}, {}", d.artist, d.venue, d.city);
    let url = format!("{origin}/shows/{}", d.slug);
    let (subject, lead) = match kind {
        FollowEmail::NewShow => {
            (format!("New show: {show}"), format!("{} has a new show: {show}, {}.", d.artist, when(d)))
        }
        FollowEmail::VotingCloses => (
            format!("Voting closes in about a day: {show}"),
            format!("Voting on the setlist of {show} closes when the show starts, {}.", when(d)),
        ),
        FollowEmail::SetlistIn => (
            format!("The setlist is in: {show}"),
            format!("The setlist of {show} is in: see how the fans' prediction did."),
        ),
    };
    let unsubscribe_url = format!("{origin}/unsubscribe/{token}");
    let name = if d.display_name.is_empty() { "there" } else { &d.display_name };
    let body = format!(
        "Hello {name},\n\n{lead}\n\n{url}\n\n-- \nYou get this because you follow {artist} and asked for\n\
         these emails on your account page ({origin}/account).\n\
         Unsubscribe from all of them with one click:\n{unsubscribe_url}\n",
        artist = d.artist,
    );
    Email { to: d.email.clone(), subject, body, unsubscribe_url: Some(unsubscribe_url) }
}
