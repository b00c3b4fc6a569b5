//! Moderation reports: what fans flagged and how moderators resolved it.

use rusqlite::{Connection, params};

use super::DbError;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub id: i64,
    pub target_type: String,
    pub target_id: String,
    pub reason: String,
    pub status: String,
    pub created_at: i64,
}

/// The tables a report can point into, by the name a reporter uses for the kind of item.
pub fn target_table(target_type: &str) -> Option<&'static str> {
    match target_type {
        "artist" => Some("artists"),
        "venue" => Some("venues"),
        "show" => Some("shows"),
        "song" => Some("songs"),
        "user" => Some("users"),
        _ => None,
    }
}

/// Whether the item a report would point at exists. `table` comes from [`target_table`].
pub fn target_exists(conn: &Connection, table: &'static str, id: i64) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT count(*) > 0 FROM {table} WHERE id = ?1"))?
        .query_row([id], |r| r.get(0))?)
}

pub fn insert(
    conn: &Connection,
    reporter_id: i64,
    target_type: &str,
    target_id: i64,
    reason: &str,
    now: i64,
) -> Result<i64, DbError> {
    conn.prepare_cached(
        "INSERT INTO reports (reporter_id, target_type, target_id, reason, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![reporter_id, target_type, target_id.to_string(), reason, now])?;
    Ok(conn.last_insert_rowid())
}

/// The oldest 200 reports still waiting for a moderator.
pub fn open(conn: &Connection) -> Result<Vec<Report>, DbError> {
    let mut s = conn.prepare_cached(
        "SELECT id, target_type, target_id, reason, status, created_at FROM reports WHERE status = 'open' ORDER BY id LIMIT 200",
    )?;
    let rows = s
        .query_map([], |r| {
            Ok(Report {
                id: r.get(0)?,
                target_type: r.get(1)?,
                target_id: r.get(2)?,
                reason: r.get(3)?,
                status: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Closes an open report with `status`; false when no open report has that id.
pub fn close(conn: &Connection, id: i64, status: &str, resolved_by: i64, now: i64) -> Result<bool, DbError> {
    let n = conn
        .prepare_cached(
            "UPDATE reports SET status = ?2, resolved_by = ?3, resolved_at = ?4 WHERE id = ?1 AND status = 'open'",
        )?
        .execute(params![id, status, resolved_by, now])?;
    Ok(n > 0)
}
