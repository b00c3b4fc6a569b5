//! How HTTP and HTTPS are served: certificates from ACME, HSTS, proxies, timeouts and connection caps.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::string_or_list;

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
