//! Shows, always read joined with their artist and venue (one query, no N+1).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::DbError;
pub(crate) use super::show_status::ShowStatus;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Show {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub starts_at: i64,
    pub status: ShowStatus,
    pub artist_id: i64,
    pub artist_name: String,
    pub artist_slug: String,
    pub venue_id: i64,
    pub venue_name: String,
    pub venue_slug: String,
    pub venue_city: String,
    pub venue_country: String,
    pub venue_timezone: String,
    pub setlistfm_url: Option<String>,
    pub accuracy: Option<f64>,
    pub vote_total: i64,
    pub trend_score: f64,
    pub trend_at: i64,
    /// Where to buy tickets (http or https, checked by the domain).
    pub ticket_url: Option<String>,
    /// The artist's picture (whatever the catalog stored; pages use it only as an absolute https URL).
    pub artist_image_url: Option<String>,
    /// The artist's uploaded thumbnail (160 px) and picture (480 px): names under `/media/`.
    pub artist_thumb: Option<String>,
    pub artist_image: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewShow {
    pub artist_id: i64,
    pub venue_id: i64,
    pub slug: String,
    pub title: String,
    pub starts_at: i64,
    pub status: ShowStatus,
    pub setlistfm_id: Option<String>,
    pub setlistfm_url: Option<String>,
    pub ticket_url: Option<String>,
}

const SELECT: &str = "SELECT s.id, s.slug, s.title, s.starts_at, s.status, a.id, a.name, a.slug, v.id, v.name, v.slug,
    v.city, v.country, v.timezone, s.setlistfm_url, s.accuracy, s.vote_total, s.trend_score, s.trend_at,
    s.ticket_url, a.image_url, a.thumb, a.image
    FROM shows s JOIN artists a ON a.id = s.artist_id JOIN venues v ON v.id = s.venue_id";

fn from_row(r: &Row) -> rusqlite::Result<Show> {
    Ok(Show {
        id: r.get(0)?,
        slug: r.get(1)?,
        title: r.get(2)?,
        starts_at: r.get(3)?,
        status: r.get(4)?,
        artist_id: r.get(5)?,
        artist_name: r.get(6)?,
        artist_slug: r.get(7)?,
        venue_id: r.get(8)?,
        venue_name: r.get(9)?,
        venue_slug: r.get(10)?,
        venue_city: r.get(11)?,
        venue_country: r.get(12)?,
        venue_timezone: r.get(13)?,
        setlistfm_url: r.get(14)?,
        accuracy: r.get(15)?,
        vote_total: r.get(16)?,
        trend_score: r.get(17)?,
        trend_at: r.get(18)?,
        ticket_url: r.get(19)?,
        artist_image_url: r.get(20)?,
        artist_thumb: r.get(21)?,
        artist_image: r.get(22)?,
    })
}

fn query(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Show>, DbError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn insert(conn: &Connection, s: &NewShow, now: i64) -> Result<i64, DbError> {
    conn.prepare_cached(
        "INSERT INTO shows (artist_id, venue_id, slug, title, starts_at, status, setlistfm_id, setlistfm_url,
         created_at, updated_at, ticket_url) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)",
    )?
    .execute(params![
        s.artist_id,
        s.venue_id,
        s.slug,
        s.title,
        s.starts_at,
        s.status,
        s.setlistfm_id,
        s.setlistfm_url,
        now,
        s.ticket_url
    ])?;
    Ok(conn.last_insert_rowid())
}

pub fn update(conn: &Connection, id: i64, s: &NewShow, now: i64) -> Result<bool, DbError> {
    let n = conn
        .prepare_cached(
            "UPDATE shows SET artist_id = ?2, venue_id = ?3, slug = ?4, title = ?5, starts_at = ?6, status = ?7,
             updated_at = ?8, ticket_url = ?9 WHERE id = ?1",
        )?
        .execute(params![id, s.artist_id, s.venue_id, s.slug, s.title, s.starts_at, s.status, now, s.ticket_url])?;
    Ok(n == 1)
}

pub fn delete(conn: &Connection, id: i64) -> Result<bool, DbError> {
    Ok(conn.prepare_cached("DELETE FROM shows WHERE id = ?1")?.execute([id])? == 1)
}

pub fn set_status(conn: &Connection, id: i64, status: ShowStatus, now: i64) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE shows SET status = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, status, now])?;
    Ok(())
}

pub fn set_accuracy(conn: &Connection, id: i64, accuracy: Option<f64>) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE shows SET accuracy = ?2 WHERE id = ?1")?.execute(params![id, accuracy])?;
    Ok(())
}

pub fn set_trend(conn: &Connection, id: i64, score: f64, at: i64, vote_delta: i64) -> Result<(), DbError> {
    conn.prepare_cached(
        "UPDATE shows SET trend_score = ?2, trend_at = ?3, vote_total = vote_total + ?4 WHERE id = ?1",
    )?
    .execute(params![id, score, at, vote_delta])?;
    Ok(())
}

/// What a vote needs to know about its show: one row of one table (no joins, no names).
#[derive(Debug, Clone)]
pub struct VotingState {
    pub status: ShowStatus,
    pub starts_at: i64,
    pub trend_score: f64,
    pub trend_at: i64,
}

pub fn voting_state(conn: &Connection, id: i64) -> Result<Option<VotingState>, DbError> {
    Ok(conn
        .prepare_cached("SELECT status, starts_at, trend_score, trend_at FROM shows WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(VotingState { status: r.get(0)?, starts_at: r.get(1)?, trend_score: r.get(2)?, trend_at: r.get(3)? })
        })
        .optional()?)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<Show>, DbError> {
    Ok(conn.prepare_cached(&format!("{SELECT} WHERE s.id = ?1"))?.query_row([id], from_row).optional()?)
}

pub fn by_slug(conn: &Connection, slug: &str) -> Result<Option<Show>, DbError> {
    Ok(conn.prepare_cached(&format!("{SELECT} WHERE s.slug = ?1"))?.query_row([slug], from_row).optional()?)
}

pub fn by_setlistfm_id(conn: &Connection, id: &str) -> Result<Option<Show>, DbError> {
    Ok(conn.prepare_cached(&format!("{SELECT} WHERE s.setlistfm_id = ?1"))?.query_row([id], from_row).optional()?)
}

/// Shows of the artists a user follows starting at or after `from`, soonest first.
pub fn followed_from(conn: &Connection, user_id: i64, from: i64, limit: i64) -> Result<Vec<Show>, DbError> {
    query(
        conn,
        &format!(
            "{SELECT} JOIN follows f ON f.artist_id = s.artist_id WHERE f.user_id = ?1 AND s.starts_at >= ?2
             ORDER BY s.starts_at LIMIT ?3"
        ),
        params![user_id, from, limit],
    )
}

/// All shows, newest start first (admin lists).
pub fn list(conn: &Connection, limit: i64, offset: i64) -> Result<Vec<Show>, DbError> {
    query(conn, &format!("{SELECT} ORDER BY s.starts_at DESC LIMIT ?1 OFFSET ?2"), params![limit, offset])
}

pub fn upcoming(conn: &Connection, now: i64, limit: i64) -> Result<Vec<Show>, DbError> {
    query(
        conn,
        &format!(
            "{SELECT} WHERE s.starts_at > ?1 AND s.status IN ('upcoming', 'locked') ORDER BY s.starts_at LIMIT ?2"
        ),
        params![now, limit],
    )
}

/// Upcoming shows matching `condition` (SQL over `s`, `a`, `v`; its parameters start at ?3, after
/// `now` and `limit`), soonest first.
pub(super) fn upcoming_where(
    conn: &Connection,
    condition: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Show>, DbError> {
    query(
        conn,
        &format!(
            "{SELECT} WHERE s.starts_at > ?1 AND s.status IN ('upcoming', 'locked') AND {condition} \
             ORDER BY s.starts_at LIMIT ?2"
        ),
        params,
    )
}

/// Upcoming shows of the artists a user follows, soonest first.
pub fn upcoming_followed_by(conn: &Connection, user_id: i64, now: i64, limit: i64) -> Result<Vec<Show>, DbError> {
    upcoming_where(
        conn,
        "s.artist_id IN (SELECT artist_id FROM follows WHERE user_id = ?3)",
        params![now, limit, user_id],
    )
}

/// Shows a user voted on, upcoming first (soonest first), then past ones (latest first).
pub fn voted_on_by(conn: &Connection, user_id: i64, now: i64, limit: i64) -> Result<Vec<Show>, DbError> {
    query(
        conn,
        &format!(
            "{SELECT} WHERE s.id IN (SELECT DISTINCT show_id FROM votes WHERE user_id = ?1) \
             ORDER BY s.starts_at <= ?2, abs(s.starts_at - ?2) LIMIT ?3"
        ),
        params![user_id, now, limit],
    )
}

/// Shows that started before `ended_before` (so are over), were not cancelled, and have no actual
/// setlist yet: most recent first, with how many there are in all.
pub fn ended_without_setlist(conn: &Connection, ended_before: i64, limit: i64) -> Result<(Vec<Show>, i64), DbError> {
    const WITHOUT: &str = "s.starts_at < ?1 AND s.status != 'cancelled' \
        AND NOT EXISTS (SELECT 1 FROM setlist_entries e WHERE e.show_id = s.id)";
    let shows = query(
        conn,
        &format!("{SELECT} WHERE {WITHOUT} ORDER BY s.starts_at DESC LIMIT ?2"),
        params![ended_before, limit],
    )?;
    let total = conn
        .prepare_cached(&format!("SELECT count(*) FROM shows s WHERE {WITHOUT}"))?
        .query_row([ended_before], |r| r.get(0))?;
    Ok((shows, total))
}

pub fn recent_past(conn: &Connection, now: i64, limit: i64) -> Result<Vec<Show>, DbError> {
    query(
        conn,
        &format!("{SELECT} WHERE s.starts_at <= ?1 AND s.status != 'cancelled' ORDER BY s.starts_at DESC LIMIT ?2"),
        params![now, limit],
    )
}

pub fn by_artist_upcoming(conn: &Connection, artist_id: i64, now: i64) -> Result<Vec<Show>, DbError> {
    query(
        conn,
        &format!("{SELECT} WHERE s.artist_id = ?1 AND s.starts_at > ?2 ORDER BY s.starts_at"),
        params![artist_id, now],
    )
}

pub fn by_artist_past(conn: &Connection, artist_id: i64, now: i64, limit: i64) -> Result<Vec<Show>, DbError> {
    query(
        conn,
        &format!("{SELECT} WHERE s.artist_id = ?1 AND s.starts_at <= ?2 ORDER BY s.starts_at DESC LIMIT ?3"),
        params![artist_id, now, limit],
    )
}

pub fn by_venue(conn: &Connection, venue_id: i64, limit: i64) -> Result<Vec<Show>, DbError> {
    query(conn, &format!("{SELECT} WHERE s.venue_id = ?1 ORDER BY s.starts_at DESC LIMIT ?2"), params![venue_id, limit])
}

/// Upcoming shows with any trend activity: trending is ranked in Rust from these (few rows).
pub fn trend_candidates(conn: &Connection, now: i64, limit: i64) -> Result<Vec<Show>, DbError> {
    query(
        conn,
        &format!(
            "{SELECT} WHERE s.starts_at > ?1 AND s.status = 'upcoming' ORDER BY s.trend_score DESC, s.starts_at
             LIMIT ?2"
        ),
        params![now, limit],
    )
}

pub fn slug_exists(conn: &Connection, slug: &str) -> Result<bool, DbError> {
    Ok(conn.prepare_cached("SELECT 1 FROM shows WHERE slug = ?1")?.exists([slug])?)
}

/// Show on the same (UTC) date for an artist: import matching by artist + date.
pub fn by_artist_on_day(conn: &Connection, artist_id: i64, day_start: i64) -> Result<Option<Show>, DbError> {
    Ok(conn
        .prepare_cached(&format!(
            "{SELECT} WHERE s.artist_id = ?1 AND s.starts_at >= ?2 - 43200 AND s.starts_at < ?2 + 86400 + 43200
             ORDER BY abs(s.starts_at - (?2 + 72000)) LIMIT 1"
        ))?
        .query_row(params![artist_id, day_start], from_row)
        .optional()?)
}
