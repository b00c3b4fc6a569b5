//! Reading catalog files into rows that know their line. See the module above for the format.

use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::import::ImportError;
use crate::import::report::{Entry, Kind};
use crate::import::setlistfm::line_of;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Artist,
    Venue,
    Song,
    Show,
}

impl RowKind {
    fn parse(s: &str) -> Option<RowKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "artist" => Some(RowKind::Artist),
            "venue" => Some(RowKind::Venue),
            "song" => Some(RowKind::Song),
            "show" => Some(RowKind::Show),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RowKind::Artist => "artist",
            RowKind::Venue => "venue",
            RowKind::Song => "song",
            RowKind::Show => "show",
        }
    }

    /// The columns a row of this kind may fill.
    fn columns(self) -> &'static [&'static str] {
        match self {
            RowKind::Artist => &["name", "slug", "mbid", "genres", "image_url"],
            RowKind::Venue => &["name", "city", "country", "timezone", "latitude", "longitude", "slug"],
            RowKind::Song => &["artist", "title", "album", "duration_s", "is_live", "is_remix", "popularity"],
            RowKind::Show => &["artist", "venue", "city", "starts_at", "title", "status", "slug"],
        }
    }
}

/// Every column a catalog CSV may have.
const ALL_COLUMNS: &[&str] = &[
    "kind",
    "name",
    "title",
    "artist",
    "album",
    "duration_s",
    "is_live",
    "is_remix",
    "popularity",
    "slug",
    "mbid",
    "genres",
    "image_url",
    "city",
    "country",
    "timezone",
    "latitude",
    "longitude",
    "venue",
    "starts_at",
    "status",
];

/// One row: its kind, where it is (`line 7`) and its non-empty cells.
#[derive(Debug, Clone)]
pub struct Row {
    pub kind: RowKind,
    pub at: String,
    fields: BTreeMap<String, String>,
}

impl Row {
    /// A cell's trimmed value; empty when absent.
    pub fn get(&self, column: &str) -> &str {
        self.fields.get(column).map(String::as_str).unwrap_or("")
    }

    /// Whether the row gives a value for the column (an empty cell keeps the stored value).
    pub fn has(&self, column: &str) -> bool {
        !self.get(column).is_empty()
    }

    /// A short description for the report.
    pub fn label(&self) -> String {
        match self.kind {
            RowKind::Artist => self.get("name").to_owned(),
            RowKind::Venue => format!("{}, {}", self.get("name"), self.get("city")),
            RowKind::Song => format!("{} – {}", self.get("artist"), self.get("title")),
            RowKind::Show => format!("{} at {} on {}", self.get("artist"), self.get("venue"), self.get("starts_at")),
        }
    }

    /// Builds a row, refusing cells that do not belong to the kind (a shifted column is a mistake).
    fn new(kind: RowKind, at: String, cells: impl IntoIterator<Item = (String, String)>) -> Result<Row, Entry> {
        let mut fields = BTreeMap::new();
        for (column, value) in cells {
            let value = value.trim().to_owned();
            if value.is_empty() || column == "kind" {
                continue;
            }
            if !kind.columns().contains(&column.as_str()) {
                return Err(Entry::skipped(
                    kind_of(kind),
                    format!("{} row", kind.name()),
                    at,
                    format!("column `{column}` does not apply to {} rows (leave it empty)", kind.name()),
                ));
            }
            fields.insert(column, value);
        }
        Ok(Row { kind, at, fields })
    }
}

fn kind_of(kind: RowKind) -> Kind {
    match kind {
        RowKind::Artist => Kind::Artist,
        RowKind::Venue => Kind::Venue,
        RowKind::Song => Kind::Song,
        RowKind::Show => Kind::Show,
    }
}

/// Parses a catalog CSV. The header must be valid; each bad record becomes a skipped entry.
pub fn parse_csv(text: &str) -> Result<Vec<Result<Row, Entry>>, ImportError> {
    // Comment lines become blank lines, which the reader skips. Line numbers are computed from byte
    // offsets: the reader's own line count lags after skipped lines.
    let text: String = text
        .split_inclusive('\n')
        .map(|l| if l.trim_start().starts_with('#') { if l.ends_with('\n') { "\n" } else { "" } } else { l })
        .collect();
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ImportError::Input(format!("cannot read the CSV header: {e}")))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if !headers.iter().any(|h| h == "kind") {
        return Err(ImportError::Input("the CSV header needs a `kind` column (artist, venue, song or show)".into()));
    }
    if let Some(unknown) = headers.iter().find(|h| !ALL_COLUMNS.contains(&h.as_str())) {
        return Err(ImportError::Input(format!(
            "unknown CSV column `{unknown}`; the columns are: {}",
            ALL_COLUMNS.join(", ")
        )));
    }
    let mut out = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let at = e.position().map(|p| record_line(&text, p.byte())).unwrap_or_else(|| "a line".into());
                out.push(Err(Entry::skipped(Kind::Row, "row", at, csv_reason(&e))));
                continue;
            }
        };
        let at = record.position().map(|p| record_line(&text, p.byte())).unwrap_or_else(|| "a line".into());
        let cells: Vec<(String, String)> = headers.iter().cloned().zip(record.iter().map(str::to_owned)).collect();
        let kind_cell = cells.iter().find(|(h, _)| h == "kind").map(|(_, v)| v.as_str()).unwrap_or("");
        match RowKind::parse(kind_cell) {
            Some(kind) => out.push(Row::new(kind, at, cells)),
            None => out.push(Err(Entry::skipped(
                Kind::Row,
                "row",
                at,
                format!("kind `{kind_cell}` is not artist, venue, song or show"),
            ))),
        }
    }
    Ok(out)
}

/// `line N` of the record starting at `byte` (the reader reports the end of the previous record,
/// before any blank lines, as the start).
fn record_line(text: &str, byte: u64) -> String {
    let start = usize::try_from(byte).unwrap_or(usize::MAX).min(text.len());
    let before = text.as_bytes()[..start].iter().filter(|b| **b == b'\n').count();
    let skipped =
        text.as_bytes()[start..].iter().take_while(|b| b.is_ascii_whitespace()).filter(|b| **b == b'\n').count();
    format!("line {}", before + skipped + 1)
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("has {len} cells but the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".into(),
        _ => format!("cannot be read: {e}"),
    }
}

/// Parses a catalog JSON document; each bad element becomes a skipped entry with its line.
pub fn parse_json(text: &str) -> Result<Vec<Result<Row, Entry>>, ImportError> {
    let sections: BTreeMap<String, &RawValue> =
        serde_json::from_str(text).map_err(|e| ImportError::Input(format!("the file is not a JSON object: {e}")))?;
    if sections.contains_key("setlist") || sections.contains_key("eventDate") {
        return Err(ImportError::Input(
            "this is setlist.fm data; import it with `mysetlist import setlistfm --file`".into(),
        ));
    }
    if let Some(unknown) = sections.keys().find(|k| !["artists", "venues", "songs", "shows"].contains(&k.as_str())) {
        return Err(ImportError::Input(format!(
            "unknown section `{unknown}`; the sections are artists, venues, songs and shows"
        )));
    }
    let mut out = Vec::new();
    for (section, kind) in
        [("artists", RowKind::Artist), ("venues", RowKind::Venue), ("songs", RowKind::Song), ("shows", RowKind::Show)]
    {
        let Some(raw) = sections.get(section) else { continue };
        let items: Vec<&RawValue> = serde_json::from_str(raw.get())
            .map_err(|e| ImportError::Input(format!("`{section}` must be an array of objects: {e}")))?;
        for item in items {
            let at = format!("line {}", line_of(text, item.get()));
            out.push(json_row(kind, at, item));
        }
    }
    Ok(out)
}

fn json_row(kind: RowKind, at: String, item: &RawValue) -> Result<Row, Entry> {
    let skip = |reason: String| Entry::skipped(kind_of(kind), format!("{} row", kind.name()), at.clone(), reason);
    let map: BTreeMap<String, Value> =
        serde_json::from_str(item.get()).map_err(|_| skip(format!("a {} must be a JSON object", kind.name())))?;
    let mut cells = Vec::new();
    for (k, v) in map {
        let value = match v {
            Value::Null => String::new(),
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => return Err(skip(format!("field `{k}` must be a string, number or boolean"))),
        };
        if !kind.columns().contains(&k.as_str()) {
            return Err(skip(format!(
                "unknown field `{k}` for a {}; the fields are {}",
                kind.name(),
                kind.columns().join(", ")
            )));
        }
        cells.push((k, value));
    }
    Row::new(kind, at, cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_with_lines_and_errors() {
        let text = "kind,name,city,country,artist,title\n\
                    artist,Band,,,,\n\
                    # a comment\n\
                    venue,Hall,Berlin,DE,,\n\
                    song,,,,Band,Hit\n\
                    song,,Berlin,,Band,Oops\n\
                    planet,x,,,,\n\
                    song,,,,Band\n";
        let rows = parse_csv(text).unwrap();
        assert_eq!(rows.len(), 6);
        let ok: Vec<&Row> = rows.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok.iter().map(|r| r.at.as_str()).collect::<Vec<_>>(), ["line 2", "line 4", "line 5"]);
        assert_eq!(ok[2].get("title"), "Hit");
        let errs: Vec<&Entry> = rows.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(errs[0].at.as_deref(), Some("line 6"));
        assert!(errs[0].detail.as_ref().unwrap().contains("`city` does not apply to song rows"));
        assert!(errs[1].detail.as_ref().unwrap().contains("kind `planet`"));
        assert_eq!(errs[2].at.as_deref(), Some("line 8"));
        assert!(errs[2].detail.as_ref().unwrap().contains("5 cells but the header has 6"), "{:?}", errs[2]);

        assert!(parse_csv("name\nx\n").unwrap_err().to_string().contains("`kind`"));
        assert!(parse_csv("kind,colour\n").unwrap_err().to_string().contains("unknown CSV column `colour`"));
    }

    #[test]
    fn json_rows_with_lines() {
        let text = "{\"artists\": [\n {\"name\": \"Band\", \"genres\": \"rock\"}\n],\n \"songs\": [\n {\"artist\": \"Band\", \"title\": \"Hit\", \"duration_s\": 200, \"is_live\": false},\n {\"artist\": \"Band\", \"colour\": \"red\"}\n]}";
        let rows = parse_json(text).unwrap();
        let first = rows[0].as_ref().unwrap();
        assert_eq!((first.kind, first.at.as_str()), (RowKind::Artist, "line 2"));
        let song = rows[1].as_ref().unwrap();
        assert_eq!((song.get("duration_s"), song.get("is_live"), song.at.as_str()), ("200", "false", "line 5"));
        let bad = rows[2].as_ref().unwrap_err();
        assert_eq!(bad.at.as_deref(), Some("line 6"));
        assert!(bad.detail.as_ref().unwrap().contains("unknown field `colour`"));
        assert!(parse_json("{\"setlist\": []}").unwrap_err().to_string().contains("setlist.fm"));
        assert!(parse_json("{\"bands\": []}").unwrap_err().to_string().contains("unknown section `bands`"));
    }
}
