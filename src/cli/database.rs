//! `mysetlist migrate` and `mysetlist restore`: the commands that write the database file itself, and
//! the guards that keep them off a file a server has open or a standby follows.

use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::RestoreArgs;
use crate::config::Config;
use crate::db::{Database, DbOptions};
use crate::replicate::{RestoreTarget, Txid};

pub async fn migrate(config: &Config) -> anyhow::Result<ExitCode> {
    ensure_not_a_standby_copy(config)?;
    ensure_no_server(&config.database_path(), "the server applies migrations itself when it starts")?;
    let db = Database::open(&DbOptions::from_config(config))?;
    db.close().await;
    println!("database {} is up to date", config.database_path().display());
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(config: &Config, args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let mut opts = crate::app::replication::options(config);
    if let Some(url) = args.from {
        opts.url = url;
    }
    if opts.url.is_empty() {
        anyhow::bail!("nothing to restore from: pass --from s3://BUCKET/PREFIX or set replication.url");
    }
    let target = match (args.txid, args.timestamp) {
        (Some(txid), _) => RestoreTarget::Txid(txid),
        (None, Some(time)) => RestoreTarget::Timestamp(time),
        (None, None) => RestoreTarget::Latest,
    };
    let out = args.output.unwrap_or_else(|| config.database_path());
    ensure_no_server(&out, "stop it before restoring over its database, or restore to another file with -o")?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} restoring [{bar:30}] {bytes}/{total_bytes} {msg}")
            .expect("valid template"),
    );
    let progress_bar = bar.clone();
    let report = crate::replicate::restore(&opts, &out, target, args.force, move |p| {
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

/// `--txid`: hexadecimal, as Litestream prints it (an optional `0x` is accepted).
pub fn parse_txid(text: &str) -> anyhow::Result<Txid> {
    u64::from_str_radix(text.trim_start_matches("0x"), 16)
        .map(Txid)
        .map_err(|_| anyhow::anyhow!("{text:?} is not a hexadecimal TXID"))
}

/// `--timestamp`: RFC 3339.
pub fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| anyhow::anyhow!("{text:?} is not an RFC 3339 time"))
}

/// Commands that write the database directly must not touch a standby's copy: the leader's next
/// pages would be applied over the change and corrupt it.
pub fn ensure_not_a_standby_copy(c: &Config) -> anyhow::Result<()> {
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
fn ensure_no_server(db: &Path, what_to_do: &str) -> anyhow::Result<()> {
    match crate::db::server_lock::running_server(db) {
        Some(server) => anyhow::bail!("{server} ({}): {what_to_do}", db.display()),
        None => Ok(()),
    }
}
