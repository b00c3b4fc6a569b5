//! The settings as written in the TOML file and the environment: one struct per section, with the
//! built-in defaults. Secrets print as `<redacted>`. Validation into [`super::Config`] is in `config/mod.rs`.
//!
//! The sections live by purpose: `serving` (HTTP, HTTPS, ACME), `storage` (database, replication,
//! failover, retention), `visitors` (voting, rate limits, sessions), `observability` (logs, metrics,
//! alerts, telemetry) and `outside_services` (mail, catalog imports). All are re-exported here.

mod observability;
mod outside_services;
mod secret;
mod serving;
mod storage;
mod visitors;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use observability::*;
pub use outside_services::*;
pub use secret::Secret;
pub use serving::*;
pub use storage::*;
pub use visitors::*;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: String,
    pub role: Role,
    #[serde(deserialize_with = "string_or_list")]
    pub domain: Vec<String>,
    pub https_listen: String,
    pub http_listen: String,
    /// The address browsers use, e.g. `https://vote.example.org` behind a reverse proxy: links in
    /// alerts, and the origin JSON writes must come from (else `https://<domain>`, else the Host).
    pub public_url: String,
    pub log: LogSettings,
    pub database: DatabaseSettings,
    pub acme: AcmeSettings,
    pub http: HttpSettings,
    pub voting: VotingSettings,
    pub rate_limit: RateLimitSettings,
    pub sessions: SessionSettings,
    pub replication: ReplicationSettings,
    pub failover: FailoverSettings,
    pub metrics: MetricsSettings,
    pub alerts: AlertSettings,
    pub retention: RetentionSettings,
    pub import: ImportSettings,
    pub telemetry: TelemetrySettings,
    pub smtp: SmtpSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            listen: "127.0.0.1:8080".into(),
            role: Role::Primary,
            domain: Vec::new(),
            https_listen: "0.0.0.0:443".into(),
            http_listen: "0.0.0.0:80".into(),
            public_url: String::new(),
            log: LogSettings::default(),
            database: DatabaseSettings::default(),
            acme: AcmeSettings::default(),
            http: HttpSettings::default(),
            voting: VotingSettings::default(),
            rate_limit: RateLimitSettings::default(),
            sessions: SessionSettings::default(),
            replication: ReplicationSettings::default(),
            failover: FailoverSettings::default(),
            metrics: MetricsSettings::default(),
            alerts: AlertSettings::default(),
            retention: RetentionSettings::default(),
            import: ImportSettings::default(),
            telemetry: TelemetrySettings::default(),
            smtp: SmtpSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Standby,
}

/// Accepts `domain = "a.example"`, `domain = ["a", "b"]` or env `MYSETLIST_DOMAIN=a,b`.
fn string_or_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
        OneOrMany::Many(v) => v,
    })
}
