//! What a moderator sends for an artist, venue, show or song, and checking it into database rows.

use super::links::parse_links;
use crate::db;
use crate::db::shows::ShowStatus;
use crate::domain::{DomainError, validate};

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ArtistInput {
    pub name: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub mbid: String,
    #[serde(default)]
    pub image_url: String,
    #[serde(default)]
    pub genres: String,
    /// A short plain-text biography; on an update, None keeps the stored one.
    #[serde(default)]
    pub bio: Option<String>,
    /// External links, one "Label https://..." per line; on an update, None keeps the stored ones.
    #[serde(default)]
    pub links: Option<String>,
}

/// The longest biography, in characters.
pub const MAX_BIO: usize = 1000;

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct VenueInput {
    pub name: String,
    #[serde(default)]
    pub slug: String,
    pub city: String,
    pub country: String,
    #[serde(default)]
    pub timezone: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ShowInput {
    pub artist_id: i64,
    pub venue_id: i64,
    /// RFC 3339 start time.
    pub starts_at: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub status: String,
    /// Where to buy tickets (http or https); on an update, None keeps the stored link and an empty
    /// string removes it.
    #[serde(default)]
    pub ticket_url: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SongInput {
    pub title: String,
    #[serde(default)]
    pub album: String,
    pub duration_s: Option<i64>,
    #[serde(default)]
    pub is_live: bool,
    #[serde(default)]
    pub is_remix: bool,
    #[serde(default)]
    pub popularity: i64,
}

impl ArtistInput {
    pub fn validate(&self) -> Result<db::artists::NewArtist, DomainError> {
        let name = validate::text("name", &self.name, validate::MAX_NAME)?;
        let slug = if self.slug.trim().is_empty() { String::new() } else { validate::slug("slug", &self.slug)? };
        let mbid = validate::optional_text("mbid", &self.mbid, 36)?;
        if !mbid.is_empty() && !mbid.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(DomainError::invalid("mbid", "must be a MusicBrainz id (UUID)"));
        }
        Ok(db::artists::NewArtist {
            name,
            slug,
            mbid: (!mbid.is_empty()).then_some(mbid),
            image_url: validate::url("image_url", &self.image_url)?,
            genres: validate::optional_text("genres", &self.genres, 300)?,
            bio: validate::optional_text(
                "bio",
                &self.bio.as_deref().unwrap_or_default().replace("\r\n", "\n"),
                MAX_BIO,
            )?,
            links: parse_links(self.links.as_deref().unwrap_or_default())?,
        })
    }
}

impl VenueInput {
    pub fn validate(&self) -> Result<db::venues::NewVenue, DomainError> {
        let lat_ok = self.latitude.is_none_or(|l| (-90.0..=90.0).contains(&l));
        let lon_ok = self.longitude.is_none_or(|l| (-180.0..=180.0).contains(&l));
        if !lat_ok {
            return Err(DomainError::invalid("latitude", "must be between -90 and 90"));
        }
        if !lon_ok {
            return Err(DomainError::invalid("longitude", "must be between -180 and 180"));
        }
        Ok(db::venues::NewVenue {
            name: validate::text("name", &self.name, validate::MAX_NAME)?,
            slug: if self.slug.trim().is_empty() { String::new() } else { validate::slug("slug", &self.slug)? },
            city: validate::text("city", &self.city, 100)?,
            country: validate::country(&self.country)?,
            timezone: validate::timezone(&self.timezone)?,
            latitude: self.latitude,
            longitude: self.longitude,
        })
    }
}

impl SongInput {
    pub fn validate(&self, artist_id: i64) -> Result<db::songs::NewSong, DomainError> {
        if self.duration_s.is_some_and(|d| !(0..=86_400).contains(&d)) {
            return Err(DomainError::invalid("duration_s", "must be between 0 and 86400"));
        }
        Ok(db::songs::NewSong {
            artist_id,
            title: validate::text("title", &self.title, validate::MAX_NAME)?,
            album: validate::optional_text("album", &self.album, validate::MAX_NAME)?,
            duration_s: self.duration_s,
            is_live: self.is_live,
            is_remix: self.is_remix,
            popularity: self.popularity.clamp(0, 1_000_000),
        })
    }
}

pub fn parse_time(field: &str, value: &str) -> Result<i64, DomainError> {
    chrono::DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.timestamp())
        .map_err(|_| DomainError::invalid(field, "must be an RFC 3339 time like 2026-06-01T20:00:00Z"))
}

/// A show's ticket link: None when not given, `Some(None)` when given empty (no link).
pub(super) fn ticket_url(value: Option<&str>) -> Result<Option<Option<String>>, DomainError> {
    value.map(|v| validate::url("ticket_url", v)).transpose()
}

/// A status from a form or an import: empty means upcoming.
pub fn parse_status(value: &str) -> Result<ShowStatus, DomainError> {
    match value.trim() {
        "" => Ok(ShowStatus::Upcoming),
        name => ShowStatus::parse(name)
            .ok_or_else(|| DomainError::invalid("status", "must be upcoming, locked, completed or cancelled")),
    }
}
