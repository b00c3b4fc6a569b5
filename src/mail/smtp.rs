//! [`Mailer`] over SMTP with lettre: STARTTLS, implicit TLS or (loopback only, see config) clear
//! text, rustls with the webpki roots. One connection per message (no pool): the app sends a few
//! messages a minute at most, and an idle pooled connection would only be closed by the server.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Email, MailError, Mailer, SendFuture};
use crate::config::{SmtpSettings, SmtpTls};

/// A server that does not answer within this is given up on (the default is a minute).
const TIMEOUT: Duration = Duration::from_secs(15);

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(s: &SmtpSettings) -> Result<Self, MailError> {
        let builder = match s.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host).map_err(error)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host).map_err(error)?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
        };
        let mut builder = builder.port(s.port).timeout(Some(TIMEOUT));
        if !s.username.is_empty() {
            builder = builder.credentials(Credentials::new(s.username.clone(), s.password.expose().to_owned()));
        }
        let from = s.from.parse().map_err(|e| MailError(format!("smtp.from: {e}")))?;
        Ok(Self { transport: builder.build(), from })
    }

    fn message(&self, email: &Email) -> Result<Message, MailError> {
        let to: Mailbox = email.to.parse().map_err(|e| MailError(format!("recipient address: {e}")))?;
        let mut builder =
            Message::builder().from(self.from.clone()).to(to).subject(&email.subject).header(ContentType::TEXT_PLAIN);
        if let Some(url) = &email.unsubscribe_url {
            builder = builder
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{url}>")))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        builder.body(email.body.clone()).map_err(error)
    }
}

impl Mailer for SmtpMailer {
    fn send<'a>(&'a self, email: &'a Email) -> SendFuture<'a> {
        Box::pin(async move {
            let message = self.message(email)?;
            self.transport.send(message).await.map_err(error)?;
            Ok(())
        })
    }
}

fn error(e: impl std::fmt::Display) -> MailError {
    MailError(e.to_string())
}
