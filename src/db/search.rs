//! Full-text search (FTS5) over artists, songs and venues, the words it knows (for spelling
//! suggestions), and the upcoming shows of what a search found.

use rusqlite::Connection;

use super::DbError;

#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchHit {
    pub kind: String,
    pub id: i64,
    pub title: String,
    /// Artist: genres; song: album; venue: city and country.
    pub detail: String,
    /// The artist of a song (empty for artists and venues).
    pub artist: String,
    /// Slug of the page to link: the artist (for artists and songs) or the venue.
    pub slug: String,
}

/// `query` must already be a safe FTS5 expression (see domain::search::to_fts_query).
pub fn search(conn: &Connection, query: &str, limit: i64) -> Result<Vec<SearchHit>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT f.kind, f.ref_id, f.title, f.detail,
                CASE f.kind WHEN 'artist' THEN (SELECT slug FROM artists WHERE id = f.ref_id)
                            WHEN 'song' THEN (SELECT a.slug FROM songs s JOIN artists a ON a.id = s.artist_id WHERE s.id = f.ref_id)
                            ELSE (SELECT slug FROM venues WHERE id = f.ref_id) END,
                CASE f.kind WHEN 'song' THEN (SELECT a.name FROM songs s JOIN artists a ON a.id = s.artist_id WHERE s.id = f.ref_id)
                            ELSE '' END
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
                artist: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Every title and detail in the index (the spelling vocabulary is built from their words).
pub fn indexed_texts(conn: &Connection) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare_cached("SELECT title || ' ' || detail FROM search_index")?;
    let rows = stmt.query_map([], |r| r.get::<_, Option<String>>(0))?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows.into_iter().flatten().collect())
}

/// Upcoming shows of the given artists or at the given venues, soonest first.
pub fn upcoming_shows_of(
    conn: &Connection,
    artist_ids: &[i64],
    venue_ids: &[i64],
    now: i64,
    limit: i64,
) -> Result<Vec<super::shows::Show>, DbError> {
    let ids = |v: &[i64]| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
    super::shows::upcoming_where(
        conn,
        "(s.artist_id IN (SELECT value FROM json_each(?3)) OR s.venue_id IN (SELECT value FROM json_each(?4)))",
        rusqlite::params![now, limit, ids(artist_ids), ids(venue_ids)],
    )
}
