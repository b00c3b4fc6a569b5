//! Voting: one vote per voter per song per show, a toggle. Voting closes exactly at the show's start:
//! the check runs inside the write transaction, with the clock read there.

use std::net::IpAddr;

use super::{CurrentUser, Domain, DomainError, trending, validate};
use crate::db;
use crate::db::shows::ShowStatus;

/// Who votes.
#[derive(Debug, Clone)]
pub enum Voter {
    User(CurrentUser),
    /// Anonymous voting (a setting): identified by a device cookie and limited per device and network.
    Anonymous {
        device_token: String,
        ip: IpAddr,
    },
}

/// A voter as `votes` knows them: a signed-in user (`voter` = `u<id>`, `user_id` set) or a device
/// (`voter` = its keyed hash, no user). Hashable: the key of the own-votes cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum StoredVoter {
    User(i64),
    Device(String),
}

impl StoredVoter {
    pub(crate) fn votes_of(&self) -> db::votes::VotesOf<'_> {
        match self {
            StoredVoter::User(id) => db::votes::VotesOf::User(*id),
            StoredVoter::Device(key) => db::votes::VotesOf::Device(key),
        }
    }
}

/// What a vote request wants. `Toggle` is the button; `Set` and `Unset` are idempotent, so a client
/// may safely retry them (e.g. after a 503 in `ack = "replicated"` mode, when the write may still land).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteAction {
    Toggle,
    Set,
    Unset,
}

#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct VoteOutcome {
    /// Whether the voter's vote now exists (false: it was taken back).
    pub voted: bool,
    pub votes: i64,
    pub anon_votes: i64,
}

/// Most songs a show's prediction list can hold.
pub const MAX_SONGS_PER_SHOW: i64 = 200;

impl ShowStatus {
    /// The one rule for whether fans may vote on a show: it is upcoming and has not started.
    /// (The lock job turns started shows `locked` within a minute; until it runs, the start time
    /// alone closes voting.)
    pub fn voting_open(self, starts_at: i64, now: i64) -> bool {
        self == ShowStatus::Upcoming && now < starts_at
    }
}

pub(super) fn voting_open(show: &db::shows::Show, now: i64) -> bool {
    show.status.voting_open(show.starts_at, now)
}

impl Domain {
    pub async fn toggle_vote(&self, voter: &Voter, show_id: i64, song_id: i64) -> Result<VoteOutcome, DomainError> {
        self.vote(voter, show_id, song_id, VoteAction::Toggle).await
    }

    pub async fn vote(
        &self,
        voter: &Voter,
        show_id: i64,
        song_id: i64,
        action: VoteAction,
    ) -> Result<VoteOutcome, DomainError> {
        let result = self.vote_inner(voter, show_id, song_id, action).await;
        match &result {
            Ok(outcome) => self.vote_events.record_toggle(outcome.voted),
            Err(e) => self.vote_events.record_rejection(e),
        }
        result
    }

    async fn vote_inner(
        &self,
        voter: &Voter,
        show_id: i64,
        song_id: i64,
        action: VoteAction,
    ) -> Result<VoteOutcome, DomainError> {
        let voting = self.config.settings.voting.clone();
        let (key, user_id, ip_hash) = match voter {
            Voter::User(u) => (format!("u{}", u.id), Some(u.id), None),
            Voter::Anonymous { device_token, ip } => {
                if !voting.anonymous {
                    return Err(DomainError::Unauthorized);
                }
                (self.device_key(device_token), None, Some(self.network_hash(*ip)))
            }
        };
        self.limits.votes.check(&key)?;
        let outcome = self
            .db
            .write_replayable(move |c| {
                // Six statements on two tables' rows and the votes index (the hot write: see README
                // "Performance"); the show row without its artist and venue. Replayable: it changes
                // rows only, reads its clock and everything else inside, and its caller acts on the
                // answer only after the commit.
                let now = db::now();
                let show = db::shows::voting_state(c, show_id)?.ok_or(DomainError::NotFound("show"))?;
                if !show.status.voting_open(show.starts_at, now) {
                    return Err(DomainError::VotingClosed);
                }
                let (mut votes, mut anon_votes) =
                    db::votes::counts(c, show_id, song_id)?.ok_or(DomainError::NotFound("song on this show"))?;
                let already = db::votes::exists(c, show_id, song_id, &key)?;
                let change = match action {
                    VoteAction::Toggle => true,
                    VoteAction::Set => !already,
                    VoteAction::Unset => already,
                };
                if change
                    && !already
                    && let Some(ip_hash) = &ip_hash
                {
                    check_anonymous_limits(c, &voting, show_id, &key, ip_hash, now)?;
                }
                let voted = if change { !already } else { already };
                if change {
                    let vote = db::votes::Vote {
                        show_id,
                        song_id,
                        voter: &key,
                        user_id,
                        ip_hash: ip_hash.as_deref(),
                        at: now,
                    };
                    if voted {
                        db::votes::cast(c, &vote)?;
                    } else {
                        db::votes::retract(c, &vote)?;
                    }
                    let delta = if voted { 1 } else { -1 };
                    *(if user_id.is_some() { &mut votes } else { &mut anon_votes }) += delta;
                    let score = trending::after_vote(show.trend_score, show.trend_at, now, delta as f64);
                    db::shows::set_trend(c, show_id, score, now, delta)?;
                }
                Ok(VoteOutcome { voted, votes, anon_votes })
            })
            .await?;
        self.ranking_changed(show_id);
        Ok(outcome)
    }

    /// A fan adds a song from the artist's catalog to the show's list.
    /// The song of the show's artist, not yet on its list, that `typed` names: the one whose title
    /// it is (any case), else the only one whose title contains it. Otherwise a message (next to
    /// the field `title`) that suggests the closest title, or lists the ones that match.
    pub async fn addable_song_named(&self, show_id: i64, typed: &str) -> Result<i64, DomainError> {
        let typed = validate::text("title", typed, 200)?;
        let songs = self.db.read(move |c| db::songs::addable_to_show(c, show_id)).await?;
        super::song_match::pick(&songs, &typed)
    }

    pub async fn add_song_to_show(&self, user: &CurrentUser, show_id: i64, song_id: i64) -> Result<bool, DomainError> {
        let uid = user.id;
        let added = self
            .db
            .write(move |c| {
                let now = db::now();
                let show = db::shows::by_id(c, show_id)?.ok_or(DomainError::NotFound("show"))?;
                if !voting_open(&show, now) {
                    return Err(DomainError::VotingClosed);
                }
                let song = db::songs::by_id(c, song_id)?.ok_or(DomainError::NotFound("song"))?;
                if song.artist_id != show.artist_id {
                    return Err(DomainError::invalid("song_id", "the song is not in this artist's catalog"));
                }
                let count = db::songs::count_on_show(c, show_id)?;
                if count >= MAX_SONGS_PER_SHOW {
                    return Err(DomainError::invalid(
                        "song_id",
                        format!("a show's list holds at most {MAX_SONGS_PER_SHOW} songs"),
                    ));
                }
                Ok(db::songs::add_to_show(c, show_id, song_id, Some(uid), now)?)
            })
            .await?;
        if added {
            self.ranking_changed(show_id);
        }
        Ok(added)
    }
}

fn check_anonymous_limits(
    c: &db::Connection,
    voting: &crate::config::VotingSettings,
    show_id: i64,
    key: &str,
    ip_hash: &[u8],
    now: i64,
) -> Result<(), DomainError> {
    let day_ago = now - 86_400;
    let per_show = i64::from(voting.anonymous_votes_per_show);
    let per_day = i64::from(voting.anonymous_votes_per_day);
    let limited = db::votes::count_by_device_on_show(c, show_id, key)? >= per_show
        || db::votes::count_anonymous_by_ip_on_show(c, show_id, ip_hash)? >= per_show
        || db::votes::count_by_device_since(c, key, day_ago)? >= per_day
        || db::votes::count_anonymous_by_ip_since(c, ip_hash, day_ago)? >= per_day;
    if limited {
        return Err(DomainError::RateLimited { retry_after_secs: 3600 });
    }
    Ok(())
}
