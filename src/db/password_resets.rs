//! One-time password reset links (the token's SHA-256 only; see migration 0006).

use rusqlite::{Connection, OptionalExtension, params};

use super::DbError;

pub fn insert(
    conn: &Connection,
    token_hash: &[u8],
    user_id: i64,
    created_by: Option<i64>,
    now: i64,
    expires_at: i64,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO password_resets (token_hash, user_id, created_by, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![token_hash, user_id, created_by, now, expires_at])?;
    Ok(())
}

/// The user a link that has not expired at `now` resets.
pub fn user_of(conn: &Connection, token_hash: &[u8], now: i64) -> Result<Option<i64>, DbError> {
    Ok(conn
        .prepare_cached("SELECT user_id FROM password_resets WHERE token_hash = ?1 AND expires_at > ?2")?
        .query_row(params![token_hash, now], |r| r.get(0))
        .optional()?)
}

/// Every link of the user: once one is used (or the password changed otherwise), none is valid.
pub fn delete_for_user(conn: &Connection, user_id: i64) -> Result<usize, DbError> {
    Ok(conn.prepare_cached("DELETE FROM password_resets WHERE user_id = ?1")?.execute([user_id])?)
}

/// Removes expired links (housekeeping).
pub fn purge(conn: &Connection, now: i64) -> Result<usize, DbError> {
    Ok(conn.prepare_cached("DELETE FROM password_resets WHERE expires_at <= ?1")?.execute([now])?)
}
