//! A show's ranking: read once per change (one statement), cached until the next vote on the show,
//! and serialized to JSON at most once per change however many readers and watchers ask for it.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use super::{Domain, DomainError, EVERY_SHOW};
use crate::db;
use crate::db::songs::RankedSong;

/// The songs of a show's prediction list, most votes first.
#[derive(Debug)]
pub struct Ranking {
    songs: Vec<RankedSong>,
    json: OnceLock<Bytes>,
}

impl Ranking {
    pub fn new(songs: Vec<RankedSong>) -> Self {
        Self { songs, json: OnceLock::new() }
    }

    /// The ranking as a JSON array (`[{"song_id":..,"title":..,"album":..,"votes":..,"anon_votes":..}]`),
    /// serialized by the first caller and shared by the rest.
    pub fn json(&self) -> Bytes {
        // Serializing plain structs and strings to a Vec cannot fail.
        self.json.get_or_init(|| Bytes::from(serde_json::to_vec(&self.songs).unwrap_or_default())).clone()
    }
}

/// Serializes as the array of songs.
impl serde::Serialize for Ranking {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.songs.serialize(serializer)
    }
}

impl Deref for Ranking {
    type Target = [RankedSong];
    fn deref(&self) -> &[RankedSong] {
        &self.songs
    }
}

impl Domain {
    /// The ranking of a show, cached until the next vote on it. NotFound for an unknown show.
    pub async fn ranking(&self, show_id: i64) -> Result<Arc<Ranking>, DomainError> {
        if let Some(r) = self.rankings.get(&show_id) {
            return Ok(r);
        }
        let generation = ranking_generation(&self.ranking_gens.lock(), show_id);
        let songs = self.db.read(move |c| db::songs::ranking(c, show_id)).await.map_err(DomainError::from)?;
        let r = Arc::new(Ranking::new(songs.ok_or(DomainError::NotFound("show"))?));
        let gens = self.ranking_gens.lock();
        if ranking_generation(&gens, show_id) == generation {
            self.rankings.insert(show_id, r.clone());
        }
        Ok(r)
    }

    /// A counter that changes whenever anything on the show's page may have changed (a vote, an added
    /// song, the actual setlist, an edit of the show, or of any artist, venue or song). Cached pages
    /// are keyed by it, so a change retires exactly the pages it may have touched.
    pub fn ranking_generation(&self, show_id: i64) -> u64 {
        ranking_generation(&self.ranking_gens.lock(), show_id)
    }

    /// Something every show page may show changed (an artist, venue or song was edited or deleted,
    /// or a standby applied replicated pages): retire every cached ranking and page, and push fresh
    /// rankings to live watchers.
    pub(crate) fn every_ranking_changed(&self) {
        {
            // Under the lock that guards ranking inserts: a read that began before the change
            // cannot put its stale ranking back.
            let mut gens = self.ranking_gens.lock();
            *gens.entry(EVERY_SHOW).or_insert(0) += 1;
            self.rankings.invalidate_all();
        }
        self.hub.publish_all();
        // Renames and deletions of artists, songs and venues come through here too.
        self.catalog_changed();
    }

    /// The show's ranking (or the show itself) changed: drop the cached copy and tell live watchers.
    pub(crate) fn ranking_changed(&self, show_id: i64) {
        {
            // Bump and invalidate under the lock that guards cache inserts: a read that started
            // before this change can then never put its stale ranking back into the cache.
            let mut gens = self.ranking_gens.lock();
            *gens.entry(show_id).or_insert(0) += 1;
            self.rankings.invalidate(&show_id);
        }
        self.hub.publish(show_id);
    }
}

/// Changes when the show's ranking or every ranking (`EVERY_SHOW`) was invalidated; both
/// counters only grow, so their sum changes whenever either does.
fn ranking_generation(gens: &HashMap<i64, u64>, show_id: i64) -> u64 {
    let of = |id| gens.get(&id).copied().unwrap_or(0);
    of(show_id) + of(EVERY_SHOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_the_songs_as_an_array_and_is_made_once() {
        let song =
            RankedSong { song_id: 7, title: "Intro \"live\"".into(), album: "A".into(), votes: 3, anon_votes: 1 };
        let r = Ranking::new(vec![song]);
        let json = r.json();
        let parsed: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!([{"song_id": 7, "title": "Intro \"live\"", "album": "A", "votes": 3, "anon_votes": 1}])
        );
        // The same buffer, not a second serialization.
        assert_eq!(r.json().as_ptr(), json.as_ptr());
        assert_eq!(Ranking::new(Vec::new()).json().as_ref(), b"[]");
    }
}
