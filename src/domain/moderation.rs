//! Moderation reports: fans flag content, moderators resolve.

use serde_json::json;

use super::{CurrentUser, Domain, DomainError, Role, validate};
use crate::db;

pub use crate::db::reports::Report;

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
        let table = db::reports::target_table(target_type)
            .ok_or_else(|| DomainError::invalid("target_type", "must be artist, venue, show, song or user"))?;
        let id: i64 = target_id.trim().parse().map_err(|_| DomainError::invalid("target_id", "must be a number"))?;
        let reason = validate::text("reason", reason, 1000)?;
        if reason.trim().is_empty() {
            return Err(DomainError::invalid("reason", "must not be empty"));
        }
        self.limits.reports.check(&user.id)?;
        let (uid, kind, now) = (user.id, target_type.to_owned(), self.now());
        self.db
            .write(move |c| -> Result<i64, DomainError> {
                if !db::reports::target_exists(c, table, id)? {
                    return Err(DomainError::NotFound("report target"));
                }
                Ok(db::reports::insert(c, uid, &kind, id, &reason, now)?)
            })
            .await
    }

    pub async fn open_reports(&self, actor: &CurrentUser) -> Result<Vec<Report>, DomainError> {
        actor.require(Role::Moderator)?;
        Ok(self.db.read(db::reports::open).await?)
    }

    pub async fn resolve_report(&self, actor: &CurrentUser, id: i64, dismiss: bool) -> Result<(), DomainError> {
        actor.require(Role::Moderator)?;
        let (aid, now) = (actor.id, self.now());
        let status = if dismiss { "dismissed" } else { "resolved" };
        self.db
            .write(move |c| {
                if !db::reports::close(c, id, status, aid, now)? {
                    return Err(DomainError::NotFound("open report"));
                }
                db::audit::append(
                    c,
                    Some(aid),
                    &format!("report.{status}"),
                    "report",
                    &id.to_string(),
                    &json!({}),
                    now,
                )?;
                Ok(())
            })
            .await
    }
}
