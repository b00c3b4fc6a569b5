//! What the admin status pages show from the database: voting activity, upcoming shows, top songs,
//! and the scheduler's last job runs. Admin only.

use super::{CurrentUser, Domain, DomainError, Role};
use crate::db;

pub use db::insights::{ShowActivity, TopSong};
pub use db::jobs::JobRun;

/// The executive view's numbers, read in one go.
#[derive(Debug, Clone)]
pub struct VotingActivity {
    pub votes_last_hour: i64,
    pub votes_last_day: i64,
    pub voters_last_day: i64,
    pub voters_last_week: i64,
    /// Standing votes per hour for the last 24 hours: (hour start, votes), oldest first, zero-filled.
    pub per_hour: Vec<(i64, i64)>,
    /// Standing votes per day for the last 14 days (UTC days), zero-filled.
    pub per_day: Vec<(i64, i64)>,
    pub upcoming: Vec<ShowActivity>,
    pub top_songs: Vec<TopSong>,
    pub totals: db::stats::Totals,
}

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// Fills the buckets between `first` and `last` (inclusive) that had no row with zero.
fn zero_filled(rows: &[(i64, i64)], first: i64, last: i64, step: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut at = first;
    while at <= last {
        out.push((at, rows.iter().find(|(b, _)| *b == at).map(|(_, n)| *n).unwrap_or(0)));
        at += step;
    }
    out
}

impl Domain {
    pub async fn voting_activity(&self, actor: &CurrentUser) -> Result<VotingActivity, DomainError> {
        actor.require(Role::Admin)?;
        let now = self.now();
        self.db
            .read(move |c| {
                let (votes_last_hour, _) = db::insights::activity_since(c, now - HOUR)?;
                let (votes_last_day, voters_last_day) = db::insights::activity_since(c, now - DAY)?;
                let (_, voters_last_week) = db::insights::activity_since(c, now - 7 * DAY)?;
                let this_hour = now / HOUR * HOUR;
                let hours = db::insights::votes_per_bucket(c, this_hour - 23 * HOUR, HOUR)?;
                let today = now / DAY * DAY;
                let days = db::insights::votes_per_bucket(c, today - 13 * DAY, DAY)?;
                Ok(VotingActivity {
                    votes_last_hour,
                    votes_last_day,
                    voters_last_day,
                    voters_last_week,
                    per_hour: zero_filled(&hours, this_hour - 23 * HOUR, this_hour, HOUR),
                    per_day: zero_filled(&days, today - 13 * DAY, today, DAY),
                    upcoming: db::insights::upcoming_activity(c, now, now - DAY, 10)?,
                    top_songs: db::insights::top_songs(c, now, 10)?,
                    totals: db::stats::totals(c)?,
                })
            })
            .await
            .map_err(|e: db::DbError| DomainError::from(e))
    }

    /// The last run of each scheduled job (table job_runs).
    pub async fn job_runs(&self, actor: &CurrentUser) -> Result<Vec<JobRun>, DomainError> {
        actor.require(Role::Admin)?;
        self.db.read(db::jobs::all).await.map_err(DomainError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::zero_filled;

    #[test]
    fn fills_gaps_with_zero() {
        assert_eq!(zero_filled(&[(20, 3)], 0, 30, 10), vec![(0, 0), (10, 0), (20, 3), (30, 0)]);
    }
}
