//! Integration tests: the real application on port 0 with a temp data dir, driven over HTTP.
//! One test binary (one link step) with a module per area.

mod helpers;
#[path = "../replicate_support/mod.rs"]
mod replicate_support;

mod failover;
mod replication;
mod smoke;
