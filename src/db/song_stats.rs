//! Song statistics derived from actual setlists.

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
