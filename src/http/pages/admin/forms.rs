//! The admin forms as submitted (all text, so nothing is lost when a form is shown again with an
//! error), and their conversion to the domain's inputs. Number fields that do not parse are refused
//! by name.

use serde::Deserialize;

use crate::domain::rows::{Artist, Show, Song, Venue};
use crate::domain::{ArtistInput, ShowInput, SongInput, VenueInput};
use crate::http::error::AppError;
use crate::http::pages::view::{datetime_local, local_input_to_rfc3339};

/// Forms that carry nothing but their token (delete buttons).
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

#[derive(Deserialize, Default, Clone)]
pub struct ArtistForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub mbid: String,
    #[serde(default)]
    pub image_url: String,
    #[serde(default)]
    pub genres: String,
    #[serde(default)]
    pub bio: String,
    /// One "Label https://..." per line.
    #[serde(default)]
    pub links: String,
    /// "1": create even though an artist of that name exists (the form warned).
    #[serde(default)]
    pub create_anyway: String,
}

impl ArtistForm {
    pub fn from_artist(a: &Artist) -> Self {
        Self {
            csrf: String::new(),
            name: a.name.clone(),
            slug: a.slug.clone(),
            mbid: a.mbid.clone().unwrap_or_default(),
            image_url: a.image_url.clone().unwrap_or_default(),
            genres: a.genres.clone(),
            bio: a.bio.clone(),
            links: a.links.clone(),
            create_anyway: String::new(),
        }
    }

    pub fn input(&self) -> ArtistInput {
        ArtistInput {
            name: self.name.clone(),
            slug: self.slug.clone(),
            mbid: self.mbid.clone(),
            image_url: self.image_url.clone(),
            genres: self.genres.clone(),
            bio: Some(self.bio.clone()),
            links: Some(self.links.clone()),
        }
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct VenueForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub timezone: String,
    #[serde(default)]
    pub latitude: String,
    #[serde(default)]
    pub longitude: String,
    /// "1": create even though a venue of that name exists in the city (the form warned).
    #[serde(default)]
    pub create_anyway: String,
}

fn optional_number<T: std::str::FromStr>(field: &str, value: &str) -> Result<Option<T>, AppError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse::<T>().map(Some).map_err(|_| AppError::bad_request(field, format!("`{v}` is not a number")))
}

impl VenueForm {
    pub fn from_venue(v: &Venue) -> Self {
        Self {
            csrf: String::new(),
            name: v.name.clone(),
            slug: v.slug.clone(),
            city: v.city.clone(),
            country: v.country.clone(),
            timezone: v.timezone.clone(),
            latitude: v.latitude.map(|l| l.to_string()).unwrap_or_default(),
            longitude: v.longitude.map(|l| l.to_string()).unwrap_or_default(),
            create_anyway: String::new(),
        }
    }

    pub fn input(&self) -> Result<VenueInput, AppError> {
        Ok(VenueInput {
            name: self.name.clone(),
            slug: self.slug.clone(),
            city: self.city.clone(),
            country: self.country.clone(),
            timezone: self.timezone.clone(),
            latitude: optional_number("latitude", &self.latitude)?,
            longitude: optional_number("longitude", &self.longitude)?,
        })
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct SongForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub album: String,
    /// "3:45" or seconds.
    #[serde(default)]
    pub duration: String,
    #[serde(default)]
    pub is_live: Option<String>,
    #[serde(default)]
    pub is_remix: Option<String>,
    #[serde(default)]
    pub popularity: String,
}

/// "3:45" or "225" -> 225 seconds.
fn duration(value: &str) -> Result<Option<i64>, AppError> {
    let v = value.trim();
    let bad = || AppError::bad_request("duration", format!("`{v}` is not a length like 3:45"));
    match v.split_once(':') {
        None => optional_number("duration", v),
        Some((m, s)) => {
            let (m, s) = (m.trim().parse::<i64>().map_err(|_| bad())?, s.trim().parse::<i64>().map_err(|_| bad())?);
            if !(0..60).contains(&s) {
                return Err(bad());
            }
            Ok(Some(m * 60 + s))
        }
    }
}

impl SongForm {
    pub fn from_song(s: &Song) -> Self {
        Self {
            csrf: String::new(),
            title: s.title.clone(),
            album: s.album.clone(),
            duration: s.duration_s.map(|d| format!("{}:{:02}", d / 60, d % 60)).unwrap_or_default(),
            is_live: s.is_live.then(|| "on".into()),
            is_remix: s.is_remix.then(|| "on".into()),
            popularity: s.popularity.to_string(),
        }
    }

    pub fn input(&self) -> Result<SongInput, AppError> {
        Ok(SongInput {
            title: self.title.clone(),
            album: self.album.clone(),
            duration_s: duration(&self.duration)?,
            is_live: self.is_live.is_some(),
            is_remix: self.is_remix.is_some(),
            popularity: optional_number("popularity", &self.popularity)?.unwrap_or(0),
        })
    }

    pub fn live(&self) -> bool {
        self.is_live.is_some()
    }

    pub fn remix(&self) -> bool {
        self.is_remix.is_some()
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct ShowForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub artist_id: String,
    #[serde(default)]
    pub venue_id: String,
    /// `<input type="datetime-local">` in the venue's time zone (or RFC 3339).
    #[serde(default)]
    pub starts_at: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub ticket_url: String,
}

impl ShowForm {
    pub fn from_show(s: &Show) -> Self {
        Self {
            csrf: String::new(),
            artist_id: s.artist_id.to_string(),
            venue_id: s.venue_id.to_string(),
            starts_at: datetime_local(s.starts_at, &s.venue_timezone),
            title: s.title.clone(),
            slug: s.slug.clone(),
            status: s.status.as_str().into(),
            ticket_url: s.ticket_url.clone().unwrap_or_default(),
        }
    }

    pub fn ids(&self) -> Result<(i64, i64), AppError> {
        let artist = optional_number("artist_id", &self.artist_id)?
            .ok_or_else(|| AppError::bad_request("artist_id", "choose an artist"))?;
        let venue = optional_number("venue_id", &self.venue_id)?
            .ok_or_else(|| AppError::bad_request("venue_id", "choose a venue"))?;
        Ok((artist, venue))
    }

    /// `venue_tz`: the chosen venue's zone, in which the entered local time is read.
    pub fn input(&self, venue_tz: &str) -> Result<ShowInput, AppError> {
        let (artist_id, venue_id) = self.ids()?;
        Ok(ShowInput {
            artist_id,
            venue_id,
            starts_at: local_input_to_rfc3339(&self.starts_at, venue_tz),
            title: self.title.clone(),
            slug: self.slug.clone(),
            status: self.status.clone(),
            ticket_url: Some(self.ticket_url.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn song_lengths() {
        assert_eq!(duration("3:45").unwrap(), Some(225));
        assert_eq!(duration("225").unwrap(), Some(225));
        assert_eq!(duration("").unwrap(), None);
        assert!(duration("3:75").is_err());
        assert!(duration("long").is_err());
    }
}
