//! The failover machinery's settings, taken from the configuration, and the node's name.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{self, Config};
use crate::replicate::ReplicatorOptions;

/// Settings of the failover machinery, from `role`, `[failover]` and `[replication]`.
#[derive(Debug, Clone)]
pub struct FailoverConfig {
    pub node_id: String,
    pub role: config::Role,
    pub lease_ttl: Duration,
    pub replication: ReplicatorOptions,
    pub db_path: PathBuf,
    /// `Some(timeout)` with `ack = "replicated"`.
    pub replicated_ack_timeout: Option<Duration>,
    pub restore_if_missing: bool,
}

impl FailoverConfig {
    pub fn from_config(c: &Config, replication: ReplicatorOptions) -> FailoverConfig {
        let r = &c.settings.replication;
        FailoverConfig {
            node_id: node_id(&c.settings.failover.node_id),
            role: c.settings.role,
            lease_ttl: c.settings.failover.lease_ttl,
            replication,
            db_path: c.database_path(),
            replicated_ack_timeout: (r.ack == config::AckMode::Replicated).then_some(r.replicated_ack_timeout),
            restore_if_missing: r.restore_if_missing,
        }
    }

    /// How often the leader renews.
    pub fn renew_every(&self) -> Duration {
        self.lease_ttl / 3
    }

    /// The leader stops this long before anyone may take over.
    pub fn margin(&self) -> Duration {
        self.lease_ttl / 5
    }

    /// How often a follower reads the lease.
    pub fn lease_poll(&self) -> Duration {
        (self.lease_ttl / 10).clamp(Duration::from_millis(200), Duration::from_secs(1))
    }
}

/// `failover.node_id`, or the host name when it is empty.
pub fn node_id(configured: &str) -> String {
    if !configured.trim().is_empty() {
        return configured.trim().to_string();
    }
    // uname(2), not /proc/sys/kernel/hostname: under systemd's ProcSubset=pid that file does not
    // exist, and every node of a NixOS pair would call itself "mysetlist".
    Some(host_name())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "mysetlist".to_string())
}

/// The kernel's host name (the UTS namespace's nodename), as `hostname` prints it.
pub fn host_name() -> String {
    rustix::system::uname().nodename().to_string_lossy().trim().to_string()
}
