//! Small reads the server-rendered pages need: single rows by id, the account summary, admin lists.

use super::{CurrentUser, Domain, DomainError, Role, votes::voting_open};
use crate::db::{self, artists::Artist, shows::Show, songs::Song, stats::Totals, venues::Venue};

/// What the account page shows about the signed-in user.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccountSummary {
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub created_at: i64,
    pub votes: i64,
    pub active_sessions: i64,
    pub follows: Vec<Artist>,
    /// When the current calendar feed address was made; None without one.
    pub calendar_feed_since: Option<i64>,
    /// The songs the user voted for, newest show first (pages only; the export has the raw votes).
    #[serde(skip)]
    pub picks: Vec<db::votes::Pick>,
}

impl Domain {
    /// Whether fans can still vote on the show (it is upcoming and has not started).
    pub fn is_voting_open(&self, show: &Show) -> bool {
        voting_open(show, self.now())
    }

    pub async fn artist_by_id(&self, id: i64) -> Result<Artist, DomainError> {
        self.db.read(move |c| db::artists::by_id(c, id)).await?.ok_or(DomainError::NotFound("artist"))
    }

    pub async fn venue_by_id(&self, id: i64) -> Result<Venue, DomainError> {
        self.db.read(move |c| db::venues::by_id(c, id)).await?.ok_or(DomainError::NotFound("venue"))
    }

    pub async fn song_by_id(&self, id: i64) -> Result<Song, DomainError> {
        self.db.read(move |c| db::songs::by_id(c, id)).await?.ok_or(DomainError::NotFound("song"))
    }

    pub async fn account(&self, user: &CurrentUser) -> Result<AccountSummary, DomainError> {
        let id = user.id;
        self.db
            .read(move |c| -> Result<AccountSummary, DomainError> {
                let u = db::users::by_id(c, id)?.ok_or(DomainError::NotFound("user"))?;
                Ok(AccountSummary {
                    email: u.email,
                    display_name: u.display_name,
                    role: u.role,
                    created_at: u.created_at,
                    votes: db::votes::count_by_user(c, id)?,
                    active_sessions: db::sessions::count_for_user(c, id)?,
                    follows: db::artists::followed_by(c, id)?,
                    calendar_feed_since: db::calendar_feeds::created_at(c, id)?,
                    picks: db::votes::picks_by_user(c, id)?,
                })
            })
            .await
    }

    /// Counts for the admin overview (moderator or admin).
    pub async fn totals(&self, actor: &CurrentUser) -> Result<Totals, DomainError> {
        actor.require(Role::Moderator)?;
        self.db.read(db::stats::totals).await.map_err(DomainError::from)
    }

    /// What the admin dashboard lists as needing doing: shows that ended (started more than
    /// [`SHOW_LENGTH_SECS`] ago) without an actual setlist, the most recent first (at most
    /// `limit`), and how many there are in all.
    pub async fn shows_missing_setlists(
        &self,
        actor: &CurrentUser,
        limit: i64,
    ) -> Result<(Vec<Show>, i64), DomainError> {
        actor.require(Role::Moderator)?;
        let ended_before = self.now() - SHOW_LENGTH_SECS;
        self.db.read(move |c| db::shows::ended_without_setlist(c, ended_before, limit)).await.map_err(DomainError::from)
    }

    /// Every show, newest start first (moderator or admin).
    pub async fn all_shows(&self, actor: &CurrentUser, limit: i64, offset: i64) -> Result<Vec<Show>, DomainError> {
        actor.require(Role::Moderator)?;
        self.db.read(move |c| db::shows::list(c, limit.clamp(1, 500), offset.max(0))).await.map_err(DomainError::from)
    }
}

/// How long after its start a show counts as over (for "ended without a setlist").
pub const SHOW_LENGTH_SECS: i64 = 4 * 3600;
