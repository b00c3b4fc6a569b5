//! Server-side sessions. Only a hash of the cookie token is stored.

use rusqlite::{Connection, OptionalExtension, params};

use super::DbError;

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub user_id: i64,
    pub csrf_token: String,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

pub fn insert(
    conn: &Connection,
    token_hash: &[u8],
    user_id: i64,
    csrf: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
    )?
    .execute(params![token_hash, user_id, csrf, now, expires_at])?;
    Ok(())
}

pub fn get(conn: &Connection, token_hash: &[u8]) -> Result<Option<SessionRow>, DbError> {
    Ok(conn
        .prepare_cached("SELECT user_id, csrf_token, last_seen_at, expires_at FROM sessions WHERE token_hash = ?1")?
        .query_row([token_hash], |r| {
            Ok(SessionRow { user_id: r.get(0)?, csrf_token: r.get(1)?, last_seen_at: r.get(2)?, expires_at: r.get(3)? })
        })
        .optional()?)
}

pub fn touch(conn: &Connection, token_hash: &[u8], now: i64) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1")?
        .execute(params![token_hash, now])?;
    Ok(())
}

pub fn delete(conn: &Connection, token_hash: &[u8]) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")?.execute([token_hash])?;
    Ok(())
}

pub fn delete_for_user(conn: &Connection, user_id: i64) -> Result<usize, DbError> {
    Ok(conn.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?.execute([user_id])?)
}

/// Every session of the user but one (the one that changed the password stays signed in).
pub fn delete_for_user_except(conn: &Connection, user_id: i64, keep: &[u8]) -> Result<usize, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM sessions WHERE user_id = ?1 AND token_hash != ?2")?
        .execute(params![user_id, keep])?)
}

pub fn count_for_user(conn: &Connection, user_id: i64) -> Result<i64, DbError> {
    Ok(conn.prepare_cached("SELECT count(*) FROM sessions WHERE user_id = ?1")?.query_row([user_id], |r| r.get(0))?)
}

/// Deletes sessions past their absolute expiry or idle since `idle_before`.
pub fn purge(conn: &Connection, now: i64, idle_before: i64) -> Result<usize, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at < ?2")?
        .execute([now, idle_before])?)
}
