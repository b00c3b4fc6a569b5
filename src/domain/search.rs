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

impl Domain {
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
