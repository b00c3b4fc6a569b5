//! Integration tests: the real application on port 0 with a temp data dir, driven over HTTP.
//! One test binary (one link step) with a module per area.

mod helpers;
#[path = "../replicate_support/mod.rs"]
mod replicate_support;

mod accounts;
mod artist_media;
mod auth;
mod bad_input;
mod cli;
mod connections;
mod failover;
mod fake_apis;
mod file_locks;
mod group_commit;
mod import;
mod live;
mod live_wire;
mod mail;
mod moderation;
mod pages;
mod query_counts;
mod rate_limits;
mod replication;
mod roles;
mod scheduler;
mod search;
mod security;
mod server_process;
mod setlist;
mod sharing;

mod observability;
mod smoke;
mod startup_errors;
mod storage;
mod telemetry;
mod voting;
