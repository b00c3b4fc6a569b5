//! Replication settings -> [`ReplicatorOptions`]. Starting, the durability gate for
//! `ack = "replicated"`, restore-if-missing and readiness belong to the failover machinery
//! (`crate::failover`), which decides when this node replicates at all.

use crate::config::{self, Config};
use crate::replicate::{AckMode, PageEncoding, ReplicatorOptions};

pub fn options(c: &Config) -> ReplicatorOptions {
    let r = &c.settings.replication;
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let mut o = ReplicatorOptions::new(r.url.clone());
    o.endpoint = non_empty(&r.endpoint);
    o.region = r.region.clone();
    o.force_path_style = r.force_path_style;
    o.access_key_id = non_empty(&r.access_key_id);
    o.secret_access_key = non_empty(&r.secret_access_key);
    o.sync_interval = r.sync_interval;
    o.snapshot_interval = r.snapshot_interval;
    o.retention = r.retention;
    o.ack = match r.ack {
        config::AckMode::Local => AckMode::Local,
        config::AckMode::Replicated => AckMode::Replicated,
    };
    o.page_encoding = match r.page_encoding {
        config::PageEncoding::Frame => PageEncoding::Frame,
        config::PageEncoding::Block => PageEncoding::Block,
    };
    o
}
