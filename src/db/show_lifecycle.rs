//! Queries that move shows through their lifecycle (upcoming -> locked -> completed) and link them to
//! setlist.fm; used by the scheduler and the imports.

use rusqlite::{Connection, OptionalExtension, params};

use super::DbError;

/// Locks every upcoming show whose start has passed; returns their ids.
pub fn lock_started(conn: &Connection, now: i64) -> Result<Vec<i64>, DbError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE shows SET status = 'locked', updated_at = ?1 WHERE status = 'upcoming' AND starts_at <= ?1
         RETURNING id",
    )?;
    let ids = stmt.query_map([now], |r| r.get(0))?.collect::<Result<Vec<i64>, _>>()?;
    Ok(ids)
}

/// Completes every locked show that started before `started_before` (it is over); returns their ids.
pub fn complete_finished(conn: &Connection, started_before: i64, now: i64) -> Result<Vec<i64>, DbError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE shows SET status = 'completed', updated_at = ?2 WHERE status = 'locked' AND starts_at <= ?1
         RETURNING id",
    )?;
    let ids = stmt.query_map(params![started_before, now], |r| r.get(0))?.collect::<Result<Vec<i64>, _>>()?;
    Ok(ids)
}

/// The setlist.fm id a show is linked to.
pub fn setlistfm_id(conn: &Connection, show_id: i64) -> Result<Option<String>, DbError> {
    Ok(conn
        .prepare_cached("SELECT setlistfm_id FROM shows WHERE id = ?1")?
        .query_row([show_id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

/// A finished show without an actual setlist whose artist has a MusicBrainz id.
#[derive(Debug, Clone)]
pub struct AwaitingSetlist {
    pub show_id: i64,
    pub starts_at: i64,
    pub artist_mbid: String,
    pub venue_name: String,
    pub venue_timezone: String,
}

/// Shows that started within [`since`, `finished_before`], are not cancelled, have no actual setlist,
/// whose artist has an mbid, and were not looked up since `retry_before`. Oldest lookups first.
pub fn awaiting_setlist(
    conn: &Connection,
    since: i64,
    finished_before: i64,
    retry_before: i64,
    limit: i64,
) -> Result<Vec<AwaitingSetlist>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.id, s.starts_at, a.mbid, v.name, v.timezone FROM shows s
         JOIN artists a ON a.id = s.artist_id JOIN venues v ON v.id = s.venue_id
         LEFT JOIN setlist_fetches f ON f.show_id = s.id
         WHERE s.starts_at >= ?1 AND s.starts_at <= ?2 AND s.status != 'cancelled' AND a.mbid IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM setlist_entries e WHERE e.show_id = s.id)
           AND (f.show_id IS NULL OR f.last_attempt_at < ?3)
         ORDER BY coalesce(f.last_attempt_at, 0), s.starts_at LIMIT ?4",
    )?;
    let rows = stmt
        .query_map(params![since, finished_before, retry_before, limit], |r| {
            Ok(AwaitingSetlist {
                show_id: r.get(0)?,
                starts_at: r.get(1)?,
                artist_mbid: r.get(2)?,
                venue_name: r.get(3)?,
                venue_timezone: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Links a show to a setlist.fm setlist (the URL is kept when `url` is None).
pub fn link_setlistfm(
    conn: &Connection,
    show_id: i64,
    setlistfm_id: &str,
    url: Option<&str>,
    now: i64,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "UPDATE shows SET setlistfm_id = ?2, setlistfm_url = coalesce(?3, setlistfm_url), updated_at = ?4 WHERE id = ?1",
    )?
    .execute(params![show_id, setlistfm_id, url, now])?;
    Ok(())
}
