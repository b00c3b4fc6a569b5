//! The rules behind the scheduler's database jobs: show lifecycle and data retention. Each is one
//! write transaction and safe to run at any time, any number of times.

use super::{Domain, DomainError, SHOW_OVER_AFTER};
use crate::db;

/// What a retention run deleted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purged {
    pub sessions: usize,
    /// Password reset links past their expiry.
    pub reset_links: usize,
    pub ip_hashes: usize,
    pub audit_entries: usize,
}

impl Domain {
    /// upcoming -> locked once a show has started. Voting is already refused at write time (the vote
    /// transaction compares the clock with `starts_at`); this makes the status, and the pages, say so.
    pub async fn lock_started_shows(&self) -> Result<usize, DomainError> {
        let now = self.now();
        let ids = self.db.write(move |c| db::show_lifecycle::lock_started(c, now)).await?;
        for id in &ids {
            self.ranking_changed(*id); // cached pages of the show drop their vote buttons
        }
        Ok(ids.len())
    }

    /// locked -> completed once a show is over (SHOW_OVER_AFTER after its start). A show with an actual
    /// setlist is completed when the setlist is stored.
    pub async fn complete_finished_shows(&self) -> Result<usize, DomainError> {
        let now = self.now();
        let ids = self.db.write(move |c| db::show_lifecycle::complete_finished(c, now - SHOW_OVER_AFTER, now)).await?;
        for id in &ids {
            self.ranking_changed(*id);
        }
        Ok(ids.len())
    }

    /// Data retention per `[retention]`: sessions that expired or sat idle (beyond the shorter of
    /// `sessions.idle_timeout` and `retention.sessions`; such a session no longer signs anyone in),
    /// network hashes of votes older than `retention.ip_data`, audit entries older than
    /// `retention.audit_log`.
    pub async fn purge_expired_data(&self) -> Result<Purged, DomainError> {
        let s = &self.config.settings;
        let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2);
        let idle = secs(s.sessions.idle_timeout.min(s.retention.sessions));
        let ip = secs(s.retention.ip_data);
        let audit = secs(s.retention.audit_log);
        let now = self.now();
        self.db
            .write(move |c| {
                Ok(Purged {
                    sessions: db::sessions::purge(c, now, now.saturating_sub(idle))?,
                    reset_links: db::password_resets::purge(c, now)?,
                    ip_hashes: db::votes::purge_ip_hashes(c, now.saturating_sub(ip))?,
                    audit_entries: db::audit::purge_before(c, now.saturating_sub(audit))?,
                })
            })
            .await
    }
}
