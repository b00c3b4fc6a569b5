//! Search: user text becomes a safe FTS5 prefix query (no operators pass through).

use super::{Domain, DomainError};
use crate::db;

/// Each word becomes a quoted prefix term: `red hot` -> `"red"* "hot"*`. Quotes inside are doubled,
/// so no FTS5 syntax (NEAR, column filters, `-`) can be injected.
pub fn to_fts_query(input: &str) -> Option<String> {
    let terms: Vec<String> = input
        .split(|c: char| c.is_whitespace() || c.is_control() || c.is_ascii_punctuation() && c != '\'')
        .filter(|w| !w.is_empty())
        .take(8)
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    if terms.is_empty() { None } else { Some(terms.join(" ")) }
}

/// What the search page shows.
#[derive(Debug, Default)]
pub struct SearchResults {
    pub hits: Vec<db::search::SearchHit>,
    /// The words the hits are for, when the words as typed found nothing and these (the closest
    /// known spelling of each) did.
    pub corrected: Option<String>,
    /// Upcoming shows of the artists and at the venues found, soonest first.
    pub shows: Vec<db::shows::Show>,
}

/// Upcoming shows listed with the results, at most.
const SHOWS_WITH_RESULTS: i64 = 12;

impl Domain {
    /// Search for people: as [`Domain::search`], but when nothing matches the words as typed it
    /// searches for their closest known spelling ("lantren" finds The Paper Lanterns), and it adds
    /// the upcoming shows of what it found.
    pub async fn search_forgiving(&self, input: &str, limit: i64) -> Result<SearchResults, DomainError> {
        let mut hits = self.search(input, limit).await?;
        let mut corrected = None;
        if hits.is_empty()
            && let Some(guess) = self.vocabulary().await?.correct(input)
        {
            hits = self.search(&guess, limit).await?;
            corrected = (!hits.is_empty()).then_some(guess);
        }
        let ids = |kind: &str| hits.iter().filter(|h| h.kind == kind).map(|h| h.id).collect::<Vec<_>>();
        let (artists, venues, now) = (ids("artist"), ids("venue"), self.now());
        let shows = if artists.is_empty() && venues.is_empty() {
            Vec::new()
        } else {
            self.db.read(move |c| db::search::upcoming_shows_of(c, &artists, &venues, now, SHOWS_WITH_RESULTS)).await?
        };
        Ok(SearchResults { hits, corrected, shows })
    }

    pub async fn search(&self, input: &str, limit: i64) -> Result<Vec<db::search::SearchHit>, DomainError> {
        if input.chars().count() > 200 {
            return Err(DomainError::invalid("q", "must be at most 200 characters"));
        }
        let Some(q) = to_fts_query(input) else { return Ok(Vec::new()) };
        let limit = limit.clamp(1, 100);
        self.db.read(move |c| db::search::search(c, &q, limit)).await.map_err(DomainError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::to_fts_query;

    #[test]
    fn operators_are_neutralised() {
        assert_eq!(to_fts_query("red hot").unwrap(), "\"red\"* \"hot\"*");
        assert_eq!(to_fts_query("a\"b").unwrap(), "\"a\"* \"b\"*");
        assert_eq!(
            to_fts_query("NEAR(x y) title:foo -bar").unwrap(),
            "\"NEAR\"* \"x\"* \"y\"* \"title\"* \"foo\"* \"bar\"*"
        );
        assert!(to_fts_query("  ()  ").is_none());
        // A NUL would end the FTS5 string early (a syntax error): control characters separate words.
        assert_eq!(to_fts_query("a\u{0}b").unwrap(), "\"a\"* \"b\"*");
        assert!(to_fts_query("\u{0}").is_none());
    }
}
