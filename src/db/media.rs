//! Uploaded pictures (migration 0009): immutable rows named by the SHA-256 of their bytes.
//!
//! A name is written once and never changes meaning, so it may be cached forever; a row is deleted
//! only when no artist refers to it any more ([`prune`]).

use rusqlite::{Connection, OptionalExtension, params};

use super::DbError;

/// One stored file.
pub struct Media {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Stores a file unless a file of that name (the same bytes) is there already.
pub fn insert(
    conn: &Connection,
    name: &str,
    content_type: &str,
    (width, height): (u32, u32),
    bytes: &[u8],
    now: i64,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO media (name, content_type, width, height, bytes, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![name, content_type, width, height, bytes, now])?;
    Ok(())
}

pub fn get(conn: &Connection, name: &str) -> Result<Option<Media>, DbError> {
    Ok(conn
        .prepare_cached("SELECT content_type, bytes FROM media WHERE name = ?1")?
        .query_row([name], |r| Ok(Media { content_type: r.get(0)?, bytes: r.get(1)? }))
        .optional()?)
}

/// Deletes the files no artist refers to; returns how many.
pub fn prune(conn: &Connection) -> Result<usize, DbError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM media WHERE name NOT IN
               (SELECT image FROM artists WHERE image IS NOT NULL
                UNION ALL SELECT thumb FROM artists WHERE thumb IS NOT NULL)",
        )?
        .execute([])?)
}
