//! Actual setlists: what was played.

use rusqlite::{Connection, params};

use super::DbError;

#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct SetlistEntry {
    pub position: i64,
    pub song_id: Option<i64>,
    pub title: String,
    pub encore: i64,
    pub info: String,
    pub cover_artist: String,
    pub is_tape: bool,
}

pub fn replace(conn: &Connection, show_id: i64, entries: &[SetlistEntry]) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM setlist_entries WHERE show_id = ?1")?.execute([show_id])?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO setlist_entries (show_id, position, song_id, title, encore, info, cover_artist, is_tape)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for e in entries {
        stmt.execute(params![show_id, e.position, e.song_id, e.title, e.encore, e.info, e.cover_artist, e.is_tape])?;
    }
    Ok(())
}

pub fn actual(conn: &Connection, show_id: i64) -> Result<Vec<SetlistEntry>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT position, song_id, title, encore, info, cover_artist, is_tape FROM setlist_entries
         WHERE show_id = ?1 ORDER BY position",
    )?;
    let rows = stmt
        .query_map([show_id], |r| {
            Ok(SetlistEntry {
                position: r.get(0)?,
                song_id: r.get(1)?,
                title: r.get(2)?,
                encore: r.get(3)?,
                info: r.get(4)?,
                cover_artist: r.get(5)?,
                is_tape: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
