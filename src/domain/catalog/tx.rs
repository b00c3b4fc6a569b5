//! Functions usable inside one write transaction (imports and the demo dataset use them too).

use serde_json::json;

use super::{audit, unique_conflict, unique_slug};
use crate::db::{self, Connection};
use crate::domain::{DomainError, validate};

/// How many popular studio songs a new show's list starts with, so the page is never empty.
pub const SEED_SONGS: i64 = 5;

pub fn create_artist(
    c: &Connection,
    mut a: db::artists::NewArtist,
    actor: Option<i64>,
    now: i64,
) -> Result<i64, DomainError> {
    let base = if a.slug.is_empty() { validate::slugify(&a.name) } else { a.slug.clone() };
    a.slug = unique_slug(&base, |s| db::artists::slug_exists(c, s))?;
    let id = db::artists::insert(c, &a, now).map_err(|e| unique_conflict(e, "an artist"))?;
    audit(c, actor, "artist.create", "artist", id, json!({"name": a.name}), now)?;
    Ok(id)
}

pub fn create_venue(
    c: &Connection,
    mut v: db::venues::NewVenue,
    actor: Option<i64>,
    now: i64,
) -> Result<i64, DomainError> {
    let base = if v.slug.is_empty() { validate::slugify(&format!("{} {}", v.name, v.city)) } else { v.slug.clone() };
    v.slug = unique_slug(&base, |s| db::venues::slug_exists(c, s))?;
    let id = db::venues::insert(c, &v, now).map_err(|e| unique_conflict(e, "a venue"))?;
    audit(c, actor, "venue.create", "venue", id, json!({"name": v.name}), now)?;
    Ok(id)
}

pub fn create_song(c: &Connection, s: db::songs::NewSong, actor: Option<i64>, now: i64) -> Result<i64, DomainError> {
    if db::artists::by_id(c, s.artist_id)?.is_none() {
        return Err(DomainError::NotFound("artist"));
    }
    let id = db::songs::insert(c, &s, now).map_err(|e| {
        if e.is_unique_violation() {
            DomainError::Conflict(format!("the artist already has a song titled {}", s.title))
        } else {
            e.into()
        }
    })?;
    audit(c, actor, "song.create", "song", id, json!({"title": s.title}), now)?;
    Ok(id)
}

pub fn create_show(
    c: &Connection,
    mut s: db::shows::NewShow,
    actor: Option<i64>,
    now: i64,
) -> Result<i64, DomainError> {
    let artist = db::artists::by_id(c, s.artist_id)?.ok_or(DomainError::NotFound("artist"))?;
    let venue = db::venues::by_id(c, s.venue_id)?.ok_or(DomainError::NotFound("venue"))?;
    if s.slug.is_empty() {
        let date = chrono::DateTime::from_timestamp(s.starts_at, 0).map(|d| d.format("%Y-%m-%d").to_string());
        let base = validate::slugify(&format!("{} {} {}", artist.name, venue.city, date.unwrap_or_default()));
        s.slug = unique_slug(&base, |x| db::shows::slug_exists(c, x))?;
    }
    let id = db::shows::insert(c, &s, now).map_err(|e| unique_conflict(e, "a show"))?;
    // Seed the prediction with popular studio songs so the page is never empty.
    for song in db::songs::popular_studio(c, artist.id, SEED_SONGS)? {
        db::songs::add_to_show(c, id, song.id, None, now)?;
    }
    audit(c, actor, "show.create", "show", id, json!({"artist": artist.name, "venue": venue.name}), now)?;
    Ok(id)
}
