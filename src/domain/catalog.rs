//! Curating artists, venues, shows and songs (moderator or admin). Every change is audited.

use serde_json::json;

use super::{CurrentUser, Domain, DomainError, Role, validate};
use crate::db::{self, Connection};

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
/// The most external links an artist may have (besides the MusicBrainz page).
pub const MAX_LINKS: usize = 5;
const MAX_LABEL: usize = 60;

/// An external link of an artist page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub label: String,
    pub url: String,
}

impl Link {
    /// One line, "Label https://...": the address is the last word; without a label, its host.
    fn parse(line: &str) -> Result<Link, DomainError> {
        let line = line.trim();
        let (label, address) = line.rsplit_once(char::is_whitespace).unwrap_or(("", line));
        let url = validate::url("links", address)?.unwrap_or_default();
        let label = validate::optional_text("links", label, MAX_LABEL)?;
        let label = if label.is_empty() {
            url::Url::parse(&url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| url.clone())
        } else {
            label
        };
        Ok(Link { label, url })
    }
}

/// Checks the links field and writes it back normalised (one "Label url" per line).
pub fn parse_links(text: &str) -> Result<String, DomainError> {
    let links = text.lines().filter(|l| !l.trim().is_empty()).map(Link::parse).collect::<Result<Vec<_>, _>>()?;
    if links.len() > MAX_LINKS {
        return Err(DomainError::invalid("links", format!("at most {MAX_LINKS} links")));
    }
    Ok(links.iter().map(|l| format!("{} {}", l.label, l.url)).collect::<Vec<_>>().join("\n"))
}

/// An artist's links for display: MusicBrainz first when the artist has an id, then the stored ones
/// (checked again: a line that no longer passes is left out).
pub fn artist_links(mbid: Option<&str>, stored: &str) -> Vec<Link> {
    let musicbrainz = mbid
        .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        .map(|m| Link { label: "MusicBrainz".into(), url: format!("https://musicbrainz.org/artist/{m}") });
    musicbrainz.into_iter().chain(stored.lines().filter_map(|l| Link::parse(l).ok())).collect()
}

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

/// How many popular studio songs a new show's list starts with, so the page is never empty.
pub const SEED_SONGS: i64 = 5;

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
fn ticket_url(value: Option<&str>) -> Result<Option<Option<String>>, DomainError> {
    value.map(|v| validate::url("ticket_url", v)).transpose()
}

pub fn parse_status(value: &str) -> Result<String, DomainError> {
    match value.trim() {
        "" => Ok("upcoming".into()),
        s @ ("upcoming" | "locked" | "completed" | "cancelled") => Ok(s.into()),
        _ => Err(DomainError::invalid("status", "must be upcoming, locked, completed or cancelled")),
    }
}

/// Picks a free slug: `base`, `base-2`, `base-3`, ...
fn unique_slug(base: &str, exists: impl Fn(&str) -> Result<bool, db::DbError>) -> Result<String, DomainError> {
    if !exists(base)? {
        return Ok(base.to_owned());
    }
    for n in 2..10_000 {
        let candidate = format!("{base}-{n}");
        if !exists(&candidate)? {
            return Ok(candidate);
        }
    }
    Err(DomainError::Conflict(format!("no free slug for {base}")))
}

fn unique_conflict(e: db::DbError, what: &str) -> DomainError {
    if e.is_unique_violation() {
        DomainError::Conflict(format!("{what} with this slug or id already exists"))
    } else {
        e.into()
    }
}

pub(super) fn audit(
    c: &Connection,
    actor: Option<i64>,
    action: &str,
    kind: &str,
    id: i64,
    details: serde_json::Value,
    now: i64,
) -> Result<(), DomainError> {
    db::audit::append(c, actor, action, kind, &id.to_string(), &details, now).map_err(DomainError::from)
}

/// Functions usable inside one write transaction (imports and the demo dataset use them too).
pub mod tx {
    use super::*;

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
        let base =
            if v.slug.is_empty() { validate::slugify(&format!("{} {}", v.name, v.city)) } else { v.slug.clone() };
        v.slug = unique_slug(&base, |s| db::venues::slug_exists(c, s))?;
        let id = db::venues::insert(c, &v, now).map_err(|e| unique_conflict(e, "a venue"))?;
        audit(c, actor, "venue.create", "venue", id, json!({"name": v.name}), now)?;
        Ok(id)
    }

    pub fn create_song(
        c: &Connection,
        s: db::songs::NewSong,
        actor: Option<i64>,
        now: i64,
    ) -> Result<i64, DomainError> {
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
}

impl Domain {
    pub async fn create_artist(&self, actor: &CurrentUser, input: ArtistInput) -> Result<i64, DomainError> {
        actor.require(Role::Moderator)?;
        let a = input.validate()?;
        let (actor_id, now) = (actor.id, self.now());
        let id = self.db.write(move |c| tx::create_artist(c, a, Some(actor_id), now)).await?;
        self.catalog_changed();
        Ok(id)
    }

    pub async fn update_artist(&self, actor: &CurrentUser, id: i64, input: ArtistInput) -> Result<(), DomainError> {
        actor.require(Role::Moderator)?;
        let mut a = input.validate()?;
        let (keep_bio, keep_links) = (input.bio.is_none(), input.links.is_none());
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                let old = db::artists::by_id(c, id)?.ok_or(DomainError::NotFound("artist"))?;
                if a.slug.is_empty() {
                    a.slug = old.slug;
                }
                if keep_bio {
                    a.bio = old.bio;
                }
                if keep_links {
                    a.links = old.links;
                }
                db::artists::update(c, id, &a, now).map_err(|e| unique_conflict(e, "an artist"))?;
                audit(c, Some(actor_id), "artist.update", "artist", id, json!({"name": a.name}), now)
            })
            .await?;
        self.every_ranking_changed();
        Ok(())
    }

    pub async fn delete_artist(&self, actor: &CurrentUser, id: i64) -> Result<(), DomainError> {
        actor.require(Role::Admin)?;
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                if !db::artists::delete(c, id)? {
                    return Err(DomainError::NotFound("artist"));
                }
                db::media::prune(c)?;
                audit(c, Some(actor_id), "artist.delete", "artist", id, json!({}), now)
            })
            .await?;
        self.every_ranking_changed();
        Ok(())
    }

    pub async fn create_venue(&self, actor: &CurrentUser, input: VenueInput) -> Result<i64, DomainError> {
        actor.require(Role::Moderator)?;
        let v = input.validate()?;
        let (actor_id, now) = (actor.id, self.now());
        let id = self.db.write(move |c| tx::create_venue(c, v, Some(actor_id), now)).await?;
        self.catalog_changed();
        Ok(id)
    }

    pub async fn update_venue(&self, actor: &CurrentUser, id: i64, input: VenueInput) -> Result<(), DomainError> {
        actor.require(Role::Moderator)?;
        let mut v = input.validate()?;
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                let old = db::venues::by_id(c, id)?.ok_or(DomainError::NotFound("venue"))?;
                if v.slug.is_empty() {
                    v.slug = old.slug;
                }
                db::venues::update(c, id, &v, now).map_err(|e| unique_conflict(e, "a venue"))?;
                audit(c, Some(actor_id), "venue.update", "venue", id, json!({"name": v.name}), now)
            })
            .await?;
        self.every_ranking_changed();
        Ok(())
    }

    pub async fn delete_venue(&self, actor: &CurrentUser, id: i64) -> Result<(), DomainError> {
        actor.require(Role::Admin)?;
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                match db::venues::delete(c, id) {
                    Ok(true) => {}
                    Ok(false) => return Err(DomainError::NotFound("venue")),
                    Err(db::DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                        if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        return Err(DomainError::Conflict("the venue still has shows; delete them first".into()));
                    }
                    Err(e) => return Err(e.into()),
                }
                audit(c, Some(actor_id), "venue.delete", "venue", id, json!({}), now)
            })
            .await?;
        self.every_ranking_changed();
        Ok(())
    }

    pub async fn create_song(&self, actor: &CurrentUser, artist_id: i64, input: SongInput) -> Result<i64, DomainError> {
        actor.require(Role::Moderator)?;
        let s = input.validate(artist_id)?;
        let (actor_id, now) = (actor.id, self.now());
        let id = self.db.write(move |c| tx::create_song(c, s, Some(actor_id), now)).await?;
        self.catalog_changed();
        Ok(id)
    }

    pub async fn update_song(&self, actor: &CurrentUser, id: i64, input: SongInput) -> Result<(), DomainError> {
        actor.require(Role::Moderator)?;
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                let old = db::songs::by_id(c, id)?.ok_or(DomainError::NotFound("song"))?;
                let s = input.validate(old.artist_id)?;
                db::songs::update(c, id, &s).map_err(|e| unique_conflict(e, "a song"))?;
                audit(c, Some(actor_id), "song.update", "song", id, json!({"title": s.title}), now)
            })
            .await?;
        self.every_ranking_changed();
        Ok(())
    }

    pub async fn delete_song(&self, actor: &CurrentUser, id: i64) -> Result<(), DomainError> {
        actor.require(Role::Moderator)?;
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                if !db::songs::delete(c, id)? {
                    return Err(DomainError::NotFound("song"));
                }
                audit(c, Some(actor_id), "song.delete", "song", id, json!({}), now)
            })
            .await?;
        self.every_ranking_changed();
        Ok(())
    }

    pub async fn create_show(&self, actor: &CurrentUser, input: ShowInput) -> Result<i64, DomainError> {
        actor.require(Role::Moderator)?;
        let show = db::shows::NewShow {
            artist_id: input.artist_id,
            venue_id: input.venue_id,
            slug: if input.slug.trim().is_empty() { String::new() } else { validate::slug("slug", &input.slug)? },
            title: validate::optional_text("title", &input.title, validate::MAX_NAME)?,
            starts_at: parse_time("starts_at", &input.starts_at)?,
            status: parse_status(&input.status)?,
            setlistfm_id: None,
            setlistfm_url: None,
            ticket_url: ticket_url(input.ticket_url.as_deref())?.flatten(),
        };
        let (actor_id, now) = (actor.id, self.now());
        self.db.write(move |c| tx::create_show(c, show, Some(actor_id), now)).await
    }

    pub async fn update_show(&self, actor: &CurrentUser, id: i64, input: ShowInput) -> Result<(), DomainError> {
        actor.require(Role::Moderator)?;
        let starts_at = parse_time("starts_at", &input.starts_at)?;
        // An update without a status keeps the show's status (a past show must not reopen).
        let status = if input.status.trim().is_empty() { None } else { Some(parse_status(&input.status)?) };
        let title = validate::optional_text("title", &input.title, validate::MAX_NAME)?;
        let slug = if input.slug.trim().is_empty() { String::new() } else { validate::slug("slug", &input.slug)? };
        let ticket = ticket_url(input.ticket_url.as_deref())?;
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                let old = db::shows::by_id(c, id)?.ok_or(DomainError::NotFound("show"))?;
                // A completed show's actual setlist and accuracy are final, and voting on it stays
                // closed: "reopening" it would answer 200 and change nothing a fan can see.
                if old.status == "completed" && matches!(status.as_deref(), Some("upcoming" | "locked")) {
                    return Err(DomainError::Conflict(
                        "a completed show cannot be reopened; create a new show, or cancel this one".into(),
                    ));
                }
                let status = status.unwrap_or(old.status);
                db::artists::by_id(c, input.artist_id)?.ok_or(DomainError::NotFound("artist"))?;
                db::venues::by_id(c, input.venue_id)?.ok_or(DomainError::NotFound("venue"))?;
                let s = db::shows::NewShow {
                    artist_id: input.artist_id,
                    venue_id: input.venue_id,
                    slug: if slug.is_empty() { old.slug } else { slug },
                    title,
                    starts_at,
                    status,
                    setlistfm_id: None,
                    setlistfm_url: None,
                    ticket_url: ticket.unwrap_or(old.ticket_url),
                };
                db::shows::update(c, id, &s, now).map_err(|e| unique_conflict(e, "a show"))?;
                audit(
                    c,
                    Some(actor_id),
                    "show.update",
                    "show",
                    id,
                    json!({"starts_at": starts_at, "status": s.status}),
                    now,
                )
            })
            .await?;
        // The show's page changes (time, status, venue): cached copies must go.
        self.ranking_changed(id);
        Ok(())
    }

    pub async fn delete_show(&self, actor: &CurrentUser, id: i64) -> Result<(), DomainError> {
        actor.require(Role::Admin)?;
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                if !db::shows::delete(c, id)? {
                    return Err(DomainError::NotFound("show"));
                }
                audit(c, Some(actor_id), "show.delete", "show", id, json!({}), now)
            })
            .await?;
        self.ranking_changed(id);
        Ok(())
    }

    pub async fn audit_log(&self, actor: &CurrentUser, limit: i64) -> Result<Vec<db::audit::AuditEntry>, DomainError> {
        actor.require(Role::Admin)?;
        self.db.read(move |c| db::audit::recent(c, limit.clamp(1, 1000))).await.map_err(DomainError::from)
    }
}
