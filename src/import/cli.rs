//! The `mysetlist import …` commands: open the database, run a file import with a progress bar on the
//! terminal, print the report.
//!
//! Exit status: 0 when every item was imported (or was already there), 3 when some items were skipped
//! (the report lists them), 1 when the import could not run.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::catalog::{self, Format};
use super::importer::record_in_audit_log;
use super::{Progress, Report, setlistfm};
use crate::config::Config;
use crate::db::Database;
use crate::domain::Domain;
use crate::startup::db_options;

/// Exit status when the import ran but skipped items.
pub const EXIT_SKIPPED: u8 = 3;

/// A progress bar on stderr; indicatif draws nothing when stderr is not a terminal.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        Self(bar)
    }
}

impl Progress for Bar {
    fn phase(&self, name: &str, total: Option<u64>) {
        self.0.set_message(name.to_owned());
        self.0.set_length(total.unwrap_or(0));
        self.0.set_position(0);
    }
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
    fn note(&self, line: &str) {
        self.0.println(line);
    }
}

async fn open(config: Config) -> anyhow::Result<(Database, Arc<Domain>)> {
    let db = Database::open_for_command(&db_options(&config))
        .with_context(|| format!("cannot open the database at {}", config.database_path().display()))?;
    let domain = Domain::new(db.clone(), Arc::new(config)).await?;
    Ok((db, domain))
}

/// Import files larger than this are refused before they are read (they are parsed in memory).
const MAX_IMPORT_FILE_BYTES: u64 = 64 << 20;

fn read(path: &Path) -> anyhow::Result<String> {
    let len = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.len();
    if len > MAX_IMPORT_FILE_BYTES {
        anyhow::bail!("{} is {len} bytes; import files may be at most {MAX_IMPORT_FILE_BYTES} bytes", path.display());
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

async fn finish(db: Database, bar: Bar, report: anyhow::Result<Report>) -> anyhow::Result<ExitCode> {
    bar.0.finish_and_clear();
    db.close().await;
    let report = report?;
    print!("{}", report.render_text());
    if report.skipped_count() > 0 {
        eprintln!("{} item(s) skipped; see above", report.skipped_count());
        Ok(ExitCode::from(EXIT_SKIPPED))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// `mysetlist import setlistfm --file F.json`
pub async fn setlistfm_file(config: Config, path: &Path) -> anyhow::Result<ExitCode> {
    let text = read(path)?;
    let (db, domain) = open(config).await?;
    let bar = Bar::new();
    let report = async {
        let report = setlistfm::import_json(&domain, &text, None, &bar)
            .await
            .with_context(|| format!("cannot import {}", path.display()))?;
        record_in_audit_log(&domain, None, "import.setlistfm", &path.display().to_string(), &report).await?;
        Ok(report)
    }
    .await;
    finish(db, bar, report).await
}

/// `mysetlist import catalog --file F.csv|F.json`
pub async fn catalog_file(config: Config, path: &Path) -> anyhow::Result<ExitCode> {
    let format = Format::from_path(path)?;
    let text = read(path)?;
    let (db, domain) = open(config).await?;
    let bar = Bar::new();
    let report = async {
        let report = catalog::import(&domain, &text, format, None, &bar)
            .await
            .with_context(|| format!("cannot import {}", path.display()))?;
        record_in_audit_log(&domain, None, "import.catalog", &path.display().to_string(), &report).await?;
        Ok(report)
    }
    .await;
    finish(db, bar, report).await
}
