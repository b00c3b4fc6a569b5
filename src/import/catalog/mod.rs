//! `mysetlist import catalog --file F.csv|F.json`: artists, venues, songs and shows in bulk.
//!
//! # Format
//!
//! **CSV** (`.csv`): a header row, then one row per item. The `kind` column says what a row is:
//! `artist`, `venue`, `song` or `show`. Other columns, in any order (leave out the ones you don't
//! use; a cell that does not apply to the row's kind must be empty). Lines starting with `#` are
//! comments. Cells are trimmed.
//!
//! | kind   | required                              | optional                                              |
//! |--------|---------------------------------------|-------------------------------------------------------|
//! | artist | `name`                                | `slug`, `mbid`, `genres` (comma-separated), `image_url` |
//! | venue  | `name`, `city`, `country` (ISO alpha-2) | `timezone` (IANA), `latitude`, `longitude`, `slug`   |
//! | song   | `artist`, `title`                     | `album`, `duration_s`, `is_live`, `is_remix`, `popularity` |
//! | show   | `artist`, `venue`, `starts_at`        | `city`, `title`, `status`, `slug`                     |
//!
//! - `artist` (on songs and shows) is an artist's slug, name or MusicBrainz id.
//! - `venue` (on shows) is a venue's slug, or its name together with `city`.
//! - `starts_at` is RFC 3339 (`2026-06-01T20:00:00+02:00`) or a local time at the venue
//!   (`2026-06-01 20:00`).
//! - `status`: upcoming (default), locked, completed, cancelled. Booleans: true/false, yes/no, 1/0.
//! - A venue without `timezone` gets its country's main zone (UTC where a country has several).
//!
//! **JSON** (`.json`): `{"artists": [...], "venues": [...], "songs": [...], "shows": [...]}`, each an
//! array of objects with the same fields as the CSV columns (without `kind`); values may be strings,
//! numbers or booleans. Sections are applied in that order.
//!
//! # Matching and idempotency
//!
//! An artist is matched by `mbid`, then `slug`, then name; a venue by `slug`, then name + city; a song
//! by artist + title; a show by `slug`, then artist + date. A matched item is updated with the fields
//! the row gives (empty cells keep the stored value) and reported as unchanged if nothing differs, so
//! importing the same file twice changes nothing.
//!
//! # Errors
//!
//! Rows are applied in file order, each in its own savepoint: a bad row is reported with its line and
//! the reason and skipped, the other rows are imported, and no row is ever half-written. Rows that
//! depend on a skipped row (the songs of a skipped artist) are skipped in turn with their own reason.
//! If the database itself fails, the import stops; rows of earlier batches stay committed and the
//! error says where it stopped. A file that is not CSV/JSON of this shape is refused as a whole.

mod apply;
mod rows;

use std::sync::Arc;

use apply::apply_row;
pub(crate) use rows::{RowKind, parse_csv, parse_json};

use super::batch::{CHUNK, each_in_savepoint};
use super::report::{Entry, Kind, Report};
use super::{ImportError, Progress};
use crate::domain::Domain;

/// The two file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    /// From the file name's extension.
    pub fn from_path(path: &std::path::Path) -> Result<Format, ImportError> {
        match path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("json") => Ok(Format::Json),
            _ => Err(ImportError::Input(format!("{}: the catalog file must end in .csv or .json", path.display()))),
        }
    }
}

/// Imports a catalog file's contents. `actor` is the admin (None: the command line).
pub async fn import(
    domain: &Arc<Domain>,
    text: &str,
    format: Format,
    actor: Option<i64>,
    progress: &dyn Progress,
) -> Result<Report, ImportError> {
    let parsed = match format {
        Format::Csv => parse_csv(text)?,
        Format::Json => parse_json(text)?,
    };
    let mut report = Report::default();
    let mut rows = Vec::new();
    for r in parsed {
        match r {
            Ok(row) => rows.push(row),
            Err(skipped) => report.push(skipped),
        }
    }
    progress.phase("rows", Some(rows.len() as u64));
    for (n, chunk) in rows.chunks(CHUNK).enumerate() {
        let work = chunk.to_vec();
        let now = domain.now();
        let results = domain
            .import_batch(move |c| each_in_savepoint(c, &work, |c, row| apply_row(c, row, actor, now)))
            .await
            .map_err(|e| {
                let first = chunk.first().map(|r| r.at.as_str()).unwrap_or("the start");
                let committed =
                    if n == 0 { "nothing was imported".to_owned() } else { "rows before it were imported".into() };
                ImportError::Input(format!("the import stopped at the batch starting at {first} ({committed}): {e}"))
            })?;
        for (row, result) in chunk.iter().zip(results) {
            report.push(match result {
                Ok(entry) => entry.at(&row.at),
                Err(e) => Entry::skipped(row.kind.report_kind(), row.label(), &row.at, e.to_string()),
            });
        }
        progress.advance(chunk.len() as u64);
    }
    Ok(report)
}

impl RowKind {
    fn report_kind(self) -> Kind {
        match self {
            RowKind::Artist => Kind::Artist,
            RowKind::Venue => Kind::Venue,
            RowKind::Song => Kind::Song,
            RowKind::Show => Kind::Show,
        }
    }
}
