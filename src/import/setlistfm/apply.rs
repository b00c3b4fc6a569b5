//! Matching one setlist.fm setlist to the catalog and storing it, inside the caller's transaction.
//!
//! Matching rules (documented in docs/import.md):
//! - artist: by MusicBrainz id; else by name (case-insensitive) unless that artist carries a different
//!   mbid (then it is another artist of the same name). A name match without an mbid gets the mbid.
//! - show: by setlist.fm id; else by artist + date (`db::shows::by_artist_on_day`) unless that show is
//!   linked to a different setlist.fm id (two shows on one day). Else a new show at 20:00 local time.
//! - venue (only for a new show): by name + city (case-insensitive); else created with the city's
//!   coordinates and the country's main time zone.
//! - songs: by title in the artist's catalog (case-insensitive). Performed songs missing from the
//!   catalog are added as studio songs (is_live = false); tape entries are not added.
//!
//! The actual setlist is stored (with `store_actual`: accuracy, and `completed` for a past show) only if
//! it differs from the stored one, so a second import of the same data changes nothing. A past show
//! created by the import had no prediction (nobody could vote): it gets no seeded songs and no accuracy.

use chrono::{NaiveDate, TimeZone};
use serde_json::json;

use super::model::Setlist;
use crate::db::shows::ShowStatus;
use crate::db::{self, Connection};
use crate::domain::{
    ActualEntryInput, ArtistInput, DomainError, SongInput, VenueInput, resolve_entries, store_actual, tx, validate,
};
use crate::import::report::{Entry, Kind, Outcome};
use crate::import::timezones;

/// Local time given to shows created from a setlist (setlist.fm has dates, not times).
const SHOW_HOUR: u32 = 20;
/// Most characters of a song's note kept (setlist.fm notes can be long; the column holds 300).
const MAX_INFO: usize = 300;

/// A setlist checked and converted to our inputs, before any database access.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub setlist_id: Option<String>,
    pub url: Option<String>,
    /// `Artist at Venue, City on 2024-06-01`.
    pub label: String,
    pub artist: db::artists::NewArtist,
    pub venue: db::venues::NewVenue,
    pub date: NaiveDate,
    /// The tour name, used as the title of a show created here.
    pub title: String,
    pub entries: Vec<ActualEntryInput>,
}

/// Which show the setlist belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// Find (or create) the show by the matching rules.
    Match,
    /// This show (the scheduler looked the setlist up for it).
    Show(i64),
}

/// What applying one setlist did.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub entries: Vec<Entry>,
    /// The show whose actual setlist was (re)written.
    pub stored_show: Option<i64>,
}

/// Raises the popularity of the artist's songs to their play counts once a setlist was stored, so
/// that new shows are seeded with what the artist really plays.
pub(crate) fn apply_and_count_plays(
    c: &Connection,
    p: &Prepared,
    target: Target,
    actor: Option<i64>,
    now: i64,
) -> Result<Applied, DomainError> {
    let applied = apply(c, p, target, actor, now)?;
    if let Some(show_id) = applied.stored_show {
        let artist_id = db::shows::by_id(c, show_id)?.ok_or(DomainError::NotFound("show"))?.artist_id;
        db::song_stats::raise_popularity_to_play_count(c, artist_id)?;
    }
    Ok(applied)
}

fn truncate(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

/// Why a setlist is skipped; the import report shows the message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SkipReason {
    #[error("not a setlist: {0}")]
    NotASetlist(#[from] serde_json::Error),
    #[error("the setlist has no artist name")]
    NoArtist,
    #[error("artist {0}")]
    Artist(DomainError),
    #[error("eventDate `{0}` is not a date in the form dd-MM-yyyy (like 31-12-2024)")]
    EventDate(String),
    #[error("the setlist has no venue name")]
    NoVenue,
    #[error("the venue has no city")]
    NoCity,
    #[error("venue {0}")]
    Venue(DomainError),
    #[error("id `{0}` is not a setlist.fm id")]
    NotAnId(String),
    /// A field of the setlist itself (its id or URL) that does not validate.
    #[error(transparent)]
    Field(#[from] DomainError),
}

/// Checks a setlist and converts it; the error is the reason it is skipped.
pub(crate) fn prepare(s: &Setlist) -> Result<Prepared, SkipReason> {
    let artist = s.artist.as_ref().filter(|a| !a.name.trim().is_empty()).ok_or(SkipReason::NoArtist)?;
    let artist = ArtistInput { name: artist.name.clone(), mbid: artist.mbid.trim().to_owned(), ..Default::default() }
        .validate()
        .map_err(SkipReason::Artist)?;
    let date = NaiveDate::parse_from_str(s.event_date.trim(), "%d-%m-%Y")
        .map_err(|_| SkipReason::EventDate(s.event_date.trim().to_owned()))?;
    let venue = s.venue.as_ref().filter(|v| !v.name.trim().is_empty()).ok_or(SkipReason::NoVenue)?;
    let city = venue.city.as_ref().filter(|c| !c.name.trim().is_empty()).ok_or(SkipReason::NoCity)?;
    let country = city.country.as_ref().map(|c| c.code.clone()).unwrap_or_default();
    let coords = city.coords.clone().unwrap_or_default();
    // Coordinates are a nicety: out-of-range values are dropped rather than refusing the setlist.
    let (latitude, longitude) = match (coords.lat, coords.long) {
        (Some(lat), Some(lon)) if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => {
            (Some(lat), Some(lon))
        }
        _ => (None, None),
    };
    let venue = VenueInput {
        name: venue.name.clone(),
        city: city.name.clone(),
        country: country.clone(),
        timezone: timezones::for_country(&country).to_owned(),
        latitude,
        longitude,
        ..Default::default()
    }
    .validate()
    .map_err(SkipReason::Venue)?;
    let setlist_id = validate::optional_text("id", &s.id, 64)?;
    if !setlist_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(SkipReason::NotAnId(setlist_id));
    }
    let url = validate::url("url", &s.url)?;
    let mut entries = Vec::new();
    for set in s.all_sets() {
        let encore = set.encore.unwrap_or(0).clamp(0, 10);
        for song in &set.song {
            let title = song.name.trim();
            if title.is_empty() && !song.tape {
                continue; // an unnamed performed song carries no information
            }
            let mut info = song.info.trim().to_owned();
            if let Some(with) = song.with.as_ref().filter(|w| !w.name.trim().is_empty()) {
                let guest = format!("with {}", with.name.trim());
                info = if info.is_empty() { guest } else { format!("{info}; {guest}") };
            }
            entries.push(ActualEntryInput {
                title: title.to_owned(),
                song_id: None,
                encore,
                info: truncate(&info, MAX_INFO),
                cover_artist: song.cover.as_ref().map(|c| truncate(&c.name, validate::MAX_NAME)).unwrap_or_default(),
                is_tape: song.tape,
            });
        }
    }
    let label = format!("{} at {}, {} on {}", artist.name, venue.name, venue.city, date.format("%Y-%m-%d"));
    Ok(Prepared {
        setlist_id: (!setlist_id.is_empty()).then_some(setlist_id),
        url,
        label,
        artist,
        venue,
        date,
        title: s.tour.as_ref().map(|t| truncate(&t.name, validate::MAX_NAME)).unwrap_or_default(),
        entries,
    })
}

/// 20:00 on `date` in the zone `tz`, as unix seconds.
fn evening_start(date: NaiveDate, tz: &str) -> i64 {
    let local = date.and_hms_opt(SHOW_HOUR, 0, 0).expect("20:00 is a valid time");
    match tz.parse::<chrono_tz::Tz>() {
        Ok(zone) => zone
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.timestamp())
            .unwrap_or_else(|| local.and_utc().timestamp()),
        Err(_) => local.and_utc().timestamp(),
    }
}

fn audit(
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

pub(crate) fn resolve_artist(
    c: &Connection,
    a: &db::artists::NewArtist,
    actor: Option<i64>,
    now: i64,
    out: &mut Vec<Entry>,
) -> Result<i64, DomainError> {
    if let Some(mbid) = &a.mbid
        && let Some(found) = db::artists::by_mbid(c, mbid)?
    {
        return Ok(found.id);
    }
    if let Some(found) = db::artists::by_name(c, &a.name)? {
        match (&found.mbid, &a.mbid) {
            (None, Some(mbid)) => {
                let update = db::artists::NewArtist {
                    name: found.name.clone(),
                    slug: found.slug.clone(),
                    mbid: Some(mbid.clone()),
                    image_url: found.image_url.clone(),
                    genres: found.genres.clone(),
                    bio: found.bio.clone(),
                    links: found.links.clone(),
                };
                db::artists::update(c, found.id, &update, now)?;
                audit(c, actor, "artist.update", "artist", found.id, json!({"mbid": mbid, "source": "import"}), now)?;
                out.push(Entry::new(Kind::Artist, Outcome::Updated, &found.name).detail("MusicBrainz id set"));
                return Ok(found.id);
            }
            (Some(_), Some(_)) => {} // another artist of the same name
            (_, None) => return Ok(found.id),
        }
    }
    let id = tx::create_artist(c, a.clone(), actor, now)?;
    out.push(Entry::new(Kind::Artist, Outcome::Created, &a.name));
    Ok(id)
}

fn resolve_venue(
    c: &Connection,
    v: &db::venues::NewVenue,
    actor: Option<i64>,
    now: i64,
    out: &mut Vec<Entry>,
) -> Result<i64, DomainError> {
    if let Some(found) = db::venues::by_name_city(c, &v.name, &v.city)? {
        return Ok(found.id);
    }
    let id = tx::create_venue(c, v.clone(), actor, now)?;
    out.push(Entry::new(Kind::Venue, Outcome::Created, format!("{}, {}", v.name, v.city)));
    Ok(id)
}

/// The show a matched setlist belongs to, if it exists.
fn find_show(c: &Connection, p: &Prepared, artist_id: i64) -> Result<Option<db::shows::Show>, DomainError> {
    if let Some(sid) = &p.setlist_id
        && let Some(show) = db::shows::by_setlistfm_id(c, sid)?
    {
        return Ok(Some(show));
    }
    let day_start = p.date.and_hms_opt(0, 0, 0).expect("midnight is valid").and_utc().timestamp();
    match db::shows::by_artist_on_day(c, artist_id, day_start)? {
        Some(show) => {
            let linked = db::show_lifecycle::setlistfm_id(c, show.id)?;
            let other_setlist = matches!((&linked, &p.setlist_id), (Some(a), Some(b)) if a != b);
            Ok((!other_setlist).then_some(show))
        }
        None => Ok(None),
    }
}

/// Applies one prepared setlist. Any error leaves the caller's savepoint to roll everything back.
pub(crate) fn apply(
    c: &Connection,
    p: &Prepared,
    target: Target,
    actor: Option<i64>,
    now: i64,
) -> Result<Applied, DomainError> {
    let mut out = Vec::new();
    let (show, created) = match target {
        Target::Show(id) => (db::shows::by_id(c, id)?.ok_or(DomainError::NotFound("show"))?, false),
        Target::Match => {
            let artist_id = resolve_artist(c, &p.artist, actor, now, &mut out)?;
            match find_show(c, p, artist_id)? {
                Some(show) => (show, false),
                None => {
                    let venue_id = resolve_venue(c, &p.venue, actor, now, &mut out)?;
                    let venue = db::venues::by_id(c, venue_id)?.ok_or(DomainError::NotFound("venue"))?;
                    let starts_at = evening_start(p.date, &venue.timezone);
                    let show = db::shows::NewShow {
                        artist_id,
                        venue_id,
                        slug: String::new(),
                        title: p.title.clone(),
                        starts_at,
                        status: if starts_at <= now { ShowStatus::Locked } else { ShowStatus::Upcoming },
                        setlistfm_id: p.setlist_id.clone(),
                        setlistfm_url: p.url.clone(),
                        ticket_url: None,
                    };
                    let id = tx::create_show(c, show, actor, now)?;
                    if starts_at <= now {
                        // Nobody could vote on a show that is already over: drop the seeded prediction.
                        for seeded in db::songs::ranking(c, id)?.unwrap_or_default() {
                            db::songs::remove_from_show(c, id, seeded.song_id)?;
                        }
                    }
                    out.push(Entry::new(Kind::Show, Outcome::Created, &p.label));
                    (db::shows::by_id(c, id)?.ok_or(DomainError::NotFound("show"))?, true)
                }
            }
        }
    };

    let mut changed = false;
    if let Some(sid) = &p.setlist_id {
        let linked = db::show_lifecycle::setlistfm_id(c, show.id)?;
        let url_differs = p.url.is_some() && p.url != show.setlistfm_url;
        if linked.as_deref() != Some(sid.as_str()) || url_differs {
            if let Some(other) = db::shows::by_setlistfm_id(c, sid)?
                && other.id != show.id
            {
                return Err(DomainError::Conflict(format!(
                    "setlist.fm setlist {sid} is already linked to the show {}",
                    other.slug
                )));
            }
            db::show_lifecycle::link_setlistfm(c, show.id, sid, p.url.as_deref(), now)?;
            if !created {
                out.push(Entry::new(Kind::Show, Outcome::Updated, &p.label).detail("linked to setlist.fm"));
                changed = true;
            }
        }
    }

    for e in p.entries.iter().filter(|e| !e.is_tape && !e.title.is_empty()) {
        if db::songs::by_title(c, show.artist_id, &e.title)?.is_none() {
            let song = SongInput { title: e.title.clone(), ..Default::default() }.validate(show.artist_id)?;
            tx::create_song(c, song, actor, now)?;
            out.push(Entry::new(Kind::Song, Outcome::Created, &e.title).detail(format!("from {}", p.label)));
        }
    }

    let resolved = resolve_entries(c, show.artist_id, &p.entries)?;
    let mut stored_show = None;
    let mut note = None;
    if resolved.is_empty() {
        note = Some("no songs listed yet");
    } else {
        let current = db::setlists::actual(c, show.id)?;
        let needs_completion =
            show.starts_at <= now && !matches!(show.status, ShowStatus::Completed | ShowStatus::Cancelled);
        if current != resolved || needs_completion {
            let mut accuracy = store_actual(c, show.id, &resolved, now)?;
            if created && show.starts_at <= now {
                // A past show created here had no prediction, so there is nothing to score.
                db::shows::set_accuracy(c, show.id, None)?;
                accuracy = None;
            }
            audit(
                c,
                actor,
                "setlist.import",
                "show",
                show.id,
                json!({"source": "setlist.fm", "setlistfm_id": p.setlist_id, "songs": resolved.len(), "accuracy": accuracy}),
                now,
            )?;
            stored_show = Some(show.id);
            changed = true;
        }
    }
    let outcome = if created {
        Outcome::Created
    } else if changed {
        Outcome::Updated
    } else {
        Outcome::Unchanged
    };
    let mut entry = Entry::new(Kind::Setlist, outcome, &p.label);
    if let Some(n) = note {
        entry = entry.detail(n);
    } else if stored_show.is_some() {
        entry = entry.detail(format!("{} songs", resolved.len()));
    }
    out.push(entry);
    Ok(Applied { entries: out, stored_show })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evening_is_local() {
        let d = NaiveDate::from_ymd_opt(2024, 7, 1).unwrap();
        // 20:00 in London (BST, UTC+1) is 19:00 UTC.
        let t = evening_start(d, "Europe/London");
        assert_eq!(chrono::DateTime::from_timestamp(t, 0).unwrap().format("%H:%M").to_string(), "19:00");
        let t = evening_start(d, "UTC");
        assert_eq!(chrono::DateTime::from_timestamp(t, 0).unwrap().format("%H:%M").to_string(), "20:00");
    }

    #[test]
    fn prepare_explains_what_is_wrong() {
        let mut s: Setlist = serde_json::from_str(
            r#"{"id":"63de4613","eventDate":"31-02-2024","artist":{"name":"A","mbid":"83b9cbe7-9857-49e2-ab8e-b57b01038103"},
                "venue":{"name":"V","city":{"name":"C","country":{"code":"GB"}}}}"#,
        )
        .unwrap();
        assert!(prepare(&s).unwrap_err().to_string().contains("eventDate `31-02-2024`"));
        s.event_date = "28-02-2024".into();
        let p = prepare(&s).unwrap();
        assert_eq!(p.venue.timezone, "Europe/London");
        assert_eq!(p.label, "A at V, C on 2024-02-28");
        s.venue.as_mut().unwrap().city.as_mut().unwrap().country = None;
        assert!(prepare(&s).unwrap_err().to_string().contains("country"));
        s.artist = None;
        assert!(prepare(&s).unwrap_err().to_string().contains("no artist"));
    }

    #[test]
    fn songs_become_entries_with_notes() {
        let s: Setlist = serde_json::from_str(
            r#"{"id":"1","eventDate":"01-06-2024","artist":{"name":"A"},
                "venue":{"name":"V","city":{"name":"C","country":{"code":"DE"}}},
                "sets":{"set":[{"song":[{"name":"","tape":true},{"name":"One","with":{"name":"Guest"},"info":"acoustic"},
                {"name":""}]},{"encore":1,"song":[{"name":"Two","cover":{"name":"Other Band"}}]}]}}"#,
        )
        .unwrap();
        let p = prepare(&s).unwrap();
        assert_eq!(p.entries.len(), 3);
        assert!(p.entries[0].is_tape && p.entries[0].title.is_empty());
        assert_eq!(p.entries[1].info, "acoustic; with Guest");
        assert_eq!((p.entries[2].encore, p.entries[2].cover_artist.as_str()), (1, "Other Band"));
    }
}
