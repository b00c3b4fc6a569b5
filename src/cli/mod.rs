//! Command line: `mysetlist <command>`. Every command takes `--config FILE` (or MYSETLIST_CONFIG).
//!
//! This file holds the grammar and the one dispatch: the configuration is loaded and logging is set
//! up here, once, and each command group lives in its own file and receives them.

mod admin;
mod backup;
mod check_config;
mod database;
pub mod import;
mod probe;
mod promote;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config};

#[derive(Parser, Debug)]
#[command(name = "mysetlist", version, about = "Fans vote on the setlist of upcoming shows")]
pub struct Cli {
    /// TOML configuration file (settings also come from MYSETLIST_* variables)
    #[arg(long, global = true, env = "MYSETLIST_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web application
    Serve {
        /// Load a demo dataset into an empty database
        #[arg(long)]
        demo: bool,
        /// Address to listen on, e.g. 127.0.0.1:3000 (overrides `listen`)
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Validate the configuration and print it (secrets redacted)
    CheckConfig,
    /// Check that a running server is alive (exit 0) or not (exit 1); for container health checks
    Health {
        /// Base URL of the server (default: from `listen`)
        #[arg(long)]
        url: Option<String>,
    },
    #[command(flatten)]
    Operate(OperatorCommand),
}

/// The commands an operator runs against the database or the bucket: they log to stderr under the
/// configured level (Sentry and traces are for the long-running server).
#[derive(Subcommand, Debug)]
pub enum OperatorCommand {
    /// Apply database migrations and exit
    Migrate,
    /// Administration
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Import data from files (exit status 3 when some items were skipped; the report says why)
    #[command(subcommand)]
    Import(ImportCommand),
    /// Restore the database from an S3 bucket (Litestream 0.5 or 0.3 layout)
    Restore(RestoreArgs),
    /// Backups in the bucket
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Planned switch-over: make this node (a running standby) the leader. The current leader
    /// stops writes, ships every commit and hands the lease over; no acknowledged write is lost
    Promote {
        /// Give up after this long (humantime, e.g. 30s)
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// s3://BUCKET/PREFIX (default: replication.url); endpoint and credentials come from the config
    #[arg(long)]
    pub from: Option<String>,
    /// Where to write the database (default: the configured data dir's database)
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Restore the state right after this TXID (hex, as Litestream prints it)
    #[arg(long, conflicts_with = "timestamp", value_parser = database::parse_txid)]
    pub txid: Option<crate::replicate::Txid>,
    /// Restore the newest state written before this time (RFC 3339)
    #[arg(long, value_parser = database::parse_time)]
    pub timestamp: Option<chrono::DateTime<chrono::Utc>>,
    /// Overwrite an existing database file
    #[arg(long)]
    pub force: bool,
}

#[derive(Subcommand, Debug)]
pub enum BackupCommand {
    /// Show snapshots and the TXID range a restore can reach
    List,
    /// Restore the newest backup into a temp dir, check integrity and compare with the live database
    Verify,
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// A saved setlist.fm API response: one setlist or a search result page
    Setlistfm {
        #[arg(long)]
        file: PathBuf,
    },
    /// Artists, venues, songs and shows from a CSV or JSON file (format: docs/import.md)
    Catalog {
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create a user (use this for the first admin)
    CreateUser {
        #[arg(long)]
        email: String,
        /// File holding the password (keeps it out of the shell history and process list)
        #[arg(long)]
        password_file: PathBuf,
        #[arg(long, default_value = "user", value_parser = ["user", "moderator", "admin"])]
        role: String,
        #[arg(long, default_value = "")]
        display_name: String,
    },
}

pub async fn run(cli: Cli) -> ExitCode {
    match dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let load = || config::load(cli.config.as_deref());
    match cli.command {
        // A probe of a named URL needs no configuration: a container health check must not fail
        // because the probing user cannot read the config file.
        Command::Health { url: Some(url) } => Ok(probe::live(url.trim_end_matches('/')).await),
        Command::Health { url: None } => Ok(probe::live(&probe::local_base(&load()?)).await),
        Command::CheckConfig => check_config::print(&load()?),
        Command::Serve { demo, listen } => serve::serve(load()?, demo, listen).await,
        Command::Operate(command) => {
            let config = load()?;
            crate::telemetry::init(config.settings.log.format, &config.settings.log.level);
            operate(command, config).await
        }
    }
}

async fn operate(command: OperatorCommand, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        OperatorCommand::Migrate => database::migrate(&config).await,
        OperatorCommand::Restore(args) => database::restore(&config, args).await,
        OperatorCommand::Import(ImportCommand::Setlistfm { file }) => import::setlistfm_file(config, &file).await,
        OperatorCommand::Import(ImportCommand::Catalog { file }) => import::catalog_file(config, &file).await,
        OperatorCommand::Backup(BackupCommand::List) => backup::list(&config).await,
        OperatorCommand::Backup(BackupCommand::Verify) => backup::verify(&config).await,
        OperatorCommand::Promote { timeout } => promote::promote(&config, timeout).await,
        OperatorCommand::Admin(AdminCommand::CreateUser { email, password_file, role, display_name }) => {
            admin::create_user(config, &email, &password_file, &role, &display_name).await
        }
    }
}
