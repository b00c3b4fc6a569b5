//! Services the appliance talks to: SMTP for outgoing mail and the catalog import sources.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;

/// Outgoing mail: "Forgot password?" links and the follow emails. Off while `host` is empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Empty: no authentication.
    pub username: String,
    /// A secret (`password_file` / `MYSETLIST_SMTP__PASSWORD_FILE`).
    pub password: Secret,
    /// The sender, `MySetlist <noreply@example.org>` or a bare address.
    pub from: String,
    /// How often the follow emails (new show, voting closes, setlist in) are looked for.
    #[serde(with = "humantime_serde")]
    pub notify_interval: Duration,
}
impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: String::new(),
            password: Secret::default(),
            from: String::new(),
            notify_interval: Duration::from_secs(10 * 60),
        }
    }
}

/// How the SMTP connection is protected: STARTTLS (port 587), TLS from the first byte (465), or
/// not at all (only to a server on loopback: validation refuses it for any other host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportSettings {
    pub setlistfm_api_key: Secret,
    pub setlistfm_base_url: String,
    pub musicbrainz_base_url: String,
    pub user_agent: String,
}
impl Default for ImportSettings {
    fn default() -> Self {
        Self {
            setlistfm_api_key: Secret::default(),
            setlistfm_base_url: "https://api.setlist.fm/rest/1.0".into(),
            musicbrainz_base_url: "https://musicbrainz.org/ws/2".into(),
            user_agent: concat!("MySetlist/", env!("CARGO_PKG_VERSION"), " (+https://github.com/mysetlist/mysetlist)")
                .into(),
        }
    }
}
