//! Configuration: built-in defaults < TOML file < `MYSETLIST_*` environment (`__` nests).
//!
//! Raw settings are deserialized with `deny_unknown_fields` so a typo is an error that names the key,
//! then validated into [`Config`]. Secrets may come from files: env `<VAR>_FILE` or TOML `<key>_file`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// `MYSETLIST_*` variables that are not settings: the CLI's own (`CONFIG`, `LOG`) and the test
/// harness's (`BIN`, anything under `MYSETLIST_TEST_`). Every other `MYSETLIST_*` must be a known key.
const NON_SETTING_ENV: &[&str] = &["CONFIG", "LOG", "BIN"];
const NON_SETTING_ENV_PREFIX: &str = "TEST_";

/// Keys (dotted paths) that hold secrets: they may be given as `<key>_file` and are never printed.
const SECRET_KEYS: &[&str] = &[
    "replication.access_key_id",
    "replication.secret_access_key",
    "metrics.token",
    "import.setlistfm_api_key",
    "alerts.webhook_url",
    "telemetry.sentry_dsn",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration key `{key}`: {message}")]
    Key { key: String, message: String },
}

fn key_error(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Key { key: key.to_owned(), message: message.into() }
}

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
}
impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            hsts_max_age: Duration::from_secs(365 * 86_400),
            hsts_preload: false,
            trusted_proxies: Vec::new(),
            max_body_bytes: 1 << 20,
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
}
impl Default for RateLimitSettings {
    fn default() -> Self {
        Self { votes_per_minute: 120, signups_per_hour: 10, logins_per_minute: 10, search_per_minute: 120 }
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
}
impl Default for FailoverSettings {
    fn default() -> Self {
        Self { lease_ttl: Duration::from_secs(10), node_id: String::new() }
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

/// Validated configuration used by the program.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub listen: SocketAddr,
    pub https_listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub metrics_allow: Vec<IpNet>,
    pub trusted_proxies: Vec<IpNet>,
    pub metrics_listen: Option<SocketAddr>,
    /// Origins (`scheme://host[:port]`) that JSON writes may come from; empty: the request's own Host.
    pub allowed_origins: Vec<String>,
}

impl Config {
    pub fn database_path(&self) -> PathBuf {
        self.settings.data_dir.join("mysetlist.db")
    }
    pub fn https_enabled(&self) -> bool {
        !self.settings.domain.is_empty()
    }
    pub fn replication_enabled(&self) -> bool {
        !self.settings.replication.url.is_empty()
    }
}

/// Loads settings from defaults, an optional TOML file and the process environment.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_from(file, &env)
}

/// Same as [`load`] with an explicit environment (tests use this; no global state).
pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> Result<Config, ConfigError> {
    match file {
        Some(path) => {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!("config file {} does not exist", path.display())));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::Invalid(format!("cannot read config file {}: {e}", path.display())))?;
            load_from_toml(Some((&text, &path.display().to_string())), env)
        }
        None => load_from_toml(None, env),
    }
}

/// Same as [`load_from`] with the TOML text already read (`(text, name for errors)`).
pub fn load_from_toml(toml: Option<(&str, &str)>, env: &[(String, String)]) -> Result<Config, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(Settings::default()));
    if let Some((text, name)) = toml {
        let table: toml::Table =
            text.parse().map_err(|e| ConfigError::Invalid(format!("config file {name} is not valid TOML: {e}")))?;
        let table = resolve_secret_files_in_toml(table)?;
        let text = toml::to_string(&table)
            .map_err(|e| ConfigError::Invalid(format!("config file {name} cannot be read back: {e}")))?;
        figment = figment.merge(Toml::string(&text));
    }
    let env_values = resolve_env(env)?;
    figment = figment.merge(env_provider(env_values));
    let settings: Settings = figment.extract().map_err(figment_error)?;
    validate(settings)
}

/// Collects `MYSETLIST_*` variables, reading `<VAR>_FILE` ones from disk.
fn resolve_env(env: &[(String, String)]) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("MYSETLIST_") else { continue };
        if NON_SETTING_ENV.contains(&rest) || rest.starts_with(NON_SETTING_ENV_PREFIX) {
            continue;
        }
        if let Some(target) = rest.strip_suffix("_FILE") {
            let key = target.to_ascii_lowercase().replace("__", ".");
            if !SECRET_KEYS.contains(&key.as_str()) {
                // Not a secret: an ordinary setting whose name ends in `_file` (`acme.ca_file`);
                // an unknown one is named by the unknown-key check like any other.
                out.push((rest.to_owned(), value.clone()));
                continue;
            }
            let secret = std::fs::read_to_string(value)
                .map_err(|e| key_error(&key, format!("cannot read {name}={value}: {e}")))?;
            out.push((target.to_owned(), secret.trim_end_matches(['\n', '\r']).to_owned()));
        } else {
            out.push((rest.to_owned(), value.clone()));
        }
    }
    Ok(out)
}

fn env_provider(values: Vec<(String, String)>) -> Figment {
    // Figment's Env provider reads the process environment; serialize our resolved map instead so
    // `_FILE` secrets and test environments work the same way. Values are parsed like figment's Env.
    let mut figment = Figment::new();
    for (name, value) in values {
        let key = name.to_ascii_lowercase().replace("__", ".");
        let parsed: figment::value::Value = value.parse().expect("figment values parse infallibly");
        figment = figment.merge(Serialized::global(&key, parsed));
    }
    let _ = Env::raw; // the shape of the env mapping follows figment's Env::prefixed(..).split("__")
    figment
}

fn resolve_secret_files_in_toml(mut table: toml::Table) -> Result<toml::Table, ConfigError> {
    for key in SECRET_KEYS {
        let (section, field) = key.split_once('.').expect("secret keys are section.field");
        let Some(toml::Value::Table(sec)) = table.get_mut(section) else { continue };
        let file_key = format!("{field}_file");
        if let Some(path) = sec.remove(&file_key) {
            let path = path.as_str().ok_or_else(|| key_error(&format!("{section}.{file_key}"), "must be a path"))?;
            let secret = std::fs::read_to_string(path)
                .map_err(|e| key_error(&format!("{section}.{file_key}"), format!("cannot read {path}: {e}")))?;
            sec.insert(field.to_owned(), toml::Value::String(secret.trim_end_matches(['\n', '\r']).to_owned()));
        }
    }
    Ok(table)
}

fn figment_error(e: figment::Error) -> ConfigError {
    let key = e.path.join(".");
    let message = match &e.kind {
        figment::error::Kind::UnknownField(field, _) => {
            let full =
                if key.is_empty() || e.path.last() == Some(field) { key.clone() } else { format!("{key}.{field}") };
            let full = if full.is_empty() { field.clone() } else { full };
            return key_error(&full, "unknown key");
        }
        other => other.to_string(),
    };
    if key.is_empty() { ConfigError::Invalid(message) } else { key_error(&key, message) }
}

fn parse_addr(key: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| key_error(key, format!("`{value}` is not a socket address like 127.0.0.1:8080")))
}

fn parse_nets(key: &str, values: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    values
        .iter()
        .map(|v| {
            v.parse::<IpNet>()
                .or_else(|_| v.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| key_error(key, format!("`{v}` is not a network like 10.0.0.0/8")))
        })
        .collect()
}

fn validate(settings: Settings) -> Result<Config, ConfigError> {
    let listen = parse_addr("listen", &settings.listen)?;
    let https_listen = parse_addr("https_listen", &settings.https_listen)?;
    let http_listen = parse_addr("http_listen", &settings.http_listen)?;
    let metrics_listen = if settings.metrics.listen.is_empty() {
        None
    } else {
        Some(parse_addr("metrics.listen", &settings.metrics.listen)?)
    };
    let metrics_allow = parse_nets("metrics.allow", &settings.metrics.allow)?;
    let trusted_proxies = parse_nets("http.trusted_proxies", &settings.http.trusted_proxies)?;
    if settings.data_dir.as_os_str().is_empty() {
        return Err(key_error("data_dir", "must not be empty"));
    }
    for d in &settings.domain {
        if d.contains('/') || d.contains(':') || d.contains(' ') || d.starts_with('.') {
            return Err(key_error("domain", format!("`{d}` is not a DNS name")));
        }
    }
    if !settings.domain.is_empty() && settings.acme.email.is_empty() {
        return Err(key_error("acme.email", "is required when a domain is set (the CA's contact for expiry notices)"));
    }
    if settings.database.readers == 0 || settings.database.readers > 64 {
        return Err(key_error("database.readers", "must be between 1 and 64"));
    }
    let r = &settings.replication;
    if !r.url.is_empty() {
        let rest = r
            .url
            .strip_prefix("s3://")
            .ok_or_else(|| key_error("replication.url", "must look like s3://BUCKET/PREFIX"))?;
        let bucket = rest.split('/').next().unwrap_or_default();
        if bucket.len() < 3 {
            return Err(key_error("replication.url", "bucket name must have at least 3 characters"));
        }
        if !r.endpoint.is_empty() && url::Url::parse(&r.endpoint).is_err() {
            return Err(key_error("replication.endpoint", format!("`{}` is not a URL", r.endpoint)));
        }
        if r.sync_interval < Duration::from_millis(10) {
            return Err(key_error("replication.sync_interval", "must be at least 10ms"));
        }
    } else if r.restore_if_missing {
        return Err(key_error("replication.restore_if_missing", "needs replication.url"));
    }
    if settings.role == Role::Standby && r.url.is_empty() {
        return Err(key_error("role", "a standby follows the bucket: set replication.url"));
    }
    if settings.failover.lease_ttl < Duration::from_secs(1) {
        return Err(key_error("failover.lease_ttl", "must be at least 1s (the leader renews every third of it)"));
    }
    if settings.rate_limit.votes_per_minute == 0 {
        return Err(key_error("rate_limit.votes_per_minute", "must be at least 1"));
    }
    if !settings.alerts.webhook_url.is_empty() && url::Url::parse(&settings.alerts.webhook_url).is_err() {
        return Err(key_error("alerts.webhook_url", "is not a URL"));
    }
    let t = &settings.telemetry;
    if !t.sentry_dsn.is_empty() {
        // Never echo the DSN: it carries the project key.
        let dsn: Result<sentry::types::Dsn, _> = t.sentry_dsn.parse();
        if dsn.is_err() {
            return Err(key_error("telemetry.sentry_dsn", "is not a DSN (https://<key>@<host>/<project>)"));
        }
    }
    if !t.otlp_endpoint.is_empty() {
        match url::Url::parse(&t.otlp_endpoint) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => return Err(key_error("telemetry.otlp_endpoint", "is not an http(s) URL")),
        }
    }
    if !(0.0..=1.0).contains(&t.trace_sample_ratio) {
        return Err(key_error("telemetry.trace_sample_ratio", "must be between 0.0 and 1.0"));
    }
    if t.service_name.trim().is_empty() {
        return Err(key_error("telemetry.service_name", "must not be empty"));
    }
    tracing_subscriber::EnvFilter::try_new(&settings.log.level)
        .map_err(|e| key_error("log.level", format!("not a valid filter: {e}")))?;
    let allowed_origins = allowed_origins(&settings, https_listen)?;
    Ok(Config {
        settings,
        listen,
        https_listen,
        http_listen,
        metrics_allow,
        trusted_proxies,
        metrics_listen,
        allowed_origins,
    })
}

/// `public_url` when set, else every domain over HTTPS (with the port when it is not 443).
fn allowed_origins(settings: &Settings, https_listen: SocketAddr) -> Result<Vec<String>, ConfigError> {
    let public = settings.public_url.trim();
    if !public.is_empty() {
        let key = "public_url";
        let url = url::Url::parse(public).map_err(|e| key_error(key, format!("`{public}` is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(key_error(key, format!("`{public}` must be an http:// or https:// URL with a host")));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(key_error(key, format!("`{public}` must not have a path, query or fragment")));
        }
        return Ok(vec![url.origin().ascii_serialization()]);
    }
    let port = match https_listen.port() {
        443 => String::new(),
        p => format!(":{p}"),
    };
    Ok(settings.domain.iter().map(|d| format!("https://{}{port}", d.to_ascii_lowercase())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_need_nothing() {
        let c = load_from(None, &[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_path(), PathBuf::from("./data/mysetlist.db"));
        assert!(!c.https_enabled());
        assert!(!c.replication_enabled());
    }

    #[test]
    fn env_overrides_and_nests() {
        let c = load_from(
            None,
            &env(&[
                ("MYSETLIST_LISTEN", "0.0.0.0:9000"),
                ("MYSETLIST_REPLICATION__URL", "s3://bucket/db"),
                ("MYSETLIST_REPLICATION__SYNC_INTERVAL", "250ms"),
                ("MYSETLIST_DOMAIN", "a.example, b.example"),
                ("MYSETLIST_ACME__EMAIL", "ops@example.org"),
                ("MYSETLIST_VOTING__ANONYMOUS", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.settings.replication.sync_interval, Duration::from_millis(250));
        assert_eq!(c.settings.domain, vec!["a.example", "b.example"]);
        assert!(c.settings.voting.anonymous);
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = load_from(None, &env(&[("MYSETLIST_REPLICATION__URLL", "x")])).unwrap_err();
        assert!(err.to_string().contains("replication.urll"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "[voting]\nanonymus = true\n").unwrap();
        let err = load_from(Some(&f), &[]).unwrap_err();
        assert!(err.to_string().contains("voting.anonymus"), "{err}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = load_from(None, &env(&[("MYSETLIST_LISTEN", "nope")])).unwrap_err();
        assert!(err.to_string().contains("`listen`"), "{err}");
        let err = load_from(None, &env(&[("MYSETLIST_REPLICATION__URL", "http://x")])).unwrap_err();
        assert!(err.to_string().contains("replication.url"), "{err}");
        let err = load_from(None, &env(&[("MYSETLIST_REPLICATION__ACK", "maybe")])).unwrap_err();
        assert!(err.to_string().contains("replication.ack"), "{err}");
        let err = load_from(None, &env(&[("MYSETLIST_DOMAIN", "vote.example")])).unwrap_err();
        assert!(err.to_string().contains("acme.email"), "{err}");
        let err = load_from(None, &env(&[("MYSETLIST_FAILOVER__LEASE_TTL", "500ms")])).unwrap_err();
        assert!(err.to_string().contains("failover.lease_ttl"), "{err}");
    }

    #[test]
    fn secrets_from_files_and_never_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("s");
        std::fs::write(&secret, "hunter2-secret\n").unwrap();
        let c = load_from(
            None,
            &env(&[
                ("MYSETLIST_REPLICATION__URL", "s3://bucket/db"),
                ("MYSETLIST_REPLICATION__SECRET_ACCESS_KEY_FILE", secret.to_str().unwrap()),
            ]),
        )
        .unwrap();
        assert_eq!(c.settings.replication.secret_access_key, "hunter2-secret");
        assert!(!format!("{c:?}").contains("hunter2"));

        let f = dir.path().join("c.toml");
        std::fs::write(&f, format!("[metrics]\ntoken_file = \"{}\"\n", secret.display())).unwrap();
        let c = load_from(Some(&f), &[]).unwrap();
        assert_eq!(c.settings.metrics.token, "hunter2-secret");

        let err = load_from(None, &env(&[("MYSETLIST_LISTEN_FILE", "/x")])).unwrap_err();
        assert!(err.to_string().contains("listen_file"), "{err}");
        let c = load_from(None, &env(&[("MYSETLIST_ACME__CA_FILE", "/etc/ca.pem")])).unwrap();
        assert_eq!(c.settings.acme.ca_file, "/etc/ca.pem");
    }

    #[test]
    fn toml_file_is_merged_below_env() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "listen = \"127.0.0.1:7000\"\ndata_dir = \"/var/lib/x\"\n").unwrap();
        let c = load_from(Some(&f), &env(&[("MYSETLIST_LISTEN", "127.0.0.1:7001")])).unwrap();
        assert_eq!(c.listen.port(), 7001);
        assert_eq!(c.settings.data_dir, PathBuf::from("/var/lib/x"));
    }

    #[test]
    fn allowed_origins_follow_public_url_then_domains() {
        let c = load_from(None, &[]).unwrap();
        assert!(c.allowed_origins.is_empty(), "plain HTTP: the request's own Host");
        let c = load_from(None, &env(&[("MYSETLIST_DOMAIN", "Vote.example.org"), ("MYSETLIST_ACME__EMAIL", "a@b.c")]))
            .unwrap();
        assert_eq!(c.allowed_origins, ["https://vote.example.org"]);
        let c = load_from(None, &env(&[("MYSETLIST_PUBLIC_URL", "https://Vote.example.org:8443/")])).unwrap();
        assert_eq!(c.allowed_origins, ["https://vote.example.org:8443"]);
        for bad in ["vote.example.org", "ftp://x.example", "https://x.example/app"] {
            let err = load_from(None, &env(&[("MYSETLIST_PUBLIC_URL", bad)])).unwrap_err();
            assert!(err.to_string().contains("public_url"), "{bad}: {err}");
        }
    }
}
