//! Configuration: built-in defaults < TOML file < `MYSETLIST_*` environment (`__` nests).
//!
//! Raw settings are deserialized with `deny_unknown_fields` so a typo is an error that names the key,
//! then validated into [`Config`]. Secrets may come from files: env `<VAR>_FILE` or TOML `<key>_file`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, Profile, Provider};
use ipnet::IpNet;

/// `MYSETLIST_*` variables that are not settings: the CLI's own (`CONFIG`, `LOG`) and the test
/// harness's (`BIN`, anything under `MYSETLIST_TEST_`). Every other `MYSETLIST_*` must be a known key.
const NON_SETTING_ENV: &[&str] = &["CONFIG", "LOG", "BIN"];
const NON_SETTING_ENV_PREFIX: &str = "TEST_";

/// Keys (dotted paths) that hold secrets: they may be given as `<key>_file` and are never printed.
pub const SECRET_KEYS: &[&str] = &[
    "replication.access_key_id",
    "replication.secret_access_key",
    "metrics.token",
    "import.setlistfm_api_key",
    "alerts.webhook_url",
    "telemetry.sentry_dsn",
    "smtp.password",
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

mod settings;
#[cfg(test)]
mod tests;

pub use settings::*;

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
    /// The origin browsers use (`public_url`, else `https://<domain>`): absolute links in link
    /// previews, calendars and emails. None on a plain local setup.
    pub fn public_origin(&self) -> Option<&str> {
        self.allowed_origins.first().map(String::as_str)
    }
    /// Outgoing mail ("Forgot password?", follow emails) is configured.
    pub fn mail_enabled(&self) -> bool {
        !self.settings.smtp.host.is_empty()
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
        let mut profiles = Toml::string(text)
            .data()
            .map_err(|e| ConfigError::Invalid(format!("config file {name} is not valid TOML: {e}")))?;
        let mut table = profiles.remove(&Profile::Default).unwrap_or_default();
        resolve_secret_files_in_toml(&mut table)?;
        figment = figment.merge(Serialized::defaults(table));
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

/// Replaces each `<key>_file` of a secret in the file's table by `<key>` and the file's contents.
fn resolve_secret_files_in_toml(table: &mut Dict) -> Result<(), ConfigError> {
    for key in SECRET_KEYS {
        let (section, field) = key.split_once('.').expect("secret keys are section.field");
        let Some(Value::Dict(_, sec)) = table.get_mut(section) else { continue };
        let file_key = format!("{field}_file");
        if let Some(path) = sec.remove(&file_key) {
            let path = path.as_str().ok_or_else(|| key_error(&format!("{section}.{file_key}"), "must be a path"))?;
            let secret = std::fs::read_to_string(path)
                .map_err(|e| key_error(&format!("{section}.{file_key}"), format!("cannot read {path}: {e}")))?;
            sec.insert(field.to_owned(), secret.trim_end_matches(['\n', '\r']).into());
        }
    }
    Ok(())
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
    if settings.http.header_read_timeout < Duration::from_millis(100) {
        return Err(key_error("http.header_read_timeout", "must be at least 100ms"));
    }
    if settings.http.idle_timeout < Duration::from_secs(1) {
        return Err(key_error("http.idle_timeout", "must be at least 1s"));
    }
    if settings.rate_limit.votes_per_minute == 0 {
        return Err(key_error("rate_limit.votes_per_minute", "must be at least 1"));
    }
    if !settings.alerts.webhook_url.is_empty() && url::Url::parse(settings.alerts.webhook_url.expose()).is_err() {
        return Err(key_error("alerts.webhook_url", "is not a URL"));
    }
    let t = &settings.telemetry;
    if !t.sentry_dsn.is_empty() {
        // Never echo the DSN: it carries the project key.
        let dsn: Result<sentry::types::Dsn, _> = t.sentry_dsn.expose().parse();
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
    validate_smtp(&settings.smtp)?;
    tracing_subscriber::EnvFilter::try_new(&settings.log.level)
        .map_err(|e| key_error("log.level", format!("not a valid filter: {e}")))?;
    let allowed_origins = allowed_origins(&settings, https_listen)?;
    if !settings.smtp.host.is_empty() && allowed_origins.is_empty() {
        return Err(key_error("smtp.host", "needs public_url (or domain): the links in emails are absolute"));
    }
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

fn validate_smtp(s: &SmtpSettings) -> Result<(), ConfigError> {
    if s.host.is_empty() {
        return Ok(());
    }
    if s.host.contains(['/', ' ', ':']) && s.host.parse::<std::net::Ipv6Addr>().is_err() {
        return Err(key_error("smtp.host", format!("`{}` is not a host name or address", s.host)));
    }
    if s.port == 0 {
        return Err(key_error("smtp.port", "must not be 0"));
    }
    if s.tls == SmtpTls::None && !is_loopback_host(&s.host) {
        return Err(key_error(
            "smtp.tls",
            "`none` sends passwords and reset links in clear text: only allowed for a server on loopback \
             (localhost, 127.0.0.0/8, ::1); use `starttls` or `tls`",
        ));
    }
    if s.from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(key_error("smtp.from", "must be an address like `MySetlist <noreply@example.org>`"));
    }
    if s.password.is_empty() != s.username.is_empty() {
        return Err(key_error("smtp.password", "username and password go together (set both or neither)"));
    }
    if s.notify_interval < Duration::from_secs(1) {
        return Err(key_error("smtp.notify_interval", "must be at least 1s"));
    }
    Ok(())
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
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
