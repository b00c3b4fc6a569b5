//! Moderation reports: fans flag content, moderators resolve.

use serde_json::json;

use super::{CurrentUser, Domain, DomainError, Role, validate};
use crate::db;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub id: i64,
    pub target_type: String,
    pub target_id: String,
    pub reason: String,
    pub status: String,
    pub created_at: i64,
}

impl Domain {
    /// A signed-in user flags an item for the moderators' queue (`rate_limit.reports_per_hour` per
    /// user). The item must exist.
    pub async fn report(
        &self,
        user: &CurrentUser,
        target_type: &str,
        target_id: &str,
        reason: &str,
    ) -> Result<i64, DomainError> {
        let table = match target_type {
            "artist" => "artists",
            "venue" => "venues",
            "show" => "shows",
            "song" => "songs",
            "user" => "users",
            _ => return Err(DomainError::invalid("target_type", "must be artist, venue, show, song or user")),
        };
        let id: i64 = target_id.trim().parse().map_err(|_| DomainError::invalid("target_id", "must be a number"))?;
        let reason = validate::text("reason", reason, 1000)?;
        if reason.trim().is_empty() {
            return Err(DomainError::invalid("reason", "must not be empty"));
        }
        self.limits.reports.check(&user.id)?;
        let (uid, kind, now) = (user.id, target_type.to_owned(), self.now());
        self.db
            .write(move |c| -> Result<i64, DomainError> {
                let exists: bool = c
                    .prepare_cached(&format!("SELECT count(*) > 0 FROM {table} WHERE id = ?1"))
                    .and_then(|mut s| s.query_row([id], |r| r.get(0)))
                    .map_err(db::DbError::from)?;
                if !exists {
                    return Err(DomainError::NotFound("report target"));
                }
                c.prepare_cached("INSERT INTO reports (reporter_id, target_type, target_id, reason, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
                    .and_then(|mut s| s.execute(rusqlite::params![uid, kind, id.to_string(), reason, now]))
                    .map_err(db::DbError::from)?;
                Ok(c.last_insert_rowid())
            })
            .await
    }

    pub async fn open_reports(&self, actor: &CurrentUser) -> Result<Vec<Report>, DomainError> {
        actor.require(Role::Moderator)?;
        self.db
            .read(|c| -> Result<Vec<Report>, db::DbError> {
                let mut s = c.prepare_cached("SELECT id, target_type, target_id, reason, status, created_at FROM reports WHERE status = 'open' ORDER BY id LIMIT 200")?;
                let rows = s
                    .query_map([], |r| Ok(Report { id: r.get(0)?, target_type: r.get(1)?, target_id: r.get(2)?, reason: r.get(3)?, status: r.get(4)?, created_at: r.get(5)? }))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
            .map_err(DomainError::from)
    }

    pub async fn resolve_report(&self, actor: &CurrentUser, id: i64, dismiss: bool) -> Result<(), DomainError> {
        actor.require(Role::Moderator)?;
        let (aid, now) = (actor.id, self.now());
        let status = if dismiss { "dismissed" } else { "resolved" };
        self.db
            .write(move |c| {
                let n = c
                    .prepare_cached("UPDATE reports SET status = ?2, resolved_by = ?3, resolved_at = ?4 WHERE id = ?1 AND status = 'open'")
                    .and_then(|mut s| s.execute(rusqlite::params![id, status, aid, now]))
                    .map_err(db::DbError::from)?;
                if n == 0 {
                    return Err(DomainError::NotFound("open report"));
                }
                db::audit::append(c, Some(aid), &format!("report.{status}"), "report", &id.to_string(), &json!({}), now)?;
                Ok(())
            })
            .await
    }
}
