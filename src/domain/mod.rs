//! The rules of MySetlist, independent of HTTP. Each file adds one area's operations to [`Domain`].

mod account;
pub(crate) mod accuracy;
mod calendar;
mod catalog;
mod db_facts;
pub(crate) mod demo;
mod email;
mod error;
pub(crate) mod events;
mod follow_emails;
mod housekeeping;
mod imports;
pub(crate) mod insights;
pub(crate) mod limits;
pub(crate) mod live;
mod media;
mod moderation;
mod page_reads;
mod passwords;
mod ranking;
pub(crate) mod rows;
pub(crate) mod search;
mod sessions;
mod setlists;
mod shows_read;
mod song_match;
mod spelling;
mod tokens;
pub(crate) mod trending;
mod users;
pub(crate) mod validate;
mod votes;

use std::sync::Arc;

pub use account::RESET_LINK_TTL_SECS;
pub(crate) use account::ResetLink;
pub use accuracy::accuracy;
pub use catalog::{ArtistInput, ShowInput, SongInput, VenueInput};
pub(crate) use catalog::{Link, artist_links};
// Imports (crate::import) compose these inside their own write transactions.
pub(crate) use catalog::{parse_status, parse_time, tx};
pub(crate) use error::DomainError;
pub use follow_emails::EmailPrefs;
pub(crate) use housekeeping::Purged;
pub use live::WATCHERS_COALESCE;
pub(crate) use media::{MAX_UPLOAD_BYTES, THUMB_SIZE};
pub(crate) use page_reads::AccountSummary;
pub(crate) use passwords::PasswordStats;
pub(crate) use ranking::Ranking;
pub(crate) use sessions::Session;
pub use setlists::ActualEntryInput;
pub(crate) use setlists::{SHOW_OVER_AFTER, resolve_entries, store_actual};
pub(crate) use shows_read::ShowPage;
pub use votes::{VoteAction, Voter};

use crate::config::Config;
use crate::db::{self, Database};

/// Roles, ordered by power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Moderator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "moderator" => Some(Role::Moderator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A signed-in user as seen by the rules.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
}

impl CurrentUser {
    pub fn require(&self, role: Role) -> Result<(), DomainError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(DomainError::Forbidden(format!("this needs the {} role", role.as_str())))
        }
    }
}

/// Shared state of the rules: the database, settings, the live-update hub and caches.
pub struct Domain {
    /// Only the rules reach storage; the crate-wide visibility is for the modules still moving
    /// to domain methods (observability, the status page, the CLI).
    db: Database,
    pub config: Arc<Config>,
    pub hub: live::Hub,
    /// Counts of accepted and refused votes, for monitoring.
    pub vote_events: events::VoteEvents,
    /// Server secret (random, stored in the database): keys the network hashes of anonymous voters.
    secret: [u8; 32],
    rankings: moka::sync::Cache<i64, Arc<Ranking>>,
    /// Per-show change counter guarding `rankings` against stale inserts (see votes::ranking_changed).
    ranking_gens: parking_lot::Mutex<std::collections::HashMap<i64, u64>>,
    sessions: moka::sync::Cache<[u8; 32], Session>,
    /// A voter's votes on a show, with the show's ranking generation they were read at: every change
    /// to a show's votes bumps it, so an entry is used only while it still matches.
    own_votes: moka::sync::Cache<(i64, votes::StoredVoter), OwnVotesAt>,
    /// Per-account rate limits (password checks, votes).
    limits: limits::AccountLimits,
    /// Argon2 hashing and verification, bounded (`rate_limit.password_workers`).
    passwords: passwords::PasswordPool,
    /// The search index's words, for spelling suggestions.
    vocabulary: spelling::VocabularyCache,
    /// Outgoing mail; None while `[smtp]` is not configured.
    mailer: Option<Arc<dyn crate::mail::Mailer>>,
    /// "Forgot password?" requests per email address (the per-client-address limit is the web
    /// layer's, `http::rate_limit`).
    reset_requests: limits::KeyedLimiter<String>,
}

impl Domain {
    pub async fn new(db: Database, config: Arc<Config>) -> Result<Arc<Self>, DomainError> {
        let secret = load_or_create_secret(&db).await?;
        let rankings = moka::sync::Cache::builder().max_capacity(10_000).build();
        let sessions = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(std::time::Duration::from_secs(30))
            .support_invalidation_closures()
            .build();
        let limits = limits::AccountLimits::new(&config.settings.rate_limit);
        let rl = &config.settings.rate_limit;
        let passwords = passwords::PasswordPool::new(rl.password_workers, rl.password_wait);
        let reset_requests = limits::KeyedLimiter::per_hour(rl.password_resets_per_hour);
        let mailer = email::mailer(&config);
        let domain = Arc::new_cyclic(|weak| Self {
            hub: live::Hub::new(weak.clone()),
            vote_events: events::VoteEvents::default(),
            db,
            config,
            secret,
            rankings,
            ranking_gens: parking_lot::Mutex::new(std::collections::HashMap::new()),
            sessions,
            own_votes: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(300))
                .build(),
            limits,
            passwords,
            vocabulary: spelling::VocabularyCache::default(),
            mailer,
            reset_requests,
        });
        Ok(domain)
    }

    pub fn now(&self) -> i64 {
        db::now()
    }

    /// What the password pool has done (hashes, verifications, refusals, peak concurrency).
    pub fn password_stats(&self) -> PasswordStats {
        self.passwords.stats()
    }

    /// Keyed hash of a client network (IPv4 /32, IPv6 /64): enough to limit, useless to identify.
    pub fn network_hash(&self, ip: std::net::IpAddr) -> Vec<u8> {
        use hmac::{Hmac, Mac};
        let bytes: Vec<u8> = match ip {
            std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
            std::net::IpAddr::V6(v6) => v6.octets()[..8].to_vec(),
        };
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(b"network:");
        mac.update(&bytes);
        mac.finalize().into_bytes()[..16].to_vec()
    }

    /// Keyed hash used to turn a device cookie into a voter key.
    pub fn device_key(&self, device_token: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(b"device:");
        mac.update(device_token.as_bytes());
        format!("d{}", hex::encode(&mac.finalize().into_bytes()[..12]))
    }

    /// The database changed underneath the rules (a standby applied replicated pages): forget
    /// every cached ranking, page and session, and push fresh rankings to live watchers.
    pub fn data_changed(&self) {
        self.every_ranking_changed();
        self.sessions.invalidate_all();
    }

    /// The catalog changed (an artist, song or venue was added, renamed or removed): spelling
    /// suggestions know its words from the next search on.
    pub fn catalog_changed(&self) {
        self.vocabulary.forget();
    }

    /// Checks the database accepts a write (for /readyz).
    pub async fn check_writable(&self) -> Result<(), DomainError> {
        self.db.write(|c| db::stats::probe_writable(c).map_err(DomainError::from)).await
    }
}

/// A voter's song ids on a show and the ranking generation they were read at.
type OwnVotesAt = (u64, Arc<[i64]>);

/// Key in `ranking_gens` bumped by changes that may touch every show (never a show's id).
pub(crate) const EVERY_SHOW: i64 = i64::MIN;

async fn load_or_create_secret(db: &Database) -> Result<[u8; 32], DomainError> {
    // Created with the schema (migration 0010) before replication starts, so a standby's copy of
    // the leader's first backup holds it, and a standby cannot write. The write below is for a
    // database whose secret was lost.
    let stored = db.read(|c| db::kv::get_setting(c, "server_secret")).await.map_err(DomainError::from)?;
    if let Some(arr) = stored.and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok()) {
        return Ok(arr);
    }
    db.write(|c| {
        if let Some(v) = db::kv::get_setting(c, "server_secret")?
            && let Ok(arr) = <[u8; 32]>::try_from(v.as_slice())
        {
            return Ok(arr);
        }
        let secret: [u8; 32] = rand::random();
        db::kv::set_setting(c, "server_secret", &secret)?;
        Ok(secret)
    })
    .await
}
