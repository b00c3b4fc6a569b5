//! The audit log: append-only (a trigger refuses updates).

use rusqlite::{Connection, params};

use super::DbError;

#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub details: String,
}

pub fn append(
    conn: &Connection,
    actor_id: Option<i64>,
    action: &str,
    target_type: &str,
    target_id: &str,
    details: &serde_json::Value,
    now: i64,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO audit_log (at, actor_id, action, target_type, target_id, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![now, actor_id, action, target_type, target_id, details.to_string()])?;
    Ok(())
}

pub fn recent(conn: &Connection, limit: i64) -> Result<Vec<AuditEntry>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.id, l.at, l.actor_id, u.email, l.action, l.target_type, l.target_id, l.details
         FROM audit_log l LEFT JOIN users u ON u.id = l.actor_id ORDER BY l.id DESC LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([limit], |r| {
            Ok(AuditEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                actor_id: r.get(2)?,
                actor_email: r.get(3)?,
                action: r.get(4)?,
                target_type: r.get(5)?,
                target_id: r.get(6)?,
                details: r.get(7)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn purge_before(conn: &Connection, before: i64) -> Result<usize, DbError> {
    Ok(conn.prepare_cached("DELETE FROM audit_log WHERE at < ?1")?.execute([before])?)
}
