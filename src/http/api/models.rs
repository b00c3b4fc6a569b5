//! Request and response bodies of the API.

use poem_openapi::Object;

use crate::domain::rows;

#[derive(Object)]
pub struct SignUpRequest {
    /// Email address (unique)
    #[oai(validator(max_length = 254))]
    pub email: String,
    #[oai(validator(max_length = 256))]
    pub password: String,
    #[oai(default, validator(max_length = 60))]
    pub display_name: String,
}

#[derive(Object)]
pub struct LoginRequest {
    #[oai(validator(max_length = 254))]
    pub email: String,
    #[oai(validator(max_length = 256))]
    pub password: String,
}

#[derive(Object)]
pub struct Me {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: String,
    /// Token to send as `x-csrf-token` is not needed for JSON: same-origin checks apply instead.
    pub csrf_token: String,
}

#[derive(Object)]
pub struct SignUpAccepted {
    pub detail: String,
}

#[derive(Object)]
pub struct Created {
    pub id: i64,
}

#[derive(Object)]
pub struct ShowSummary {
    pub id: i64,
    pub slug: String,
    pub title: String,
    /// RFC 3339, UTC
    pub starts_at: String,
    pub status: String,
    pub voting_open: bool,
    pub artist_id: i64,
    pub artist_name: String,
    pub artist_slug: String,
    pub venue_id: i64,
    pub venue_name: String,
    pub venue_city: String,
    pub venue_country: String,
    pub venue_timezone: String,
    pub vote_total: i64,
    pub accuracy: Option<f64>,
    pub setlistfm_url: Option<String>,
    /// Where to buy tickets (http or https)
    pub ticket_url: Option<String>,
}

pub fn iso(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl ShowSummary {
    pub fn from_show(s: &rows::Show, now: i64) -> Self {
        Self {
            id: s.id,
            slug: s.slug.clone(),
            title: s.title.clone(),
            starts_at: iso(s.starts_at),
            status: s.status.as_str().into(),
            voting_open: s.status.voting_open(s.starts_at, now),
            artist_id: s.artist_id,
            artist_name: s.artist_name.clone(),
            artist_slug: s.artist_slug.clone(),
            venue_id: s.venue_id,
            venue_name: s.venue_name.clone(),
            venue_city: s.venue_city.clone(),
            venue_country: s.venue_country.clone(),
            venue_timezone: s.venue_timezone.clone(),
            vote_total: s.vote_total,
            accuracy: s.accuracy,
            setlistfm_url: s.setlistfm_url.clone(),
            ticket_url: s.ticket_url.clone(),
        }
    }
}

#[derive(Object, Clone)]
pub struct RankedSong {
    pub song_id: i64,
    pub title: String,
    pub album: String,
    /// Signed-in votes
    pub votes: i64,
    /// Anonymous votes (counted separately)
    pub anon_votes: i64,
}

impl From<&rows::RankedSong> for RankedSong {
    fn from(r: &rows::RankedSong) -> Self {
        Self {
            song_id: r.song_id,
            title: r.title.clone(),
            album: r.album.clone(),
            votes: r.votes,
            anon_votes: r.anon_votes,
        }
    }
}

#[derive(Object)]
pub struct SetlistEntry {
    pub position: i64,
    pub song_id: Option<i64>,
    pub title: String,
    pub encore: i64,
    pub info: String,
    pub cover_artist: String,
    pub is_tape: bool,
}

impl From<&rows::SetlistEntry> for SetlistEntry {
    fn from(e: &rows::SetlistEntry) -> Self {
        Self {
            position: e.position,
            song_id: e.song_id,
            title: e.title.clone(),
            encore: e.encore,
            info: e.info.clone(),
            cover_artist: e.cover_artist.clone(),
            is_tape: e.is_tape,
        }
    }
}

#[derive(Object)]
pub struct ShowDetail {
    pub show: ShowSummary,
    pub ranking: Vec<RankedSong>,
    pub actual: Vec<SetlistEntry>,
    /// Songs the caller has voted for
    pub my_votes: Vec<i64>,
}

#[derive(Object)]
pub struct VoteResult {
    /// Whether the caller's vote now exists (false: taken back)
    pub voted: bool,
    pub votes: i64,
    pub anon_votes: i64,
}

/// Flags an item for the moderators' queue.
#[derive(Object)]
pub struct ReportRequest {
    /// artist, venue, show, song or user
    #[oai(validator(max_length = 10))]
    pub target_type: String,
    pub target_id: i64,
    /// what is wrong with it
    #[oai(validator(max_length = 1000))]
    pub reason: String,
}

#[derive(Object)]
pub struct AddSongRequest {
    pub song_id: i64,
}

#[derive(Object)]
pub struct ActualEntryRequest {
    #[oai(default, validator(max_length = 200))]
    pub title: String,
    pub song_id: Option<i64>,
    #[oai(default)]
    pub encore: i64,
    #[oai(default, validator(max_length = 300))]
    pub info: String,
    #[oai(default, validator(max_length = 200))]
    pub cover_artist: String,
    #[oai(default)]
    pub is_tape: bool,
}

#[derive(Object)]
pub struct ActualSetlistRequest {
    #[oai(validator(max_items = 200))]
    pub entries: Vec<ActualEntryRequest>,
}

#[derive(Object)]
pub struct AccuracyResult {
    /// Percent of the actual setlist the fans' top N predicted; null without songs
    pub accuracy: Option<f64>,
}

#[derive(Object)]
pub struct Artist {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub mbid: Option<String>,
    pub image_url: Option<String>,
    pub genres: String,
}

impl From<&rows::Artist> for Artist {
    fn from(a: &rows::Artist) -> Self {
        Self {
            id: a.id,
            name: a.name.clone(),
            slug: a.slug.clone(),
            mbid: a.mbid.clone(),
            image_url: a.image_url.clone(),
            genres: a.genres.clone(),
        }
    }
}

#[derive(Object)]
pub struct ArtistRequest {
    #[oai(validator(max_length = 200))]
    pub name: String,
    #[oai(default, validator(max_length = 100))]
    pub slug: String,
    #[oai(default, validator(max_length = 36))]
    pub mbid: String,
    #[oai(default, validator(max_length = 2000))]
    pub image_url: String,
    #[oai(default, validator(max_length = 300))]
    pub genres: String,
}

#[derive(Object)]
pub struct Venue {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub city: String,
    pub country: String,
    pub timezone: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl From<&rows::Venue> for Venue {
    fn from(v: &rows::Venue) -> Self {
        Self {
            id: v.id,
            name: v.name.clone(),
            slug: v.slug.clone(),
            city: v.city.clone(),
            country: v.country.clone(),
            timezone: v.timezone.clone(),
            latitude: v.latitude,
            longitude: v.longitude,
        }
    }
}

#[derive(Object)]
pub struct VenueRequest {
    #[oai(validator(max_length = 200))]
    pub name: String,
    #[oai(default, validator(max_length = 100))]
    pub slug: String,
    #[oai(validator(max_length = 100))]
    pub city: String,
    #[oai(validator(max_length = 2))]
    pub country: String,
    #[oai(default, validator(max_length = 64))]
    pub timezone: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

#[derive(Object)]
pub struct ShowRequest {
    pub artist_id: i64,
    pub venue_id: i64,
    /// RFC 3339 start time
    #[oai(validator(max_length = 40))]
    pub starts_at: String,
    #[oai(default, validator(max_length = 200))]
    pub title: String,
    #[oai(default, validator(max_length = 100))]
    pub slug: String,
    /// upcoming (default on create), locked, completed or cancelled; left out on update: unchanged
    #[oai(default, validator(max_length = 20))]
    pub status: String,
    /// Where to buy tickets: an http or https URL; empty removes it; left out on update: unchanged
    #[oai(validator(max_length = 2000))]
    pub ticket_url: Option<String>,
}

#[derive(Object)]
pub struct Song {
    pub id: i64,
    pub artist_id: i64,
    pub title: String,
    pub album: String,
    pub duration_s: Option<i64>,
    pub is_live: bool,
    pub is_remix: bool,
    pub popularity: i64,
}

impl From<&rows::Song> for Song {
    fn from(s: &rows::Song) -> Self {
        Self {
            id: s.id,
            artist_id: s.artist_id,
            title: s.title.clone(),
            album: s.album.clone(),
            duration_s: s.duration_s,
            is_live: s.is_live,
            is_remix: s.is_remix,
            popularity: s.popularity,
        }
    }
}

#[derive(Object)]
pub struct SongRequest {
    #[oai(validator(max_length = 200))]
    pub title: String,
    #[oai(default, validator(max_length = 200))]
    pub album: String,
    pub duration_s: Option<i64>,
    #[oai(default)]
    pub is_live: bool,
    #[oai(default)]
    pub is_remix: bool,
    #[oai(default)]
    pub popularity: i64,
}

#[derive(Object)]
pub struct SearchHit {
    /// artist, song or venue
    pub kind: String,
    pub id: i64,
    pub title: String,
    pub detail: String,
    /// Page path to link to
    pub url: String,
}

#[derive(Object)]
pub struct UserSummary {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub banned: bool,
    pub created_at: String,
}

#[derive(Object)]
pub struct RoleRequest {
    /// user, moderator or admin
    pub role: String,
}

#[derive(Object)]
pub struct BanRequest {
    pub banned: bool,
}

#[derive(Object)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor_id: Option<i64>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub details: String,
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;

    use super::*;
    use crate::domain::Ranking;

    /// `GET /shows/{id}/ranking` sends the cached ranking's JSON as `Vec<RankedSong>`: it must be
    /// exactly what the documented type serializes to.
    #[test]
    fn cached_ranking_json_is_the_documented_ranked_song_list() {
        let songs = vec![
            rows::RankedSong { song_id: 1, title: "Jóga".into(), album: "Homogenic".into(), votes: 9, anon_votes: 2 },
            rows::RankedSong { song_id: 2, title: "a \"b\" <c>".into(), album: String::new(), votes: 0, anon_votes: 0 },
        ];
        let documented: Vec<RankedSong> = songs.iter().map(RankedSong::from).collect();
        let cached: serde_json::Value = serde_json::from_slice(&Ranking::new(songs).json()).unwrap();
        assert_eq!(cached, documented.to_json().unwrap());
    }
}
