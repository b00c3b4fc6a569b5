//! Outgoing mail (`[smtp]`): the one seam between the rules and a mail server.
//!
//! The domain composes an [`Email`] and hands it to a [`Mailer`]; it never sees lettre, a socket or
//! an SMTP reply. The only implementation sends over SMTP ([`smtp::SmtpMailer`], lettre over rustls);
//! a test can put anything else behind the trait. Without `smtp.host` there is no mailer at all and
//! the features that need one (the "Forgot password?" link, the follow emails) stay hidden.
//!
//! Invariant: a mail error never reaches a visitor. The caller logs it (its text names the server's
//! reply, which may be useful to the operator and is no business of the visitor) and answers as if
//! the mail had gone: for "Forgot password?" that is what keeps account existence secret.

mod smtp;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::config::Config;

/// A plain-text message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The one-click unsubscribe address (RFC 8058): sent as `List-Unsubscribe` with
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click`. None for messages a user asked for.
    pub unsubscribe_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MailError(pub String);

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>>;

/// Something that delivers an [`Email`] (or says why not).
pub trait Mailer: Send + Sync {
    fn send<'a>(&'a self, email: &'a Email) -> SendFuture<'a>;
}

/// The mailer `[smtp]` describes; None while `smtp.host` is empty.
pub fn from_config(config: &Config) -> Result<Option<Arc<dyn Mailer>>, MailError> {
    if !config.mail_enabled() {
        return Ok(None);
    }
    Ok(Some(Arc::new(smtp::SmtpMailer::new(&config.settings.smtp)?)))
}
