//! Aggregates for the admin status page: voting activity over time, upcoming shows with their
//! recent activity, the most wanted songs. Counts come from `votes`, which holds standing votes
//! (a vote taken back is deleted), so "votes in the last hour" means votes cast then and still standing.

use rusqlite::{Connection, params};

use super::DbError;

/// Standing votes per time bucket since `since`: (bucket start, votes), oldest first, empty buckets
/// omitted.
pub fn votes_per_bucket(conn: &Connection, since: i64, bucket_secs: i64) -> Result<Vec<(i64, i64)>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT (created_at / ?2) * ?2 AS bucket, count(*) FROM votes WHERE created_at >= ?1
         GROUP BY bucket ORDER BY bucket",
    )?;
    let rows = stmt.query_map(params![since, bucket_secs], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ShowActivity {
    pub show_id: i64,
    pub slug: String,
    pub artist: String,
    pub venue: String,
    pub city: String,
    pub timezone: String,
    pub starts_at: i64,
    pub votes_total: i64,
    pub votes_recent: i64,
    pub voters_recent: i64,
}

/// The next `limit` shows still open for voting, with votes and distinct voters since `since`.
pub fn upcoming_activity(conn: &Connection, now: i64, since: i64, limit: i64) -> Result<Vec<ShowActivity>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.id, s.slug, a.name, v.name, v.city, v.timezone, s.starts_at, s.vote_total,
            (SELECT count(*) FROM votes WHERE show_id = s.id AND created_at >= ?2),
            (SELECT count(DISTINCT voter) FROM votes WHERE show_id = s.id AND created_at >= ?2)
         FROM shows s JOIN artists a ON a.id = s.artist_id JOIN venues v ON v.id = s.venue_id
         WHERE s.starts_at > ?1 AND s.status = 'upcoming' ORDER BY s.starts_at LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![now, since, limit], |r| {
        Ok(ShowActivity {
            show_id: r.get(0)?,
            slug: r.get(1)?,
            artist: r.get(2)?,
            venue: r.get(3)?,
            city: r.get(4)?,
            timezone: r.get(5)?,
            starts_at: r.get(6)?,
            votes_total: r.get(7)?,
            votes_recent: r.get(8)?,
            voters_recent: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TopSong {
    pub title: String,
    pub artist: String,
    pub votes: i64,
    /// Upcoming shows whose list holds the song.
    pub shows: i64,
}

/// Songs with the most votes summed over all shows still open for voting.
pub fn top_songs(conn: &Connection, now: i64, limit: i64) -> Result<Vec<TopSong>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT so.title, a.name, sum(ss.votes + ss.anon_votes) AS total, count(*)
         FROM show_songs ss JOIN shows s ON s.id = ss.show_id JOIN songs so ON so.id = ss.song_id
         JOIN artists a ON a.id = so.artist_id
         WHERE s.starts_at > ?1 AND s.status = 'upcoming'
         GROUP BY ss.song_id HAVING total > 0 ORDER BY total DESC, so.title LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit], |r| {
        Ok(TopSong { title: r.get(0)?, artist: r.get(1)?, votes: r.get(2)?, shows: r.get(3)? })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
