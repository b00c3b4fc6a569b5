//! Where the data lives and how long: the database, replication to object storage, failover and retention.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;

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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicationSettings {
    pub url: String,
    pub endpoint: String,
    pub region: String,
    pub force_path_style: bool,
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
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
            access_key_id: Secret::default(),
            secret_access_key: Secret::default(),
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
