//! Small view models: dates formatted in the venue's time zone, totals precomputed.

use crate::db::shows::Show;

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
    pub votes: i64,
    pub id: i64,
    /// "Completed", "Cancelled", ... for shows that are not simply upcoming.
    pub status: String,
    pub accuracy: Option<f64>,
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

fn status_label(status: &str) -> &'static str {
    match status {
        "locked" => "Voting closed",
        "completed" => "Completed",
        "cancelled" => "Cancelled",
        _ => "",
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
            votes: s.vote_total,
            id: s.id,
            status: status_label(&s.status).to_owned(),
            accuracy: s.accuracy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
