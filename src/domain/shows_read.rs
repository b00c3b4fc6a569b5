//! Read models for the pages and the API: each is assembled from a fixed, small number of queries.

use std::sync::Arc;

use super::votes::{StoredVoter, voting_open};
use super::{Domain, DomainError, Ranking, Voter, trending};
use crate::db::{self, artists::Artist, setlists::SetlistEntry, shows::Show, songs::Song, venues::Venue};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ShowPage {
    pub show: Show,
    pub voting_open: bool,
    pub ranking: Arc<Ranking>,
    /// Songs of the catalog not yet on the list (for "add a song").
    pub addable: Vec<Song>,
    pub actual: Vec<SetlistEntry>,
    /// Song ids the current voter has voted for.
    pub my_votes: Vec<i64>,
}

/// The signed-in part of the home page.
#[derive(Debug, Default)]
pub struct ForYou {
    pub followed: Vec<Show>,
    pub voted: Vec<Show>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct HomePage {
    pub trending: Vec<Show>,
    pub upcoming: Vec<Show>,
    pub recent: Vec<Show>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ArtistPage {
    pub artist: Artist,
    pub upcoming: Vec<Show>,
    pub past: Vec<Show>,
    pub catalog: Vec<Song>,
    pub followed: bool,
    /// (title, shows played at) over the last [`LATELY`] shows with a setlist, and how many that is.
    pub played_lately: (Vec<(String, i64)>, i64),
    /// (title, votes) over the artist's shows to come.
    pub most_wanted: Vec<(String, i64)>,
}

/// The song stats on an artist page look at this many of the latest setlists.
pub const LATELY: i64 = 4;

#[derive(Debug, Clone, serde::Serialize)]
pub struct VenuePage {
    pub venue: Venue,
    pub shows: Vec<Show>,
}

impl Domain {
    pub async fn show_by_slug(&self, slug: &str) -> Result<Show, DomainError> {
        let slug = slug.to_owned();
        self.db.read(move |c| db::shows::by_slug(c, &slug)).await?.ok_or(DomainError::NotFound("show"))
    }

    pub async fn show_by_id(&self, id: i64) -> Result<Show, DomainError> {
        self.db.read(move |c| db::shows::by_id(c, id)).await?.ok_or(DomainError::NotFound("show"))
    }

    pub async fn show_page(&self, show: Show, voter: Option<&Voter>) -> Result<ShowPage, DomainError> {
        let ranking = self.ranking(show.id).await?;
        let voter_key = voter.and_then(|v| self.stored_voter_key(v));
        let now = self.now();
        let show_id = show.id;
        let open = voting_open(&show, now);
        let (addable, actual, my_votes) = self
            .db
            .read(move |c| -> Result<_, db::DbError> {
                let addable = if open { db::songs::addable_to_show(c, show_id)? } else { Vec::new() };
                let actual = db::setlists::actual(c, show_id)?;
                let my_votes = match &voter_key {
                    Some(k) => db::votes::voted_songs(c, show_id, k.votes_of())?,
                    None => Vec::new(),
                };
                Ok((addable, actual, my_votes))
            })
            .await?;
        Ok(ShowPage { voting_open: open, show, ranking, addable, actual, my_votes })
    }

    /// The songs `voter` voted for on the show (what a signed-in visitor's cached page fills in).
    /// Served from memory while no vote on the show changed anything (its ranking generation).
    pub async fn my_votes(&self, show_id: i64, voter: &Voter) -> Result<Arc<[i64]>, DomainError> {
        let Some(voter_key) = self.stored_voter_key(voter) else { return Ok(Arc::new([])) };
        let key = (show_id, voter_key);
        // Read before the votes: a vote landing during the read files them under the old generation.
        let generation = self.ranking_generation(show_id);
        if let Some((at, votes)) = self.own_votes.get(&key)
            && at == generation
        {
            return Ok(votes);
        }
        let stored = key.1.clone();
        let votes: Arc<[i64]> =
            self.db.read(move |c| db::votes::voted_songs(c, show_id, stored.votes_of())).await?.into();
        self.own_votes.insert(key, (generation, votes.clone()));
        Ok(votes)
    }

    /// How a voter is stored in `votes.voter`; None for a device while anonymous voting is off.
    fn stored_voter_key(&self, voter: &Voter) -> Option<StoredVoter> {
        match voter {
            Voter::User(u) => Some(StoredVoter::User(u.id)),
            Voter::Anonymous { device_token, .. } if self.config.settings.voting.anonymous => {
                Some(StoredVoter::Device(self.device_key(device_token)))
            }
            Voter::Anonymous { .. } => None,
        }
    }

    pub async fn home_page(&self) -> Result<HomePage, DomainError> {
        let now = self.now();
        let (mut candidates, upcoming, recent) = self
            .db
            .read(move |c| -> Result<_, db::DbError> {
                Ok((
                    db::shows::trend_candidates(c, now, 200)?,
                    db::shows::upcoming(c, now, 12)?,
                    db::shows::recent_past(c, now, 6)?,
                ))
            })
            .await?;
        candidates.retain(|s| s.trend_score > 0.0);
        candidates.sort_by(|a, b| {
            let sa = trending::trending_score(a.trend_score, a.trend_at, a.starts_at, now);
            let sb = trending::trending_score(b.trend_score, b.trend_at, b.starts_at, now);
            sb.total_cmp(&sa)
        });
        candidates.truncate(6);
        Ok(HomePage { trending: candidates, upcoming, recent })
    }

    /// What the home page leads with for a signed-in fan: the next shows of the artists they
    /// follow, and the shows they voted on (upcoming first).
    pub async fn home_for(&self, user_id: i64) -> Result<ForYou, DomainError> {
        let now = self.now();
        let (followed, voted) = self
            .db
            .read(move |c| -> Result<_, db::DbError> {
                Ok((db::shows::upcoming_followed_by(c, user_id, now, 6)?, db::shows::voted_on_by(c, user_id, now, 6)?))
            })
            .await?;
        Ok(ForYou { followed, voted })
    }

    pub async fn artist_page(&self, slug: &str, user_id: Option<i64>) -> Result<ArtistPage, DomainError> {
        let slug = slug.to_owned();
        let now = self.now();
        self.db
            .read(move |c| -> Result<ArtistPage, DomainError> {
                let artist = db::artists::by_slug(c, &slug)?.ok_or(DomainError::NotFound("artist"))?;
                Ok(ArtistPage {
                    upcoming: db::shows::by_artist_upcoming(c, artist.id, now)?,
                    past: db::shows::by_artist_past(c, artist.id, now, 50)?,
                    catalog: db::songs::catalog(c, artist.id)?,
                    played_lately: db::song_stats::played_lately(c, artist.id, LATELY, 8)?,
                    most_wanted: db::song_stats::most_wanted(c, artist.id, now, 8)?,
                    followed: match user_id {
                        Some(u) => db::artists::is_followed(c, u, artist.id)?,
                        None => false,
                    },
                    artist,
                })
            })
            .await
    }

    pub async fn venue_page(&self, slug: &str) -> Result<VenuePage, DomainError> {
        let slug = slug.to_owned();
        self.db
            .read(move |c| -> Result<VenuePage, DomainError> {
                let venue = db::venues::by_slug(c, &slug)?.ok_or(DomainError::NotFound("venue"))?;
                Ok(VenuePage { shows: db::shows::by_venue(c, venue.id, 100)?, venue })
            })
            .await
    }

    pub async fn artists(&self, limit: i64, offset: i64) -> Result<Vec<Artist>, DomainError> {
        self.db.read(move |c| db::artists::list(c, limit.clamp(1, 500), offset.max(0))).await.map_err(DomainError::from)
    }

    /// An artist already named so (any case): what the admin form warns about before creating.
    pub async fn artist_named(&self, name: &str) -> Result<Option<Artist>, DomainError> {
        let name = name.trim().to_owned();
        self.db.read(move |c| db::artists::by_name(c, &name)).await.map_err(DomainError::from)
    }

    /// A venue already named so in the same city: what the admin form warns about before creating.
    pub async fn venue_named(&self, name: &str, city: &str) -> Result<Option<Venue>, DomainError> {
        let (name, city) = (name.trim().to_owned(), city.trim().to_owned());
        self.db.read(move |c| db::venues::by_name_city(c, &name, &city)).await.map_err(DomainError::from)
    }

    pub async fn venues(&self, limit: i64, offset: i64) -> Result<Vec<Venue>, DomainError> {
        self.db.read(move |c| db::venues::list(c, limit.clamp(1, 500), offset.max(0))).await.map_err(DomainError::from)
    }

    pub async fn upcoming_shows(&self, limit: i64) -> Result<Vec<Show>, DomainError> {
        let now = self.now();
        self.db.read(move |c| db::shows::upcoming(c, now, limit.clamp(1, 500))).await.map_err(DomainError::from)
    }

    /// An artist's songs; an unknown artist is not found (not an empty catalog).
    pub async fn catalog(&self, artist_id: i64) -> Result<Vec<Song>, DomainError> {
        self.db
            .read(move |c| -> Result<Vec<Song>, DomainError> {
                db::artists::by_id(c, artist_id)?.ok_or(DomainError::NotFound("artist"))?;
                Ok(db::songs::catalog(c, artist_id)?)
            })
            .await
    }

    pub async fn set_follow(&self, user_id: i64, artist_id: i64, follow: bool) -> Result<(), DomainError> {
        let now = self.now();
        self.db
            .write(move |c| {
                db::artists::by_id(c, artist_id)?.ok_or(DomainError::NotFound("artist"))?;
                if follow {
                    db::artists::follow(c, user_id, artist_id, now)?;
                } else {
                    db::artists::unfollow(c, user_id, artist_id)?;
                }
                Ok(())
            })
            .await
    }
}
