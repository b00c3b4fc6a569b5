//! What an import did, item by item: operators see what changed and why anything was skipped.

use std::fmt::Write;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Artist,
    Venue,
    Song,
    Show,
    /// One input setlist (setlist.fm): the actual setlist of a show.
    Setlist,
    /// An input row that could not even be classified (a malformed CSV record, an unknown kind).
    Row,
}

impl Kind {
    pub const ALL: [Kind; 6] = [Kind::Artist, Kind::Venue, Kind::Song, Kind::Show, Kind::Setlist, Kind::Row];

    pub fn plural(self) -> &'static str {
        match self {
            Kind::Artist => "artists",
            Kind::Venue => "venues",
            Kind::Song => "songs",
            Kind::Show => "shows",
            Kind::Setlist => "setlists",
            Kind::Row => "rows",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub kind: Kind,
    pub outcome: Outcome,
    /// What the entry is about, e.g. `Pearl Jam` or `Fenway Park, Boston`.
    pub label: String,
    /// Where in the input, e.g. `line 12`; None for items derived from another (a song of a setlist).
    pub at: Option<String>,
    /// Why it was skipped, or what changed.
    pub detail: Option<String>,
}

impl Entry {
    pub fn new(kind: Kind, outcome: Outcome, label: impl Into<String>) -> Self {
        Self { kind, outcome, label: label.into(), at: None, detail: None }
    }
    pub fn at(mut self, at: impl Into<String>) -> Self {
        self.at = Some(at.into());
        self
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub fn skipped(kind: Kind, label: impl Into<String>, at: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(kind, Outcome::Skipped, label).at(at).detail(reason)
    }
}

/// Counts of one kind, for the summary table and the progress JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SummaryRow {
    pub kind: &'static str,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub skipped: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub entries: Vec<Entry>,
}

/// Created and updated items listed in the text report before it only counts the rest.
const MAX_LISTED_CHANGES: usize = 100;

impl Report {
    pub fn push(&mut self, e: Entry) {
        self.entries.push(e);
    }

    pub fn extend(&mut self, entries: impl IntoIterator<Item = Entry>) {
        self.entries.extend(entries);
    }

    pub fn count(&self, kind: Kind, outcome: Outcome) -> usize {
        self.entries.iter().filter(|e| e.kind == kind && e.outcome == outcome).count()
    }

    pub fn skipped(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.outcome == Outcome::Skipped)
    }

    pub fn skipped_count(&self) -> usize {
        self.skipped().count()
    }

    /// True when the import created or updated anything.
    pub fn changed(&self) -> bool {
        self.entries.iter().any(|e| matches!(e.outcome, Outcome::Created | Outcome::Updated))
    }

    /// One row per kind that occurs in the report.
    pub fn summary(&self) -> Vec<SummaryRow> {
        Kind::ALL
            .iter()
            .filter(|k| self.entries.iter().any(|e| e.kind == **k))
            .map(|k| SummaryRow {
                kind: k.plural(),
                created: self.count(*k, Outcome::Created),
                updated: self.count(*k, Outcome::Updated),
                unchanged: self.count(*k, Outcome::Unchanged),
                skipped: self.count(*k, Outcome::Skipped),
            })
            .collect()
    }

    /// A plain-text report for the terminal: the summary table, the changes, every skipped item.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let summary = self.summary();
        if summary.is_empty() {
            out.push_str("nothing to import\n");
            return out;
        }
        let _ = writeln!(out, "{:<10} {:>8} {:>8} {:>10} {:>8}", "", "created", "updated", "unchanged", "skipped");
        for r in &summary {
            let _ =
                writeln!(out, "{:<10} {:>8} {:>8} {:>10} {:>8}", r.kind, r.created, r.updated, r.unchanged, r.skipped);
        }
        let changes: Vec<&Entry> =
            self.entries.iter().filter(|e| matches!(e.outcome, Outcome::Created | Outcome::Updated)).collect();
        if !changes.is_empty() {
            out.push_str("\nchanges:\n");
            for e in changes.iter().take(MAX_LISTED_CHANGES) {
                let _ = writeln!(out, "  {}", line(e));
            }
            if changes.len() > MAX_LISTED_CHANGES {
                let _ = writeln!(out, "  … and {} more", changes.len() - MAX_LISTED_CHANGES);
            }
        }
        let skipped: Vec<&Entry> = self.skipped().collect();
        if !skipped.is_empty() {
            out.push_str("\nskipped:\n");
            for e in skipped {
                let _ = writeln!(out, "  {}", line(e));
            }
        }
        out
    }
}

fn line(e: &Entry) -> String {
    let outcome = match e.outcome {
        Outcome::Created => "created",
        Outcome::Updated => "updated",
        Outcome::Unchanged => "unchanged",
        Outcome::Skipped => "skipped",
    };
    let kind = match e.kind {
        Kind::Artist => "artist",
        Kind::Venue => "venue",
        Kind::Song => "song",
        Kind::Show => "show",
        Kind::Setlist => "setlist",
        Kind::Row => "row",
    };
    let mut s = String::new();
    if let Some(at) = &e.at {
        let _ = write!(s, "{at}: ");
    }
    let _ = write!(s, "{outcome} {kind} {}", e.label);
    if let Some(d) = &e.detail {
        let _ = write!(s, " ({d})");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_and_text() {
        let mut r = Report::default();
        r.push(Entry::new(Kind::Artist, Outcome::Created, "Pearl Jam"));
        r.push(Entry::new(Kind::Setlist, Outcome::Unchanged, "a"));
        r.push(Entry::skipped(Kind::Setlist, "b", "line 9", "eventDate `x` is not a date"));
        let s = r.summary();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0], SummaryRow { kind: "artists", created: 1, ..Default::default() });
        assert_eq!(s[1], SummaryRow { kind: "setlists", unchanged: 1, skipped: 1, ..Default::default() });
        let text = r.render_text();
        assert!(text.contains("line 9: skipped setlist b (eventDate `x` is not a date)"), "{text}");
        assert!(text.contains("created artist Pearl Jam"), "{text}");
        assert!(r.changed());
    }
}
