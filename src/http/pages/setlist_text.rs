//! The actual-setlist textarea of the admin show page: one song per line.
//!
//! ```text
//! Intro                         a line is one song of the main set
//! tape: Also sprach Zarathustra played from tape (not counted for accuracy)
//! Wild Horses | cover: The Rolling Stones | acoustic
//! Encore:                       a marker line: the following songs are the (next) encore
//! * Last Song                   or mark single lines: `*` encore 1, `**` encore 2, ...
//! ```
//! Parts after `|` are `cover: ARTIST` or a free note (info). Parsing is forgiving; the domain
//! validates lengths and matches titles to the catalog.

use crate::domain::ActualEntryInput;
use crate::domain::rows::SetlistEntry;

fn is_encore_marker(line: &str) -> bool {
    let l = line.trim_end_matches(':').trim().to_ascii_lowercase();
    l == "encore" || l.strip_prefix("encore ").is_some_and(|n| n.trim().parse::<u8>().is_ok())
}

pub fn parse(text: &str) -> Vec<ActualEntryInput> {
    let mut entries = Vec::new();
    let mut section_encore = 0i64;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if is_encore_marker(line) {
            section_encore += 1;
            continue;
        }
        let stars = line.chars().take_while(|c| *c == '*').count();
        let line = line[stars..].trim();
        let mut parts = line.split('|').map(str::trim);
        let mut title = parts.next().unwrap_or_default();
        let mut is_tape = false;
        if let Some(rest) = title.strip_prefix("tape:").or_else(|| title.strip_prefix("Tape:")) {
            title = rest.trim();
            is_tape = true;
        }
        let mut cover_artist = String::new();
        let mut notes = Vec::new();
        for part in parts.filter(|p| !p.is_empty()) {
            match part.strip_prefix("cover:").or_else(|| part.strip_prefix("Cover:")) {
                Some(artist) => cover_artist = artist.trim().to_owned(),
                None => notes.push(part),
            }
        }
        entries.push(ActualEntryInput {
            title: title.to_owned(),
            song_id: None,
            encore: if stars > 0 { stars as i64 } else { section_encore },
            info: notes.join("; "),
            cover_artist,
            is_tape,
        });
    }
    entries
}

/// The stored setlist in the textarea's syntax (so editing starts from what is there).
pub fn format(entries: &[SetlistEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&"*".repeat(e.encore.clamp(0, 10) as usize));
        if e.encore > 0 {
            out.push(' ');
        }
        if e.is_tape {
            out.push_str("tape: ");
        }
        out.push_str(&e.title);
        if !e.cover_artist.is_empty() {
            out.push_str(" | cover: ");
            out.push_str(&e.cover_artist);
        }
        if !e.info.is_empty() {
            out.push_str(" | ");
            out.push_str(&e.info);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_markers_tapes_and_covers() {
        let e = parse(
            "tape: Intro\nFirst Song\n\nWild Horses | cover: The Rolling Stones | acoustic\nEncore:\nSecond\n** Third\n",
        );
        assert_eq!(e.len(), 5);
        assert!(e[0].is_tape && e[0].title == "Intro");
        assert_eq!((e[1].title.as_str(), e[1].encore), ("First Song", 0));
        assert_eq!(e[2].cover_artist, "The Rolling Stones");
        assert_eq!(e[2].info, "acoustic");
        assert_eq!((e[3].title.as_str(), e[3].encore), ("Second", 1));
        assert_eq!((e[4].title.as_str(), e[4].encore), ("Third", 2));
        assert_eq!(parse("* Last")[0].encore, 1);
        assert!(parse("  \n\n").is_empty());
    }

    #[test]
    fn formatting_round_trips() {
        let text = "tape: Intro\nFirst Song | cover: Someone | acoustic\n* Closer\n";
        let entries: Vec<SetlistEntry> = parse(text)
            .into_iter()
            .enumerate()
            .map(|(i, e)| SetlistEntry {
                position: i as i64 + 1,
                song_id: None,
                title: e.title,
                encore: e.encore,
                info: e.info,
                cover_artist: e.cover_artist,
                is_tape: e.is_tape,
            })
            .collect();
        assert_eq!(format(&entries), text);
    }
}
