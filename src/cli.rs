//! Command line: `mysetlist <command>`. Every command takes `--config FILE` (or MYSETLIST_CONFIG).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{self, Config};
use crate::db::Database;
use crate::domain::{Domain, Role};
use crate::startup::{Application, db_options};

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
    },
    /// Apply database migrations and exit
    Migrate,
    /// Validate the configuration and print it (secrets redacted)
    CheckConfig,
    /// Check that a running server is alive (exit 0) or not (exit 1); for container health checks
    Health {
        /// Base URL of the server (default: from `listen`)
        #[arg(long)]
        url: Option<String>,
    },
    /// Administration
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Import data from files (exit status 3 when some items were skipped; the report says why)
    #[command(subcommand)]
    Import(ImportCommand),
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

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    Ok(config::load(cli.config.as_deref())?)
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
    match &cli.command {
        Command::CheckConfig => {
            let c = load_config(&cli)?;
            println!("configuration is valid");
            println!("{:#?}", c.settings);
            Ok(ExitCode::SUCCESS)
        }
        Command::Health { url } => {
            let base = match url {
                Some(u) => u.trim_end_matches('/').to_owned(),
                None => {
                    let c = load_config(&cli)?;
                    let mut addr = c.listen;
                    if addr.ip().is_unspecified() {
                        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                    }
                    format!("http://{addr}")
                }
            };
            Ok(health(&base).await)
        }
        Command::Migrate => {
            let c = load_config(&cli)?;
            crate::telemetry::init(c.settings.log.format, &c.settings.log.level);
            let db = Database::open(&db_options(&c))?;
            db.close().await;
            println!("database {} is up to date", c.database_path().display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { demo } => {
            let c = load_config(&cli)?;
            crate::telemetry::init(c.settings.log.format, &c.settings.log.level);
            let app = Application::build(c, *demo).await?;
            app.run_until_stopped().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(command) => {
            let c = load_config(&cli)?;
            crate::telemetry::init(c.settings.log.format, &c.settings.log.level);
            match command {
                ImportCommand::Setlistfm { file } => crate::import::cli::setlistfm_file(c, file).await,
                ImportCommand::Catalog { file } => crate::import::cli::catalog_file(c, file).await,
            }
        }
        Command::Admin(AdminCommand::CreateUser { email, password_file, role, display_name }) => {
            let c = load_config(&cli)?;
            let password = std::fs::read_to_string(password_file)
                .with_context(|| format!("cannot read the password file {}", password_file.display()))?;
            let password = password.trim_end_matches(['\n', '\r']);
            let role = Role::parse(role).expect("clap restricts the values");
            let db = Database::open(&db_options(&c))?;
            let domain = Domain::new(db.clone(), std::sync::Arc::new(c)).await?;
            let id = domain.sign_up(email, password, display_name, role).await?;
            domain
                .db
                .write(move |conn| {
                    crate::db::audit::append(
                        conn,
                        None,
                        "user.create_cli",
                        "user",
                        &id.to_string(),
                        &serde_json::json!({"role": role}),
                        crate::db::now(),
                    )
                })
                .await?;
            db.close().await;
            println!("created {} user {email} (id {id})", role.as_str());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// GET /livez with a short timeout, no TLS verification needed for loopback plain HTTP.
async fn health(base: &str) -> ExitCode {
    let client = match reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build() {
        Ok(c) => c,
        Err(_) => return ExitCode::FAILURE,
    };
    match client.get(format!("{base}/livez")).send().await {
        Ok(r) if r.status().is_success() => ExitCode::SUCCESS,
        Ok(r) => {
            eprintln!("unhealthy: {}", r.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}
