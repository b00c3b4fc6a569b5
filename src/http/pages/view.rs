//! Small view models: dates formatted in the venue's time zone, totals precomputed.

use crate::domain::rows::{Show, ShowStatus};

pub struct ShowCard {
    pub slug: String,
    pub title: String,
    pub artist: String,
    pub artist_slug: String,
    pub venue: String,
    pub venue_slug: String,
    pub city: String,
    pub when: String,
    pub iso: String,
    /// The venue's IANA zone: the page script adds the time in the viewer's zone when it differs.
    pub tz: String,
    pub votes: i64,
    pub id: i64,
    /// "Completed", "Cancelled", ... for shows that are not simply upcoming.
    pub status: String,
    pub accuracy: Option<f64>,
    /// "2 d 4 h" while voting is open, empty once it has closed.
    pub closes_in: String,
    /// The artist's uploaded thumbnail, a name under `/media/` (`domain::THUMB_SIZE` square).
    pub thumb: Option<String>,
}

/// What link previews (Open Graph, Twitter cards) show of a page: `templates/meta.html`, included
/// by the show and artist pages. The template escapes every value.
pub struct Meta {
    pub title: String,
    pub description: String,
    /// The page's absolute address: only with a configured origin (`public_url` or `domain`), since
    /// the Host of a request is whatever the client sent.
    pub url: Option<String>,
    pub image: Option<String>,
}

/// The picture for link previews: the uploaded one (absolute, so only with a configured origin), else
/// the catalog's picture address if it is usable ([`preview_image`]).
pub fn preview_picture(uploaded: Option<&str>, origin: Option<&str>, stored: Option<&str>) -> Option<String> {
    match (uploaded, origin) {
        (Some(name), Some(o)) => Some(format!("{o}/media/{name}")),
        _ => preview_image(stored),
    }
}

/// A picture for link previews: only an absolute https URL (a relative or plain-http one would not
/// show, or would show a mixed-content warning), written out normalised.
pub fn preview_image(stored: Option<&str>) -> Option<String> {
    let u = url::Url::parse(stored?.trim()).ok()?;
    (u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty())).then(|| u.into())
}

fn zone(tz: &str) -> chrono_tz::Tz {
    tz.parse::<chrono_tz::Tz>().unwrap_or(chrono_tz::UTC)
}

/// "Sat 6 Jun 2026, 20:00 BST" in the venue's zone, and the RFC 3339 instant for `<time datetime>`.
pub fn local_time(ts: i64, tz: &str) -> (String, String) {
    let utc = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default();
    let iso = utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let when = utc.with_timezone(&zone(tz)).format("%a %-d %b %Y, %H:%M %Z").to_string();
    (when, iso)
}

/// The time left until voting closes, coarse enough to read at a glance: "2 d 4 h", "3 h 12 min",
/// "12 min", "less than a minute". The same wording as `assets/static/app.js`, which keeps it current.
pub fn countdown(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => "less than a minute".to_owned(),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// Seconds until voting on a show closes; None when it is not open.
pub fn open_for(s: &Show, now: i64) -> Option<i64> {
    s.status.voting_open(s.starts_at, now).then(|| s.starts_at - now)
}

/// "6 Jun 2026" (UTC): for sign-up dates and audit entries.
pub fn date(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default().format("%-d %b %Y").to_string()
}

/// "2026-06-06 18:00 UTC": for admin tables.
pub fn utc_minute(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default().format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The value of an `<input type="datetime-local">` for an instant, in the venue's zone.
pub fn datetime_local(ts: i64, tz: &str) -> String {
    let utc = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default();
    utc.with_timezone(&zone(tz)).format("%Y-%m-%dT%H:%M").to_string()
}

/// An `<input type="datetime-local">` value read in the venue's zone, as RFC 3339. RFC 3339 input
/// passes through unchanged; anything else is returned as is for the domain to refuse by name.
pub fn local_input_to_rfc3339(value: &str, tz: &str) -> String {
    use chrono::TimeZone;
    let v = value.trim();
    if chrono::DateTime::parse_from_rfc3339(v).is_ok() {
        return v.to_owned();
    }
    let naive = chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S"));
    match naive.ok().and_then(|n| zone(tz).from_local_datetime(&n).earliest()) {
        Some(t) => t.to_rfc3339(),
        None => v.to_owned(),
    }
}

fn status_label(status: ShowStatus) -> &'static str {
    match status {
        ShowStatus::Upcoming => "",
        ShowStatus::Locked => "Voting closed",
        ShowStatus::Completed => "Completed",
        ShowStatus::Cancelled => "Cancelled",
    }
}

impl From<&Show> for ShowCard {
    fn from(s: &Show) -> Self {
        let (when, iso) = local_time(s.starts_at, &s.venue_timezone);
        Self {
            slug: s.slug.clone(),
            title: s.title.clone(),
            artist: s.artist_name.clone(),
            artist_slug: s.artist_slug.clone(),
            venue: s.venue_name.clone(),
            venue_slug: s.venue_slug.clone(),
            city: s.venue_city.clone(),
            when,
            iso,
            tz: s.venue_timezone.clone(),
            votes: s.vote_total,
            id: s.id,
            status: status_label(s.status).to_owned(),
            accuracy: s.accuracy,
            closes_in: open_for(s, chrono::Utc::now().timestamp()).map(countdown).unwrap_or_default(),
            thumb: s.artist_thumb.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns_read_at_a_glance() {
        assert_eq!(countdown(2 * 86_400 + 4 * 3600 + 59 * 60), "2 d 4 h");
        assert_eq!(countdown(3 * 3600 + 12 * 60 + 5), "3 h 12 min");
        assert_eq!(countdown(12 * 60 + 59), "12 min");
        assert_eq!(countdown(59), "less than a minute");
    }

    #[test]
    fn preview_images_are_absolute_https_urls_only() {
        assert_eq!(
            preview_image(Some("https://img.example/a b.jpg")).as_deref(),
            Some("https://img.example/a%20b.jpg")
        );
        for bad in [None, Some(""), Some("/static/a.jpg"), Some("http://img.example/a.jpg"), Some("javascript:x")] {
            assert_eq!(preview_image(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn local_inputs_are_read_in_the_venue_zone() {
        // 20:00 in Berlin in June is 18:00 UTC.
        let t = local_input_to_rfc3339("2026-06-01T20:00", "Europe/Berlin");
        let parsed = chrono::DateTime::parse_from_rfc3339(&t).unwrap();
        assert_eq!(parsed.timestamp(), 1_780_336_800);
        assert_eq!(datetime_local(1_780_336_800, "Europe/Berlin"), "2026-06-01T20:00");
        assert_eq!(local_input_to_rfc3339("2026-06-01T20:00:00Z", "Europe/Berlin"), "2026-06-01T20:00:00Z");
        assert_eq!(local_input_to_rfc3339("tomorrow", "UTC"), "tomorrow");
    }
}
