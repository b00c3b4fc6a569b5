//! Follow-email preferences and the record of what was sent (see migration 0008).

use rusqlite::{Connection, OptionalExtension, params};

use super::DbError;

/// Which follow emails a user opted in to (all off without a row).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EmailPrefs {
    pub new_show: bool,
    pub voting_closes: bool,
    pub setlist_in: bool,
}

pub fn prefs(conn: &Connection, user_id: i64) -> Result<EmailPrefs, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT new_show_at IS NOT NULL, voting_closes_at IS NOT NULL, setlist_in_at IS NOT NULL
             FROM email_prefs WHERE user_id = ?1",
        )?
        .query_row([user_id], |r| {
            Ok(EmailPrefs { new_show: r.get(0)?, voting_closes: r.get(1)?, setlist_in: r.get(2)? })
        })
        .optional()?
        .unwrap_or_default())
}

/// Sets the preferences; a kind that stays on keeps the time it was turned on.
pub fn set_prefs(conn: &Connection, user_id: i64, p: EmailPrefs, now: i64) -> Result<(), DbError> {
    if p == EmailPrefs::default() {
        conn.prepare_cached("DELETE FROM email_prefs WHERE user_id = ?1")?.execute([user_id])?;
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO email_prefs (user_id, new_show_at, voting_closes_at, setlist_in_at, updated_at)
         VALUES (?1, CASE WHEN ?2 THEN ?5 END, CASE WHEN ?3 THEN ?5 END, CASE WHEN ?4 THEN ?5 END, ?5)
         ON CONFLICT (user_id) DO UPDATE SET
             new_show_at = CASE WHEN ?2 THEN coalesce(new_show_at, ?5) END,
             voting_closes_at = CASE WHEN ?3 THEN coalesce(voting_closes_at, ?5) END,
             setlist_in_at = CASE WHEN ?4 THEN coalesce(setlist_in_at, ?5) END,
             updated_at = ?5",
    )?
    .execute(params![user_id, p.new_show, p.voting_closes, p.setlist_in, now])?;
    Ok(())
}

/// The follow emails sent to a user (for the data export): (show, kind, when).
pub fn sent_to(conn: &Connection, user_id: i64) -> Result<Vec<(i64, String, i64)>, DbError> {
    let mut stmt =
        conn.prepare_cached("SELECT show_id, kind, sent_at FROM emails_sent WHERE user_id = ?1 ORDER BY sent_at")?;
    let rows = stmt.query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The user an unsubscribe token (its hash) belongs to.
pub fn user_of_unsubscribe(conn: &Connection, token_hash: &[u8]) -> Result<Option<i64>, DbError> {
    Ok(conn
        .prepare_cached("SELECT user_id FROM emails_sent WHERE unsubscribe_hash = ?1")?
        .query_row([token_hash], |r| r.get(0))
        .optional()?)
}

/// A follow email that is due: who, about which show, which kind.
#[derive(Debug, Clone)]
pub struct DueEmail {
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    pub show_id: i64,
    pub kind: String,
    pub artist: String,
    pub venue: String,
    pub city: String,
    pub timezone: String,
    pub starts_at: i64,
    pub slug: String,
}

/// Follow emails due at `now` that were not sent yet, at most `limit`. A new show: upcoming, added
/// after both the follow and the opt-in. Voting closes: upcoming and starting within `closing`.
/// Setlist in: the show has an actual setlist and started at most two days before the follow or the
/// opt-in (so opting in does not bring emails about old shows).
pub fn due(conn: &Connection, now: i64, closing: i64, limit: i64) -> Result<Vec<DueEmail>, DbError> {
    let sql = "
        WITH candidates AS (
            SELECT p.user_id, s.id AS show_id, 'new_show' AS kind
            FROM email_prefs p JOIN follows f ON f.user_id = p.user_id JOIN shows s ON s.artist_id = f.artist_id
            WHERE p.new_show_at IS NOT NULL AND s.status = 'upcoming' AND s.starts_at > ?1
              AND s.created_at >= max(p.new_show_at, f.created_at)
            UNION ALL
            SELECT p.user_id, s.id, 'voting_closes'
            FROM email_prefs p JOIN follows f ON f.user_id = p.user_id JOIN shows s ON s.artist_id = f.artist_id
            WHERE p.voting_closes_at IS NOT NULL AND s.status = 'upcoming' AND s.starts_at > ?1
              AND s.starts_at <= ?1 + ?2
            UNION ALL
            SELECT p.user_id, s.id, 'setlist_in'
            FROM email_prefs p JOIN follows f ON f.user_id = p.user_id JOIN shows s ON s.artist_id = f.artist_id
            WHERE p.setlist_in_at IS NOT NULL AND s.status <> 'cancelled'
              AND s.starts_at >= max(p.setlist_in_at, f.created_at) - 2 * 86400
              AND EXISTS (SELECT 1 FROM setlist_entries e WHERE e.show_id = s.id)
        )
        SELECT u.id, u.email, u.display_name, s.id, c.kind, a.name, v.name, v.city, v.timezone, s.starts_at, s.slug
        FROM candidates c
        JOIN users u ON u.id = c.user_id AND u.deleted_at IS NULL AND u.banned_at IS NULL
        JOIN shows s ON s.id = c.show_id
        JOIN artists a ON a.id = s.artist_id
        JOIN venues v ON v.id = s.venue_id
        WHERE NOT EXISTS (
            SELECT 1 FROM emails_sent e WHERE e.user_id = c.user_id AND e.show_id = c.show_id AND e.kind = c.kind
        )
        ORDER BY s.starts_at, u.id
        LIMIT ?3";
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![now, closing, limit], |r| {
        Ok(DueEmail {
            user_id: r.get(0)?,
            email: r.get(1)?,
            display_name: r.get(2)?,
            show_id: r.get(3)?,
            kind: r.get(4)?,
            artist: r.get(5)?,
            venue: r.get(6)?,
            city: r.get(7)?,
            timezone: r.get(8)?,
            starts_at: r.get(9)?,
            slug: r.get(10)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records an email before it is sent; false when it was already recorded (sent, or being sent).
pub fn claim(
    conn: &Connection,
    user_id: i64,
    show_id: i64,
    kind: &str,
    now: i64,
    unsubscribe_hash: &[u8],
) -> Result<bool, DbError> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO emails_sent (user_id, show_id, kind, sent_at, unsubscribe_hash)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![user_id, show_id, kind, now, unsubscribe_hash])?;
    Ok(n == 1)
}

/// Forgets a claim whose message could not be sent, so the next run tries again.
pub fn unclaim(conn: &Connection, user_id: i64, show_id: i64, kind: &str) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM emails_sent WHERE user_id = ?1 AND show_id = ?2 AND kind = ?3")?
        .execute(params![user_id, show_id, kind])?;
    Ok(())
}
