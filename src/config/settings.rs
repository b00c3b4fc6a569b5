//! The settings as written in the TOML file and the environment: one struct per section, with the
//! built-in defaults. Secrets print as `<redacted>`. Validation into [`super::Config`] is in `mod.rs`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Json,
    Pretty,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}
impl Default for LogSettings {
    fn default() -> Self {
        Self { format: LogFormat::Auto, level: "info".into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Normal,
    Full,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    pub synchronous: Synchronous,
    pub readers: usize,
    #[serde(with = "humantime_serde")]
    pub busy_timeout: Duration,
}
impl Default for DatabaseSettings {
    fn default() -> Self {
        Self { synchronous: Synchronous::Normal, readers: 4, busy_timeout: Duration::from_secs(5) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Challenge {
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
    #[serde(rename = "http-01")]
    Http01,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcmeSettings {
    pub email: String,
    pub directory_url: String,
    pub ca_file: String,
    pub challenge: Challenge,
}
impl Default for AcmeSettings {
    fn default() -> Self {
        Self {
            email: String::new(),
            directory_url: "https://acme-v02.api.letsencrypt.org/directory".into(),
            ca_file: String::new(),
            challenge: Challenge::TlsAlpn01,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    #[serde(with = "humantime_serde")]
    pub hsts_max_age: Duration,
    pub hsts_preload: bool,
    /// A list in TOML; comma-separated in env (MYSETLIST_HTTP__TRUSTED_PROXIES=10.0.0.0/8,192.0.2.1).
    #[serde(deserialize_with = "string_or_list")]
    pub trusted_proxies: Vec<String>,
    pub max_body_bytes: usize,
    /// A connection whose request head is not complete within this is closed (slowloris).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A connection that moves no byte either way for this long is closed. Live-ranking streams
    /// send a keep-alive every 20 s, or every third of this when it is shorter.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Open connections one address may hold (0: no cap). `trusted_proxies` are exempt.
    pub max_connections_per_address: u32,
    /// Open connections in all (0: 90 % of the open-files limit).
    pub max_connections: u32,
    /// Live-ranking streams one address may hold (0: no cap). `trusted_proxies` are exempt when
    /// they forward the client's address.
    pub max_live_streams_per_address: u32,
    /// Live-ranking streams in all (0: no cap).
    pub max_live_streams: u32,
}
impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            hsts_max_age: Duration::from_secs(365 * 86_400),
            hsts_preload: false,
            trusted_proxies: Vec::new(),
            max_body_bytes: 1 << 20,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_connections_per_address: 256,
            max_connections: 0,
            max_live_streams_per_address: 64,
            max_live_streams: 100_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VotingSettings {
    pub anonymous: bool,
    pub anonymous_votes_per_show: u32,
    pub anonymous_votes_per_day: u32,
}
impl Default for VotingSettings {
    fn default() -> Self {
        Self { anonymous: false, anonymous_votes_per_show: 10, anonymous_votes_per_day: 50 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    pub votes_per_minute: u32,
    pub signups_per_hour: u32,
    pub logins_per_minute: u32,
    pub search_per_minute: u32,
    /// Content reports per user.
    pub reports_per_hour: u32,
    /// "Forgot password?" requests, per email address and per client address alike.
    pub password_resets_per_hour: u32,
    /// Password hashes and verifications running at once (each holds 19 MiB); 0: one per core.
    pub password_workers: u32,
    /// How long a password check waits for a free worker before the request gets 503.
    #[serde(with = "humantime_serde")]
    pub password_wait: Duration,
}
impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            votes_per_minute: 120,
            signups_per_hour: 10,
            logins_per_minute: 10,
            search_per_minute: 120,
            reports_per_hour: 20,
            password_resets_per_hour: 5,
            password_workers: 0,
            password_wait: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub absolute_timeout: Duration,
}
impl Default for SessionSettings {
    fn default() -> Self {
        Self { idle_timeout: Duration::from_secs(14 * 86_400), absolute_timeout: Duration::from_secs(90 * 86_400) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AckMode {
    Local,
    Replicated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageEncoding {
    Frame,
    Block,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicationSettings {
    pub url: String,
    pub endpoint: String,
    pub region: String,
    pub force_path_style: bool,
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(with = "humantime_serde")]
    pub sync_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub snapshot_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    pub ack: AckMode,
    #[serde(with = "humantime_serde")]
    pub replicated_ack_timeout: Duration,
    pub page_encoding: PageEncoding,
    pub restore_if_missing: bool,
    #[serde(with = "humantime_serde")]
    pub verify_interval: Duration,
}
impl Default for ReplicationSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            endpoint: String::new(),
            region: "us-east-1".into(),
            force_path_style: false,
            access_key_id: String::new(),
            secret_access_key: String::new(),
            sync_interval: Duration::from_secs(1),
            snapshot_interval: Duration::from_secs(24 * 3600),
            retention: Duration::from_secs(72 * 3600),
            ack: AckMode::Local,
            replicated_ack_timeout: Duration::from_secs(5),
            page_encoding: PageEncoding::Frame,
            restore_if_missing: false,
            verify_interval: Duration::from_secs(6 * 3600),
        }
    }
}
impl std::fmt::Debug for ReplicationSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicationSettings")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &redacted(&self.access_key_id))
            .field("secret_access_key", &redacted(&self.secret_access_key))
            .field("ack", &self.ack)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailoverSettings {
    #[serde(with = "humantime_serde")]
    pub lease_ttl: Duration,
    pub node_id: String,
    /// A follower whose copy lags more than this says so on its pages.
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
}
impl Default for FailoverSettings {
    fn default() -> Self {
        Self { lease_ttl: Duration::from_secs(10), node_id: String::new(), stale_after: Duration::from_secs(5) }
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    pub allow: Vec<String>,
    pub token: String,
    pub listen: String,
}
impl Default for MetricsSettings {
    fn default() -> Self {
        Self { allow: vec!["127.0.0.1/32".into(), "::1/128".into()], token: String::new(), listen: String::new() }
    }
}
impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("allow", &self.allow)
            .field("token", &redacted(&self.token))
            .field("listen", &self.listen)
            .finish()
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    pub webhook_url: String,
    pub webhook_format: WebhookFormat,
}
impl Default for AlertSettings {
    fn default() -> Self {
        Self { webhook_url: String::new(), webhook_format: WebhookFormat::Generic }
    }
}
impl std::fmt::Debug for AlertSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSettings")
            .field("webhook_url", &redacted(&self.webhook_url))
            .field("webhook_format", &self.webhook_format)
            .finish()
    }
}

/// Optional error tracking (a Sentry-compatible DSN) and request traces (OTLP over HTTP); both off
/// unless set.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// `https://<key>@<host>/<project>`: internal errors (and panics) are sent there. A secret.
    pub sentry_dsn: String,
    /// Sentry's `environment` tag (e.g. `production`); empty leaves it out.
    pub environment: String,
    /// Base URL of an OTLP/HTTP collector (`http://collector:4318`); spans go to `<url>/v1/traces`.
    pub otlp_endpoint: String,
    pub service_name: String,
    /// Share of requests traced, 0.0 to 1.0.
    pub trace_sample_ratio: f64,
}
impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            sentry_dsn: String::new(),
            environment: String::new(),
            otlp_endpoint: String::new(),
            service_name: "mysetlist".into(),
            trace_sample_ratio: 1.0,
        }
    }
}
impl std::fmt::Debug for TelemetrySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetrySettings")
            .field("sentry_dsn", &redacted(&self.sentry_dsn))
            .field("environment", &self.environment)
            .field("otlp_endpoint", &self.otlp_endpoint)
            .field("service_name", &self.service_name)
            .field("trace_sample_ratio", &self.trace_sample_ratio)
            .finish()
    }
}

/// Outgoing mail: "Forgot password?" links and the follow emails. Off while `host` is empty.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Empty: no authentication.
    pub username: String,
    /// A secret (`password_file` / `MYSETLIST_SMTP__PASSWORD_FILE`).
    pub password: String,
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
            password: String::new(),
            from: String::new(),
            notify_interval: Duration::from_secs(10 * 60),
        }
    }
}
impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("from", &self.from)
            .field("notify_interval", &self.notify_interval)
            .finish()
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    Generic,
    Slack,
    Ntfy,
    Alertmanager,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    #[serde(with = "humantime_serde")]
    pub sessions: Duration,
    #[serde(with = "humantime_serde")]
    pub ip_data: Duration,
    #[serde(with = "humantime_serde")]
    pub audit_log: Duration,
}
impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            sessions: Duration::from_secs(90 * 86_400),
            ip_data: Duration::from_secs(30 * 86_400),
            audit_log: Duration::from_secs(365 * 86_400),
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportSettings {
    pub setlistfm_api_key: String,
    pub setlistfm_base_url: String,
    pub musicbrainz_base_url: String,
    pub user_agent: String,
}
impl Default for ImportSettings {
    fn default() -> Self {
        Self {
            setlistfm_api_key: String::new(),
            setlistfm_base_url: "https://api.setlist.fm/rest/1.0".into(),
            musicbrainz_base_url: "https://musicbrainz.org/ws/2".into(),
            user_agent: concat!("MySetlist/", env!("CARGO_PKG_VERSION"), " (+https://github.com/mysetlist/mysetlist)")
                .into(),
        }
    }
}
impl std::fmt::Debug for ImportSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportSettings")
            .field("setlistfm_api_key", &redacted(&self.setlistfm_api_key))
            .field("setlistfm_base_url", &self.setlistfm_base_url)
            .field("musicbrainz_base_url", &self.musicbrainz_base_url)
            .finish_non_exhaustive()
    }
}

fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { "<redacted>" }
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
