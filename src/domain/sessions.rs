//! Server-side sessions: random token in the cookie, its SHA-256 in the database; idle and absolute
//! expiry; rotation on sign-in (a new token every time); sign-out here or everywhere.

use super::tokens::{random_token, token_hash};
use super::{CurrentUser, Domain, DomainError};
use crate::db;

#[derive(Debug, Clone)]
pub struct Session {
    pub user: CurrentUser,
    pub csrf_token: String,
    last_seen_at: i64,
    /// The earlier of the absolute expiry and the idle deadline: a cached session is no use past it.
    valid_until: i64,
}

pub struct NewSession {
    /// The cookie value. Shown once; only its hash is stored.
    pub token: String,
    pub csrf_token: String,
}

/// Only refresh `last_seen_at` this often: a session lookup must not turn every read into a write.
const TOUCH_EVERY_SECS: i64 = 300;

/// Housekeeping writes of a session lookup: a standby (which refuses writes) still resolves the
/// session from its copy, and the leader does the housekeeping when the user comes back there. A
/// disk that refuses writes must not make a valid session look invalid either.
fn best_effort<T>(r: Result<T, db::DbError>) -> Result<(), DomainError> {
    match r {
        Ok(_) | Err(db::DbError::ReadOnly(_)) => Ok(()),
        Err(e) if e.is_storage_failure() => Ok(()),
        Err(e) => Err(DomainError::from(e)),
    }
}

impl Domain {
    pub async fn create_session(&self, user: &CurrentUser) -> Result<NewSession, DomainError> {
        let token = random_token();
        let csrf = random_token();
        let hash = token_hash(&token);
        let now = self.now();
        let expires = now + self.config.settings.sessions.absolute_timeout.as_secs() as i64;
        let (uid, csrf2) = (user.id, csrf.clone());
        self.db
            .write(move |c| db::sessions::insert(c, &hash, uid, &csrf2, now, expires))
            .await
            .map_err(DomainError::from)?;
        Ok(NewSession { token, csrf_token: csrf })
    }

    /// Resolves a cookie token to a live session, or None (unknown, expired, idle too long, banned user).
    pub async fn session(&self, token: &str) -> Result<Option<Session>, DomainError> {
        if token.is_empty() || token.len() > 100 {
            return Ok(None);
        }
        let hash = token_hash(token);
        let now = self.now();
        if let Some(s) = self.sessions.get(&hash)
            && now - s.last_seen_at < TOUCH_EVERY_SECS
            && now < s.valid_until
        {
            return Ok(Some(s));
        }
        let idle = self.config.settings.sessions.idle_timeout.as_secs() as i64;
        let row = self.db.read(move |c| db::sessions::get(c, &hash)).await.map_err(DomainError::from)?;
        let Some(row) = row else { return Ok(None) };
        if row.expires_at <= now || row.last_seen_at + idle <= now {
            best_effort(self.db.write(move |c| db::sessions::delete(c, &hash)).await)?;
            self.sessions.invalidate(&hash);
            return Ok(None);
        }
        let Some(user) = self.user(row.user_id).await? else { return Ok(None) };
        let mut last_seen = row.last_seen_at;
        if now - row.last_seen_at >= TOUCH_EVERY_SECS {
            best_effort(self.db.write(move |c| db::sessions::touch(c, &hash, now)).await)?;
            last_seen = now;
        }
        let valid_until = row.expires_at.min(last_seen.saturating_add(idle));
        let s = Session { user, csrf_token: row.csrf_token, last_seen_at: now, valid_until };
        self.sessions.insert(hash, s.clone());
        Ok(Some(s))
    }

    pub async fn end_session(&self, token: &str) -> Result<(), DomainError> {
        let hash = token_hash(token);
        self.sessions.invalidate(&hash);
        self.db.write(move |c| db::sessions::delete(c, &hash)).await.map_err(DomainError::from)
    }

    /// Sign out everywhere: every session of the user ends.
    pub async fn end_all_sessions(&self, user_id: i64) -> Result<usize, DomainError> {
        let n = self.db.write(move |c| db::sessions::delete_for_user(c, user_id)).await.map_err(DomainError::from)?;
        self.forget_sessions_of(user_id);
        Ok(n)
    }

    pub(super) fn forget_sessions_of(&self, user_id: i64) {
        let _ = self.sessions.invalidate_entries_if(move |_, s| s.user.id == user_id);
    }
}
