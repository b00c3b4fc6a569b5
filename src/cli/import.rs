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

use crate::config::Config;
use crate::db::{Database, DbOptions};
use crate::domain::Domain;
use crate::import::catalog::{self, Format};
use crate::import::{Progress, Report, record_in_audit_log, setlistfm};

/// Exit status when the import ran but skipped items.
pub const EXIT_SKIPPED: u8 = 3;

/// A progress bar on stderr; indicatif draws nothing when stderr is not a terminal.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({left})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("left", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&time_left(s.pos(), s.len().unwrap_or(0), s.elapsed()));
            })
            .progress_chars("=> ");
        bar.set_style(style);
        Self(bar)
    }
}

/// The time left in a phase, estimated from the phase's own average rate. indicatif's `{eta}` read
/// its rate from the first few steps (and from the previous phase), so an 8-second import opened
/// with "65m"; this says "estimating" until a second of work and one step give a rate to go by.
fn time_left(pos: u64, len: u64, elapsed: std::time::Duration) -> String {
    if pos == 0 || len <= pos || elapsed < std::time::Duration::from_secs(1) {
        return if len > 0 && pos >= len { "done".into() } else { "estimating".into() };
    }
    let secs = (elapsed.as_secs_f64() * (len - pos) as f64 / pos as f64).ceil() as u64;
    match secs {
        0..60 => format!("{secs}s left"),
        60..3600 => format!("{}m {}s left", secs / 60, secs % 60),
        _ => format!("{}h {}m left", secs / 3600, secs % 3600 / 60),
    }
}

impl Progress for Bar {
    fn phase(&self, name: &str, total: Option<u64>) {
        // A new phase starts its own clock and rate.
        self.0.reset();
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
    let db = Database::open_for_command(&DbOptions::from_config(&config))
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::time_left;

    #[test]
    fn the_time_left_is_estimated_from_the_phase_s_own_rate() {
        // The first steps of an 8-second job: no wild guess.
        assert_eq!(time_left(0, 800, Duration::from_millis(5)), "estimating");
        assert_eq!(time_left(3, 800, Duration::from_millis(30)), "estimating");
        // A second in, 100 of 800 done: 7 s to go.
        assert_eq!(time_left(100, 800, Duration::from_secs(1)), "7s left");
        assert_eq!(time_left(1, 100, Duration::from_secs(2)), "3m 18s left");
        assert_eq!(time_left(800, 800, Duration::from_secs(8)), "done");
    }
}
