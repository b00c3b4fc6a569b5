//! Small view models: dates formatted in the venue's time zone, totals precomputed.

use crate::db::shows::Show;

pub struct ShowCard {
    pub slug: String,
    pub artist: String,
    pub artist_slug: String,
    pub venue: String,
    pub venue_slug: String,
    pub city: String,
    pub when: String,
    pub iso: String,
    pub votes: i64,
    pub id: i64,
}

/// "Sat 6 Jun 2026, 20:00 BST" in the venue's zone.
pub fn local_time(ts: i64, tz: &str) -> (String, String) {
    let utc = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default();
    let iso = utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let when = match tz.parse::<chrono_tz::Tz>() {
        Ok(zone) => utc.with_timezone(&zone).format("%a %-d %b %Y, %H:%M %Z").to_string(),
        Err(_) => utc.format("%a %-d %b %Y, %H:%M UTC").to_string(),
    };
    (when, iso)
}

impl From<&Show> for ShowCard {
    fn from(s: &Show) -> Self {
        let (when, iso) = local_time(s.starts_at, &s.venue_timezone);
        Self {
            slug: s.slug.clone(),
            artist: s.artist_name.clone(),
            artist_slug: s.artist_slug.clone(),
            venue: s.venue_name.clone(),
            venue_slug: s.venue_slug.clone(),
            city: s.venue_city.clone(),
            when,
            iso,
            votes: s.vote_total,
            id: s.id,
        }
    }
}
