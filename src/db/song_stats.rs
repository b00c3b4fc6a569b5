//! Song statistics derived from actual setlists and from the fans' votes.

use rusqlite::Connection;

use super::DbError;

/// Raises each song's popularity of an artist to the number of actual setlists it appears in (never
/// lowers it: a curated popularity stays). Returns how many songs changed. Imports call this so that a
/// new show's prediction is seeded with the songs the artist really plays.
pub fn raise_popularity_to_play_count(conn: &Connection, artist_id: i64) -> Result<usize, DbError> {
    Ok(conn
        .prepare_cached(
            "WITH plays AS (SELECT e.song_id, count(DISTINCT e.show_id) AS n FROM setlist_entries e
                            JOIN songs s ON s.id = e.song_id WHERE s.artist_id = ?1 GROUP BY e.song_id)
             UPDATE songs SET popularity = plays.n FROM plays
             WHERE songs.id = plays.song_id AND songs.popularity < plays.n",
        )?
        .execute([artist_id])?)
}

/// How often an artist played each song lately: over the artist's `last` shows that have an actual
/// setlist, each song performed (not a tape) with the number of those shows it was in, most played
/// first (at most `limit`). Also returns how many shows that is.
pub fn played_lately(
    conn: &Connection,
    artist_id: i64,
    last: i64,
    limit: i64,
) -> Result<(Vec<(String, i64)>, i64), DbError> {
    const RECENT: &str = "SELECT s.id FROM shows s WHERE s.artist_id = ?1
        AND EXISTS (SELECT 1 FROM setlist_entries e WHERE e.show_id = s.id) ORDER BY s.starts_at DESC LIMIT ?2";
    let shows: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM ({RECENT})"))?
        .query_row(rusqlite::params![artist_id, last], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT so.title, count(DISTINCT e.show_id) AS n FROM setlist_entries e JOIN songs so ON so.id = e.song_id
         WHERE e.show_id IN ({RECENT}) AND e.is_tape = 0
         GROUP BY e.song_id ORDER BY n DESC, so.title COLLATE NOCASE LIMIT ?3"
    ))?;
    let songs = stmt
        .query_map(rusqlite::params![artist_id, last, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((songs, shows))
}

/// The artist's most wanted songs: votes over the shows still to come, most first (at most
/// `limit`; songs without votes are left out).
pub fn most_wanted(conn: &Connection, artist_id: i64, now: i64, limit: i64) -> Result<Vec<(String, i64)>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT so.title, sum(ss.votes + ss.anon_votes) AS v FROM show_songs ss
         JOIN shows s ON s.id = ss.show_id JOIN songs so ON so.id = ss.song_id
         WHERE s.artist_id = ?1 AND s.starts_at > ?2 AND s.status != 'cancelled'
         GROUP BY ss.song_id HAVING v > 0 ORDER BY v DESC, so.title COLLATE NOCASE LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(rusqlite::params![artist_id, now, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
