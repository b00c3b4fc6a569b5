//! Command line: `mysetlist <command>`. Every command takes `--config FILE` (or MYSETLIST_CONFIG).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{self, Config};
use crate::db::{Database, DbOptions};
use crate::domain::{Domain, Role};
use crate::startup::Application;

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
    /// Restore the database from an S3 bucket (Litestream 0.5 or 0.3 layout)
    Restore {
        /// s3://BUCKET/PREFIX (default: replication.url); endpoint and credentials come from the config
        #[arg(long)]
        from: Option<String>,
        /// Where to write the database (default: the configured data dir's database)
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// Restore the state right after this TXID (hex, as Litestream prints it)
        #[arg(long, conflicts_with = "timestamp")]
        txid: Option<String>,
        /// Restore the newest state written before this time (RFC 3339)
        #[arg(long)]
        timestamp: Option<String>,
        /// Overwrite an existing database file
        #[arg(long)]
        force: bool,
    },
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
                None => local_base(&load_config(&cli)?),
            };
            Ok(health(&base).await)
        }
        Command::Migrate => {
            let c = load_config(&cli)?;
            crate::telemetry::init(c.settings.log.format, &c.settings.log.level);
            ensure_not_a_standby_copy(&c)?;
            ensure_no_server(&c.database_path(), "the server applies migrations itself when it starts")?;
            let db = Database::open(&DbOptions::from_config(&c))?;
            db.close().await;
            println!("database {} is up to date", c.database_path().display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { demo, listen } => {
            crate::startup::server::raise_descriptor_limit();
            let mut c = load_config(&cli)?;
            if let Some(addr) = listen {
                c.listen = *addr;
                c.settings.listen = addr.to_string();
            }
            let telemetry =
                crate::telemetry::init_with(c.settings.log.format, &c.settings.log.level, &c.settings.telemetry)?;
            let domain = c.settings.domain.first().cloned();
            let outcome = match Application::build(c, *demo).await {
                Ok(app) => {
                    // Where to go, on stdout: the one line a newcomer needs (logs go to stderr).
                    let open = open_url(app.local_addr(), domain.as_deref());
                    println!("MySetlist is running. Open {open}");
                    if let Some(path) = app.demo_sign_in() {
                        println!(
                            "Demo admin ({}): set its password and sign in once at {}{}",
                            crate::domain::demo::DEMO_ADMIN,
                            open.trim_end_matches('/'),
                            path
                        );
                    }
                    app.run_until_stopped().await
                }
                Err(e) => Err(e),
            };
            telemetry.shutdown().await;
            outcome?;
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
        Command::Restore { from, output, txid, timestamp, force } => {
            let c = load_config(&cli)?;
            let mut opts = crate::startup::replication::options(&c);
            if let Some(url) = from {
                opts.url = url.clone();
            }
            if opts.url.is_empty() {
                anyhow::bail!("nothing to restore from: pass --from s3://BUCKET/PREFIX or set replication.url");
            }
            let target = match (txid, timestamp) {
                (Some(t), _) => crate::replicate::RestoreTarget::Txid(crate::replicate::Txid(
                    u64::from_str_radix(t.trim_start_matches("0x"), 16)
                        .map_err(|_| anyhow::anyhow!("--txid {t:?} is not a hexadecimal TXID"))?,
                )),
                (None, Some(ts)) => crate::replicate::RestoreTarget::Timestamp(
                    chrono::DateTime::parse_from_rfc3339(ts)
                        .map_err(|_| anyhow::anyhow!("--timestamp {ts:?} is not an RFC 3339 time"))?
                        .with_timezone(&chrono::Utc),
                ),
                (None, None) => crate::replicate::RestoreTarget::Latest,
            };
            let out = output.clone().unwrap_or_else(|| c.database_path());
            ensure_no_server(&out, "stop it before restoring over its database, or restore to another file with -o")?;
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} restoring [{bar:30}] {bytes}/{total_bytes} {msg}")
                    .expect("valid template"),
            );
            let progress_bar = bar.clone();
            let report = crate::replicate::restore(&opts, &out, target, *force, move |p| {
                progress_bar.set_length(p.bytes_total);
                progress_bar.set_position(p.bytes_done);
                progress_bar.set_message(format!("{}/{} files", p.files_done, p.files_total));
            })
            .await;
            bar.finish_and_clear();
            let report = report?;
            println!(
                "restored {} ({} pages of {} bytes{}) in {:.1?}",
                out.display(),
                report.pages,
                report.page_size,
                report.txid.map(|t| format!(", TXID {t}")).unwrap_or_default(),
                report.duration
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup(cmd) => {
            let c = load_config(&cli)?;
            if !c.replication_enabled() {
                anyhow::bail!("replication.url is not set: there are no backups to look at");
            }
            let opts = crate::startup::replication::options(&c);
            match cmd {
                BackupCommand::List => {
                    let l = crate::replicate::list(&opts).await?;
                    print!("{l}");
                }
                BackupCommand::Verify => {
                    let r = crate::replicate::verify(&opts, &c.database_path()).await?;
                    println!("backup verified: TXID {}, {} pages, checksum {:016x}", r.txid, r.pages, r.checksum);
                    println!("{:#?}", r.live);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Promote { timeout } => {
            let c = load_config(&cli)?;
            crate::telemetry::init(c.settings.log.format, &c.settings.log.level);
            if !c.replication_enabled() {
                anyhow::bail!("replication.url is not set: without a bucket there is no lease to hand over");
            }
            let fcfg = crate::failover::FailoverConfig::from_config(&c, crate::startup::replication::options(&c));
            let deadline = std::time::Instant::now() + *timeout;
            match crate::failover::promote::promote(&fcfg, *timeout).await? {
                crate::failover::promote::Promoted::AlreadyLeader { term } => {
                    println!("{} already leads (term {term}); nothing to do", fcfg.node_id);
                }
                crate::failover::promote::Promoted::TookOver { from, term, txid } => {
                    println!("{} now leads (term {term}, taken over from {from} at TXID {txid})", fcfg.node_id);
                }
            }
            // The lease is ours; writes are accepted once the takeover's first commit is stored.
            let base = local_base(&c);
            if !wait_ready(&base, deadline).await {
                anyhow::bail!("this node holds the lease but {base}/readyz did not answer 200 in time");
            }
            println!("{base} accepts writes");
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(AdminCommand::CreateUser { email, password_file, role, display_name }) => {
            let c = load_config(&cli)?;
            ensure_not_a_standby_copy(&c)?;
            let password = std::fs::read_to_string(password_file)
                .with_context(|| format!("cannot read the password file {}", password_file.display()))?;
            let password = password.trim_end_matches(['\n', '\r']);
            let role = Role::parse(role).expect("clap restricts the values");
            let db = Database::open_for_command(&DbOptions::from_config(&c))?;
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
            let stored = domain.user(id).await?.map(|u| u.email).unwrap_or_default();
            db.close().await;
            println!("created {} user {stored} (id {id})", role.as_str());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Commands that write the database directly must not touch a standby's copy: the leader's next
/// pages would be applied over the change and corrupt it.
fn ensure_not_a_standby_copy(c: &Config) -> anyhow::Result<()> {
    if c.replication_enabled()
        && let Some(txid) = crate::replicate::follow::Sidecar::read(&c.database_path(), &c.settings.replication.url)
    {
        anyhow::bail!(
            "{} is a standby's copy of {} (at TXID {txid}): run this on the node that leads",
            c.database_path().display(),
            c.settings.replication.url
        );
    }
    Ok(())
}

/// Commands that replace or migrate the database refuse while a server has it open.
fn ensure_no_server(db: &std::path::Path, what_to_do: &str) -> anyhow::Result<()> {
    match crate::db::server_lock::running_server(db) {
        Some(server) => anyhow::bail!("{server} ({}): {what_to_do}", db.display()),
        None => Ok(()),
    }
}

/// The address to open in a browser: the HTTPS domain when one is set, else the bound address (an
/// unspecified one as loopback, which always works on this machine).
fn open_url(bound: std::net::SocketAddr, domain: Option<&str>) -> String {
    if let Some(d) = domain {
        return format!("https://{d}/");
    }
    let mut addr = bound;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{addr}/")
}

/// The local server's plain-HTTP base URL, from `listen`.
fn local_base(c: &Config) -> String {
    let mut addr = c.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{addr}")
}

/// Polls GET /readyz until it answers 200 or the deadline passes.
async fn wait_ready(base: &str, deadline: std::time::Instant) -> bool {
    let Ok(client) = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build() else {
        return false;
    };
    while std::time::Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
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
