//! Full-text search (FTS5) over artists, songs and venues.

use rusqlite::Connection;

use super::DbError;

#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchHit {
    pub kind: String,
    pub id: i64,
    pub title: String,
    pub detail: String,
    /// Slug of the page to link: the artist (for artists and songs) or the venue.
    pub slug: String,
}

/// `query` must already be a safe FTS5 expression (see domain::search::to_fts_query).
pub fn search(conn: &Connection, query: &str, limit: i64) -> Result<Vec<SearchHit>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT f.kind, f.ref_id, f.title, f.detail,
                CASE f.kind WHEN 'artist' THEN (SELECT slug FROM artists WHERE id = f.ref_id)
                            WHEN 'song' THEN (SELECT a.slug FROM songs s JOIN artists a ON a.id = s.artist_id WHERE s.id = f.ref_id)
                            ELSE (SELECT slug FROM venues WHERE id = f.ref_id) END
         FROM search_index f WHERE search_index MATCH ?1 ORDER BY rank LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(rusqlite::params![query, limit], |r| {
            Ok(SearchHit {
                kind: r.get(0)?,
                id: r.get(1)?,
                title: r.get(2)?,
                detail: r.get(3)?,
                slug: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
