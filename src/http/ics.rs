//! A small iCalendar (RFC 5545) writer: one `VCALENDAR` of `VEVENT`s with the properties calendar
//! apps need to show a concert (UID, DTSTAMP, DTSTART/DTEND in UTC, SUMMARY, LOCATION, URL,
//! DESCRIPTION, STATUS). It imports nothing else from the crate.
//!
//! What it guarantees, whatever the catalog holds: every line ends in CRLF; no line is longer than
//! 75 octets (longer ones are folded: CRLF and a space, never inside a UTF-8 character, RFC 5545
//! 3.1); TEXT values escape backslash, semicolon, comma and newlines (3.3.11) and drop other control
//! characters, so a venue called `Bar; DTSTART:…` stays one value. Times are written in UTC
//! (`…Z`): no VTIMEZONE is needed and every app shows the venue's instant in its own zone.
//!
//! Rejected: the `icalendar` crate. This subset is about a hundred lines; a crate would add a
//! dependency (and its own escaping and folding rules to audit) for four properties.

/// One event. Times are Unix seconds.
pub struct Event {
    /// Stable across downloads and feeds, so that a calendar updates the event instead of adding it
    /// again (`show-<id>@<host>`).
    pub uid: String,
    pub start: i64,
    pub end: i64,
    pub summary: String,
    pub location: String,
    /// An absolute URL (written as a URI value, not escaped as text); None when not known.
    pub url: Option<String>,
    pub description: String,
    pub cancelled: bool,
}

/// The calendar as text: `name` (the feed's title in calendar apps) when given, `now` as DTSTAMP.
pub fn calendar(name: Option<&str>, events: &[Event], now: i64) -> String {
    let mut out = String::new();
    let mut line = |s: &str| fold_into(&mut out, s);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line("PRODID:-//MySetlist//MySetlist//EN");
    line("CALSCALE:GREGORIAN");
    line("METHOD:PUBLISH");
    if let Some(n) = name {
        line(&format!("X-WR-CALNAME:{}", text(n)));
    }
    for e in events {
        line("BEGIN:VEVENT");
        line(&format!("UID:{}", text(&e.uid)));
        line(&format!("DTSTAMP:{}", utc(now)));
        line(&format!("DTSTART:{}", utc(e.start)));
        line(&format!("DTEND:{}", utc(e.end)));
        line(&format!("SUMMARY:{}", text(&e.summary)));
        if !e.location.is_empty() {
            line(&format!("LOCATION:{}", text(&e.location)));
        }
        if let Some(u) = &e.url {
            // A URI may not hold control characters; one that does is left out rather than written.
            if !u.chars().any(char::is_control) {
                line(&format!("URL:{u}"));
            }
        }
        if !e.description.is_empty() {
            line(&format!("DESCRIPTION:{}", text(&e.description)));
        }
        line(if e.cancelled { "STATUS:CANCELLED" } else { "STATUS:CONFIRMED" });
        line("END:VEVENT");
    }
    line("END:VCALENDAR");
    out
}

/// `20260606T180000Z`.
fn utc(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default().format("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value: `\` `;` `,` escaped, newlines (CRLF, CR or LF) as `\n`, other control characters
/// dropped.
pub fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets, with CRLF.
fn fold_into(out: &mut String, line: &str) {
    const MAX: usize = 75;
    let mut rest = line;
    let mut budget = MAX;
    while rest.len() > budget {
        let mut cut = budget;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        // A continuation line starts with the space, which counts.
        budget = MAX - 1;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unfold(s: &str) -> String {
        s.replace("\r\n ", "")
    }

    fn event() -> Event {
        Event {
            uid: "show-7@vote.example.org".into(),
            start: 1_780_336_800,
            end: 1_780_336_800 + 3 * 3600,
            summary: "Björk at Hall; Main, Room".into(),
            location: "Hall, Berlin".into(),
            url: Some("https://vote.example.org/shows/bjork".into()),
            description: "Vote on the setlist:\nhttps://vote.example.org/shows/bjork".into(),
            cancelled: false,
        }
    }

    #[test]
    fn text_escapes_backslash_semicolon_comma_and_newlines() {
        assert_eq!(text(r"a\b;c,d"), r"a\\b\;c\,d");
        assert_eq!(text("one\ntwo\r\nthree\rfour"), r"one\ntwo\nthree\nfour");
        assert_eq!(text("bell\u{7}tab\there"), "belltabhere");
        // An attempt to start a property of its own stays inside the value.
        assert_eq!(text("x\nDTSTART:1"), r"x\nDTSTART:1");
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let mut out = String::new();
        let long = format!("SUMMARY:{}", "ö".repeat(100));
        fold_into(&mut out, &long);
        let lines: Vec<&str> = out.split_terminator("\r\n").collect();
        assert!(lines.len() > 2, "{out}");
        for (i, l) in lines.iter().enumerate() {
            assert!(l.len() <= 75, "line {i} has {} octets", l.len());
            assert_eq!(i > 0, l.starts_with(' '), "continuations start with a space: {l:?}");
        }
        assert_eq!(unfold(&out), format!("{long}\r\n"));
        // Exactly 75 octets is not folded.
        let mut out = String::new();
        fold_into(&mut out, &"x".repeat(75));
        assert_eq!(out, format!("{}\r\n", "x".repeat(75)));
    }

    #[test]
    fn a_calendar_has_crlf_lines_and_one_event_with_utc_times() {
        let cal = calendar(None, &[event()], 1_780_000_000);
        assert!(cal.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"), "{cal}");
        assert!(cal.ends_with("END:VCALENDAR\r\n"));
        assert!(!cal.replace("\r\n", "").contains('\n'), "no bare LF");
        for l in cal.split_terminator("\r\n") {
            assert!(l.len() <= 75, "{l}");
        }
        let flat = unfold(&cal);
        for want in [
            "UID:show-7@vote.example.org\r\n",
            "DTSTAMP:20260528T202640Z\r\n",
            "DTSTART:20260601T180000Z\r\n",
            "DTEND:20260601T210000Z\r\n",
            "SUMMARY:Björk at Hall\\; Main\\, Room\r\n",
            "LOCATION:Hall\\, Berlin\r\n",
            "URL:https://vote.example.org/shows/bjork\r\n",
            "DESCRIPTION:Vote on the setlist:\\nhttps://vote.example.org/shows/bjork\r\n",
            "STATUS:CONFIRMED\r\n",
        ] {
            assert!(flat.contains(want), "{want:?} in {flat}");
        }
        assert_eq!(flat.matches("BEGIN:VEVENT").count(), 1);
        assert!(!flat.contains("X-WR-CALNAME"));
    }

    #[test]
    fn a_feed_is_named_and_an_unknown_url_is_left_out() {
        let mut e = event();
        e.url = None;
        e.cancelled = true;
        let cal = unfold(&calendar(Some("MySetlist: followed, artists"), &[e], 0));
        assert!(cal.contains("X-WR-CALNAME:MySetlist: followed\\, artists\r\n"));
        assert!(!cal.contains("URL:"));
        assert!(cal.contains("STATUS:CANCELLED\r\n"));
        assert!(calendar(None, &[], 0).contains("METHOD:PUBLISH\r\n"));
    }
}
