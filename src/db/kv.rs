//! Small key/value stores: app settings (server secret) and the TLS store.

use rusqlite::{Connection, OptionalExtension, params};

use super::DbError;

pub fn get_setting(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>, DbError> {
    Ok(conn
        .prepare_cached("SELECT value FROM app_settings WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

pub fn set_setting(conn: &Connection, key: &str, value: &[u8]) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO app_settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
    )?
    .execute(params![key, value])?;
    Ok(())
}

pub fn tls_get(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>, DbError> {
    Ok(conn.prepare_cached("SELECT value FROM tls_store WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional()?)
}

pub fn tls_put(conn: &Connection, key: &str, value: &[u8], now: i64) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO tls_store (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET value = ?2, updated_at = ?3",
    )?
    .execute(params![key, value, now])?;
    Ok(())
}
