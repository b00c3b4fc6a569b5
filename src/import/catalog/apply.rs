//! Applying one catalog row inside the caller's savepoint: match, then create or update with the
//! fields the row gives. Validation is the domain's (`ArtistInput::validate`, ...), so a row is held
//! to the same rules as the admin forms.

use chrono::TimeZone;
use serde_json::json;

use super::rows::{Row, RowKind};
use crate::db::{self, Connection};
use crate::domain::{ArtistInput, DomainError, SongInput, VenueInput, parse_status, parse_time, tx, validate};
use crate::import::report::{Entry, Kind, Outcome};
use crate::import::timezones;

pub(super) fn apply_row(c: &Connection, row: &Row, actor: Option<i64>, now: i64) -> Result<Entry, DomainError> {
    match row.kind {
        RowKind::Artist => artist(c, row, actor, now),
        RowKind::Venue => venue(c, row, actor, now),
        RowKind::Song => song(c, row, actor, now),
        RowKind::Show => show(c, row, actor, now),
    }
}

fn audit_update(
    c: &Connection,
    actor: Option<i64>,
    kind: &str,
    id: i64,
    changed: &[&str],
    now: i64,
) -> Result<(), DomainError> {
    let details = json!({"source": "import", "changed": changed});
    db::audit::append(c, actor, &format!("{kind}.update"), kind, &id.to_string(), &details, now)
        .map_err(DomainError::from)
}

fn outcome(kind: Kind, label: String, changed: Vec<&str>) -> Entry {
    if changed.is_empty() {
        Entry::new(kind, Outcome::Unchanged, label)
    } else {
        Entry::new(kind, Outcome::Updated, label).detail(format!("changed: {}", changed.join(", ")))
    }
}

fn parse_bool(field: &str, v: &str) -> Result<Option<bool>, DomainError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" | "yes" | "1" => Ok(Some(true)),
        "false" | "no" | "0" => Ok(Some(false)),
        _ => Err(DomainError::invalid(field, "must be true or false")),
    }
}

fn parse_num<T: std::str::FromStr>(field: &str, v: &str, what: &str) -> Result<Option<T>, DomainError> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    v.trim().parse().map(Some).map_err(|_| DomainError::invalid(field, format!("`{v}` is not {what}")))
}

fn artist(c: &Connection, row: &Row, actor: Option<i64>, now: i64) -> Result<Entry, DomainError> {
    let input = ArtistInput {
        name: row.get("name").into(),
        slug: row.get("slug").into(),
        mbid: row.get("mbid").into(),
        image_url: row.get("image_url").into(),
        genres: row.get("genres").into(),
        ..Default::default()
    }
    .validate()?;
    let existing = match &input.mbid {
        Some(mbid) => db::artists::by_mbid(c, mbid)?,
        None => None,
    };
    let existing = match existing {
        Some(a) => Some(a),
        None if !input.slug.is_empty() => db::artists::by_slug(c, &input.slug)?,
        None => None,
    };
    let existing = match existing {
        Some(a) => Some(a),
        None => db::artists::by_name(c, &input.name)?.filter(|a| input.mbid.is_none() || a.mbid.is_none()),
    };
    let Some(old) = existing else {
        tx::create_artist(c, input.clone(), actor, now)?;
        return Ok(Entry::new(Kind::Artist, Outcome::Created, input.name));
    };
    let new = db::artists::NewArtist {
        name: input.name.clone(),
        slug: if input.slug.is_empty() { old.slug.clone() } else { input.slug.clone() },
        mbid: input.mbid.clone().or(old.mbid.clone()),
        image_url: input.image_url.clone().or(old.image_url.clone()),
        genres: if row.has("genres") { input.genres.clone() } else { old.genres.clone() },
        bio: old.bio.clone(),
        links: old.links.clone(),
    };
    let mut changed = Vec::new();
    for (field, differs) in [
        ("name", new.name != old.name),
        ("slug", new.slug != old.slug),
        ("mbid", new.mbid != old.mbid),
        ("image_url", new.image_url != old.image_url),
        ("genres", new.genres != old.genres),
    ] {
        if differs {
            changed.push(field);
        }
    }
    if !changed.is_empty() {
        db::artists::update(c, old.id, &new, now).map_err(|e| unique(e, "artist"))?;
        audit_update(c, actor, "artist", old.id, &changed, now)?;
    }
    Ok(outcome(Kind::Artist, new.name, changed))
}

fn unique(e: db::DbError, what: &str) -> DomainError {
    if e.is_unique_violation() {
        DomainError::Conflict(format!("another {what} already has this slug or id"))
    } else {
        e.into()
    }
}

fn venue(c: &Connection, row: &Row, actor: Option<i64>, now: i64) -> Result<Entry, DomainError> {
    let country = row.get("country");
    let timezone = if row.has("timezone") { row.get("timezone") } else { timezones::for_country(country) };
    let input = VenueInput {
        name: row.get("name").into(),
        slug: row.get("slug").into(),
        city: row.get("city").into(),
        country: country.into(),
        timezone: timezone.into(),
        latitude: parse_num("latitude", row.get("latitude"), "a number")?,
        longitude: parse_num("longitude", row.get("longitude"), "a number")?,
    }
    .validate()?;
    let existing = if input.slug.is_empty() { None } else { db::venues::by_slug(c, &input.slug)? };
    let existing = match existing {
        Some(v) => Some(v),
        None => db::venues::by_name_city(c, &input.name, &input.city)?,
    };
    let label = format!("{}, {}", input.name, input.city);
    let Some(old) = existing else {
        tx::create_venue(c, input, actor, now)?;
        return Ok(Entry::new(Kind::Venue, Outcome::Created, label));
    };
    let new = db::venues::NewVenue {
        name: input.name.clone(),
        slug: if input.slug.is_empty() { old.slug.clone() } else { input.slug.clone() },
        city: input.city.clone(),
        country: input.country.clone(),
        timezone: if row.has("timezone") { input.timezone.clone() } else { old.timezone.clone() },
        latitude: input.latitude.or(old.latitude),
        longitude: input.longitude.or(old.longitude),
    };
    let mut changed = Vec::new();
    for (field, differs) in [
        ("name", new.name != old.name),
        ("slug", new.slug != old.slug),
        ("city", new.city != old.city),
        ("country", new.country != old.country),
        ("timezone", new.timezone != old.timezone),
        ("latitude", new.latitude != old.latitude),
        ("longitude", new.longitude != old.longitude),
    ] {
        if differs {
            changed.push(field);
        }
    }
    if !changed.is_empty() {
        db::venues::update(c, old.id, &new, now).map_err(|e| unique(e, "venue"))?;
        audit_update(c, actor, "venue", old.id, &changed, now)?;
    }
    Ok(outcome(Kind::Venue, label, changed))
}

/// An artist named by slug, name or MusicBrainz id.
fn artist_ref(c: &Connection, row: &Row) -> Result<db::artists::Artist, DomainError> {
    let r = validate::text("artist", row.get("artist"), validate::MAX_NAME)?;
    if let Some(a) = db::artists::by_slug(c, &r)? {
        return Ok(a);
    }
    if let Some(a) = db::artists::by_name(c, &r)? {
        return Ok(a);
    }
    if let Some(a) = db::artists::by_mbid(c, &r)? {
        return Ok(a);
    }
    Err(DomainError::invalid("artist", format!("no artist `{r}` (by slug, name or mbid); add its artist row first")))
}

fn song(c: &Connection, row: &Row, actor: Option<i64>, now: i64) -> Result<Entry, DomainError> {
    let artist = artist_ref(c, row)?;
    let popularity: Option<i64> = parse_num("popularity", row.get("popularity"), "a whole number")?;
    let input = SongInput {
        title: row.get("title").into(),
        album: row.get("album").into(),
        duration_s: parse_num("duration_s", row.get("duration_s"), "a whole number of seconds")?,
        is_live: parse_bool("is_live", row.get("is_live"))?.unwrap_or(false),
        is_remix: parse_bool("is_remix", row.get("is_remix"))?.unwrap_or(false),
        popularity: popularity.unwrap_or(0),
    }
    .validate(artist.id)?;
    let label = format!("{} – {}", artist.name, input.title);
    let Some(old) = db::songs::by_title(c, artist.id, &input.title)? else {
        tx::create_song(c, input, actor, now)?;
        return Ok(Entry::new(Kind::Song, Outcome::Created, label));
    };
    let new = db::songs::NewSong {
        artist_id: artist.id,
        title: input.title.clone(),
        album: if row.has("album") { input.album.clone() } else { old.album.clone() },
        duration_s: input.duration_s.or(old.duration_s),
        is_live: if row.has("is_live") { input.is_live } else { old.is_live },
        is_remix: if row.has("is_remix") { input.is_remix } else { old.is_remix },
        popularity: if popularity.is_some() { input.popularity } else { old.popularity },
    };
    let mut changed = Vec::new();
    for (field, differs) in [
        ("title", new.title != old.title),
        ("album", new.album != old.album),
        ("duration_s", new.duration_s != old.duration_s),
        ("is_live", new.is_live != old.is_live),
        ("is_remix", new.is_remix != old.is_remix),
        ("popularity", new.popularity != old.popularity),
    ] {
        if differs {
            changed.push(field);
        }
    }
    if !changed.is_empty() {
        db::songs::update(c, old.id, &new).map_err(|e| unique(e, "song"))?;
        audit_update(c, actor, "song", old.id, &changed, now)?;
    }
    Ok(outcome(Kind::Song, label, changed))
}

/// A venue named by slug, or by name with the row's `city`.
fn venue_ref(c: &Connection, row: &Row) -> Result<db::venues::Venue, DomainError> {
    let r = validate::text("venue", row.get("venue"), validate::MAX_NAME)?;
    if let Some(v) = db::venues::by_slug(c, &r)? {
        return Ok(v);
    }
    if row.has("city")
        && let Some(v) = db::venues::by_name_city(c, &r, row.get("city"))?
    {
        return Ok(v);
    }
    let hint = if row.has("city") { "" } else { "; give its slug, or its name with `city`" };
    Err(DomainError::invalid("venue", format!("no venue `{r}`{hint}")))
}

/// RFC 3339, or a local time at the venue ("2026-06-01 20:00" / "2026-06-01T20:00").
fn parse_start(value: &str, tz: &str) -> Result<i64, DomainError> {
    if let Ok(t) = parse_time("starts_at", value) {
        return Ok(t);
    }
    let local = ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(value.trim(), f).ok())
        .ok_or_else(|| {
            DomainError::invalid(
                "starts_at",
                "must be RFC 3339 (2026-06-01T20:00:00Z) or a local time (2026-06-01 20:00)",
            )
        })?;
    let zone: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
    zone.from_local_datetime(&local)
        .earliest()
        .map(|t| t.timestamp())
        .ok_or_else(|| DomainError::invalid("starts_at", format!("{value} does not exist in {tz} (clock change)")))
}

fn show(c: &Connection, row: &Row, actor: Option<i64>, now: i64) -> Result<Entry, DomainError> {
    let artist = artist_ref(c, row)?;
    let venue = venue_ref(c, row)?;
    let starts_at = parse_start(row.get("starts_at"), &venue.timezone)?;
    let title = validate::optional_text("title", row.get("title"), validate::MAX_NAME)?;
    let slug = if row.has("slug") { validate::slug("slug", row.get("slug"))? } else { String::new() };
    let status = parse_status(row.get("status"))?;
    let zone: chrono_tz::Tz = venue.timezone.parse().unwrap_or(chrono_tz::UTC);
    let local_date = zone.timestamp_opt(starts_at, 0).single().map(|t| t.date_naive()).unwrap_or_default();
    let day_start = local_date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp();
    let label = format!("{} at {} on {}", artist.name, venue.name, local_date.format("%Y-%m-%d"));
    let existing = if slug.is_empty() { None } else { db::shows::by_slug(c, &slug)? };
    let existing = match existing {
        Some(s) => Some(s),
        None => db::shows::by_artist_on_day(c, artist.id, day_start)?,
    };
    let Some(old) = existing else {
        let new = db::shows::NewShow {
            artist_id: artist.id,
            venue_id: venue.id,
            slug,
            title,
            starts_at,
            status,
            setlistfm_id: None,
            setlistfm_url: None,
            ticket_url: None,
        };
        tx::create_show(c, new, actor, now)?;
        return Ok(Entry::new(Kind::Show, Outcome::Created, label));
    };
    let new = db::shows::NewShow {
        artist_id: artist.id,
        venue_id: venue.id,
        slug: if slug.is_empty() { old.slug.clone() } else { slug },
        title: if row.has("title") { title } else { old.title.clone() },
        starts_at,
        status: if row.has("status") { status } else { old.status },
        setlistfm_id: None,
        setlistfm_url: None,
        ticket_url: old.ticket_url.clone(),
    };
    let mut changed = Vec::new();
    for (field, differs) in [
        ("artist", new.artist_id != old.artist_id),
        ("venue", new.venue_id != old.venue_id),
        ("slug", new.slug != old.slug),
        ("title", new.title != old.title),
        ("starts_at", new.starts_at != old.starts_at),
        ("status", new.status != old.status),
    ] {
        if differs {
            changed.push(field);
        }
    }
    if !changed.is_empty() {
        db::shows::update(c, old.id, &new, now).map_err(|e| unique(e, "show"))?;
        audit_update(c, actor, "show", old.id, &changed, now)?;
    }
    Ok(outcome(Kind::Show, label, changed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_absolute_start_times() {
        let utc = parse_start("2026-06-01T20:00:00Z", "Europe/Berlin").unwrap();
        assert_eq!(parse_start("2026-06-01 22:00", "Europe/Berlin").unwrap(), utc);
        assert_eq!(parse_start("2026-06-01T22:00", "Europe/Berlin").unwrap(), utc);
        let err = parse_start("June 1st", "UTC").unwrap_err().to_string();
        assert!(err.starts_with("starts_at:"), "{err}");
        assert!(parse_bool("is_live", "maybe").is_err());
        assert_eq!(parse_bool("is_live", "Yes").unwrap(), Some(true));
    }
}
