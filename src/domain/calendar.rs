//! Calendar feeds: the shows of every artist a user follows, at a secret address a calendar app can
//! subscribe to without cookies. The address holds a token from [`super::tokens`]: only its hash is
//! stored, so the address is shown once, when it is made; making a new one ends the old one, and
//! erasure (`db::users::erase`) deletes it. A banned or erased account's feed answers like an
//! unknown one.

use super::tokens::{random_token, token_hash};
use super::{CurrentUser, Domain, DomainError};
use crate::db::{self, shows::Show};

/// Past shows stay in a feed this long (a calendar keeps what it has seen; this shows recent ones).
pub const FEED_PAST_SECS: i64 = 30 * 86_400;
/// At most this many shows per feed, soonest first.
const FEED_MAX_SHOWS: i64 = 500;

impl Domain {
    /// A new feed token for the user, replacing the old one. Shown once: only its hash is stored.
    pub async fn new_calendar_feed(&self, user: &CurrentUser) -> Result<String, DomainError> {
        let token = random_token();
        let (hash, id, now) = (token_hash(&token), user.id, self.now());
        self.db.write(move |c| db::calendar_feeds::replace(c, &hash, id, now)).await?;
        Ok(token)
    }

    /// The shows in a feed: of every artist the owner follows, from 30 days ago on.
    /// An unknown token is NotFound.
    pub async fn calendar_feed_shows(&self, token: &str) -> Result<Vec<Show>, DomainError> {
        let (hash, from) = (token_hash(token), self.now() - FEED_PAST_SECS);
        self.db
            .read(move |c| -> Result<Vec<Show>, DomainError> {
                let user = db::calendar_feeds::user_of(c, &hash)?.ok_or(DomainError::NotFound("calendar"))?;
                Ok(db::shows::followed_from(c, user, from, FEED_MAX_SHOWS)?)
            })
            .await
    }
}
