//! MySetlist: fans vote on the songs they want an artist to play at an upcoming show.
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod failover;
pub(crate) mod health;
pub mod http;
pub mod import;
pub(crate) mod mail;
pub mod observability;
pub mod ops;
pub mod replicate;
pub(crate) mod telemetry;
pub mod tls;
