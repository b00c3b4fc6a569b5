//! Secret calendar feed addresses, one per user (the token's SHA-256 only; see migration 0007).

use rusqlite::{Connection, OptionalExtension, params};

use super::DbError;

/// The user's feed is now the one with this hash: an older one stops working.
pub fn replace(conn: &Connection, token_hash: &[u8], user_id: i64, now: i64) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM calendar_feeds WHERE user_id = ?1")?.execute([user_id])?;
    conn.prepare_cached("INSERT INTO calendar_feeds (token_hash, user_id, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![token_hash, user_id, now])?;
    Ok(())
}

/// The owner of a feed, if the account is neither erased nor banned.
pub fn user_of(conn: &Connection, token_hash: &[u8]) -> Result<Option<i64>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT f.user_id FROM calendar_feeds f JOIN users u ON u.id = f.user_id
             WHERE f.token_hash = ?1 AND u.deleted_at IS NULL AND u.banned_at IS NULL",
        )?
        .query_row([token_hash], |r| r.get(0))
        .optional()?)
}

/// When the user's current feed address was made; None without one.
pub fn created_at(conn: &Connection, user_id: i64) -> Result<Option<i64>, DbError> {
    Ok(conn
        .prepare_cached("SELECT created_at FROM calendar_feeds WHERE user_id = ?1")?
        .query_row([user_id], |r| r.get(0))
        .optional()?)
}
