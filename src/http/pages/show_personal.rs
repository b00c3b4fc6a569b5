//! Signed-in visitors' show pages from one shared render.
//!
//! Everything on a signed-in fan's show page is the same for every signed-in fan except their name
//! and form token in the page, which songs they voted for, and (after the show) their own picks.
//! So the page is rendered once per ranking generation with *holes* at those places (markers that
//! no stored text can contain), split into parts, and each request fills the holes from its session
//! and one indexed read of the visitor's votes. The filled page is byte for byte the page a full
//! render gives (tested below).

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};

/// Where a visitor's own state goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hole {
    /// The display name in the navigation.
    Name,
    /// The form token.
    Csrf,
    /// `aria-pressed` of the vote button of a song: "true" when the visitor voted for it.
    Pressed(i64),
    /// The vote button's label: "Voted" or "Vote".
    Label(i64),
    /// The "Your picks" paragraph (after voting closed).
    MyPicks,
}

enum Part {
    Text(Bytes),
    Hole(Hole),
}

/// A marker no stored text can hold: control characters are refused in every text field, and the
/// nonce is drawn per process, so a marker cannot be planted through the catalog either.
fn nonce() -> &'static str {
    static NONCE: OnceLock<String> = OnceLock::new();
    NONCE.get_or_init(|| format!("{:016x}", rand::random::<u64>()))
}

const OPEN: char = '\u{1}';
const CLOSE: char = '\u{2}';

fn marker(hole: Hole) -> String {
    let n = nonce();
    match hole {
        Hole::Name => format!("{OPEN}{n}N{CLOSE}"),
        Hole::Csrf => format!("{OPEN}{n}C{CLOSE}"),
        Hole::Pressed(id) => format!("{OPEN}{n}P{id}{CLOSE}"),
        Hole::Label(id) => format!("{OPEN}{n}L{id}{CLOSE}"),
        Hole::MyPicks => format!("{OPEN}{n}M{CLOSE}"),
    }
}

pub(super) fn name_marker() -> String {
    marker(Hole::Name)
}

pub(super) fn csrf_marker() -> String {
    marker(Hole::Csrf)
}

pub(super) fn pressed_marker(song_id: i64) -> String {
    marker(Hole::Pressed(song_id))
}

pub(super) fn label_marker(song_id: i64) -> String {
    marker(Hole::Label(song_id))
}

pub(super) fn my_picks_marker() -> String {
    marker(Hole::MyPicks)
}

/// What "Your picks" is made of: the ranking (its order and titles) and what was played.
pub(super) struct Picks {
    pub voting_open: bool,
    /// (song id, title) in ranking order.
    pub ranking: Vec<(i64, String)>,
    /// Songs performed (tape entries excluded).
    pub played: HashSet<i64>,
    /// Whether the actual setlist is in.
    pub setlist_in: bool,
}

#[derive(askama::Template)]
#[template(path = "show_my_picks.html")]
struct MyPicksTemplate<'a> {
    my_picks: Vec<&'a str>,
    called: Option<usize>,
}

impl Picks {
    /// The paragraph for a visitor who voted for `mine`: empty while voting is open or without picks.
    pub fn paragraph(&self, mine: &HashSet<i64>) -> Result<String, askama::Error> {
        let my_picks: Vec<&str> =
            self.ranking.iter().filter(|(id, _)| mine.contains(id)).map(|(_, t)| t.as_str()).collect();
        if self.voting_open || my_picks.is_empty() {
            return Ok(String::new());
        }
        let called = self.setlist_in.then(|| mine.iter().filter(|id| self.played.contains(id)).count());
        askama::Template::render(&MyPicksTemplate { my_picks, called })
    }
}

/// The visitor's own part of a page.
pub(super) struct Own<'a> {
    pub name: &'a str,
    pub csrf: &'a str,
    pub votes: &'a HashSet<i64>,
}

/// A page rendered with holes, ready to be filled per visitor.
pub(crate) struct HoledPage {
    parts: Vec<Part>,
    picks: Picks,
    /// Bytes of text, to size the filled page in one allocation.
    text_len: usize,
}

impl HoledPage {
    /// Splits a page rendered with markers at its holes.
    pub(super) fn new(rendered: &str, picks: Picks) -> Arc<Self> {
        let prefix = format!("{OPEN}{}", nonce());
        let mut parts = Vec::new();
        let mut text_len = 0;
        let mut text = |parts: &mut Vec<Part>, s: &str| {
            text_len += s.len();
            parts.push(Part::Text(Bytes::copy_from_slice(s.as_bytes())));
        };
        // `start`: where the current run of text began; `from`: where to look for the next marker.
        let (mut start, mut from) = (0, 0);
        while let Some(found) = rendered[from..].find(&prefix) {
            let at = from + found;
            let body = at + prefix.len();
            let hole = rendered[body..]
                .find(CLOSE)
                .and_then(|end| parse_hole(&rendered[body..body + end]).map(|h| (h, body + end + CLOSE.len_utf8())));
            match hole {
                Some((hole, next)) => {
                    text(&mut parts, &rendered[start..at]);
                    parts.push(Part::Hole(hole));
                    (start, from) = (next, next);
                }
                None => from = body,
            }
        }
        text(&mut parts, &rendered[start..]);
        Arc::new(HoledPage { parts, picks, text_len })
    }

    /// The page for one visitor.
    pub(super) fn fill(&self, own: &Own<'_>) -> Result<Bytes, askama::Error> {
        let name = escape(own.name);
        let csrf = escape(own.csrf);
        let picks = self.picks.paragraph(own.votes)?;
        let mut page = BytesMut::with_capacity(self.text_len + 2048);
        for part in &self.parts {
            match part {
                Part::Text(t) => page.extend_from_slice(t),
                Part::Hole(Hole::Name) => page.extend_from_slice(name.as_bytes()),
                Part::Hole(Hole::Csrf) => page.extend_from_slice(csrf.as_bytes()),
                Part::Hole(Hole::Pressed(id)) => {
                    page.extend_from_slice(if own.votes.contains(id) { b"true" } else { b"false" })
                }
                Part::Hole(Hole::Label(id)) => {
                    page.extend_from_slice(if own.votes.contains(id) { b"Voted" } else { b"Vote" })
                }
                Part::Hole(Hole::MyPicks) => page.extend_from_slice(picks.as_bytes()),
            }
        }
        Ok(page.freeze())
    }
}

fn parse_hole(s: &str) -> Option<Hole> {
    let (kind, rest) = s.split_at_checked(1)?;
    let id = || rest.parse::<i64>().ok();
    match kind {
        "N" if rest.is_empty() => Some(Hole::Name),
        "C" if rest.is_empty() => Some(Hole::Csrf),
        "M" if rest.is_empty() => Some(Hole::MyPicks),
        "P" => id().map(Hole::Pressed),
        "L" => id().map(Hole::Label),
        _ => None,
    }
}

/// HTML escaping exactly as the templates do it.
fn escape(s: &str) -> String {
    askama::filters::escape(s, askama::filters::Html).map(|e| e.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picks() -> Picks {
        Picks {
            voting_open: false,
            ranking: vec![(1, "One".into()), (2, "Two & <Three>".into()), (3, "Four".into())],
            played: [2, 3].into(),
            setlist_in: true,
        }
    }

    #[test]
    fn holes_are_filled_with_the_visitors_own_state() {
        let rendered = format!(
            "<a>{}</a><input value=\"{}\"><b aria-pressed=\"{}\">{}</b><i aria-pressed=\"{}\">{}</i>{}!",
            name_marker(),
            csrf_marker(),
            pressed_marker(2),
            label_marker(2),
            pressed_marker(1),
            label_marker(1),
            my_picks_marker()
        );
        let page = HoledPage::new(&rendered, picks());
        let votes: HashSet<i64> = [2, 3].into();
        let own = Own { name: "Ann \"<b>\"", csrf: "tok", votes: &votes };
        let filled = String::from_utf8(page.fill(&own).unwrap().to_vec()).unwrap();
        assert_eq!(
            filled,
            "<a>Ann &#34;&#60;b&#62;&#34;</a><input value=\"tok\"><b aria-pressed=\"true\">Voted</b>\
             <i aria-pressed=\"false\">Vote</i><p class=\"my-picks\" id=\"my-picks\">Your picks: \
             Two &#38; &#60;Three&#62;, Four. <strong>You called 2 of 2.</strong></p>!"
        );
    }

    #[test]
    fn text_that_only_looks_like_a_marker_is_left_alone() {
        let rendered = format!("a\u{1}N\u{2}b\u{1}{}X\u{2}c{}", nonce(), csrf_marker());
        let page = HoledPage::new(&rendered, picks());
        let own = Own { name: "n", csrf: "tok", votes: &HashSet::new() };
        let filled = String::from_utf8(page.fill(&own).unwrap().to_vec()).unwrap();
        assert_eq!(filled, format!("a\u{1}N\u{2}b\u{1}{}X\u{2}ctok", nonce()));
    }

    #[test]
    fn no_picks_while_voting_is_open_or_without_votes() {
        let open = Picks { voting_open: true, ..picks() };
        assert_eq!(open.paragraph(&[1].into()).unwrap(), "");
        assert_eq!(picks().paragraph(&HashSet::new()).unwrap(), "");
        let before = Picks { setlist_in: false, ..picks() };
        assert!(!before.paragraph(&[1].into()).unwrap().contains("called"));
    }
}
