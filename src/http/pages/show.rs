//! The show page: the fans' ranking with vote buttons and "add a song"; after the show the actual
//! setlist beside the prediction, hits marked, with the accuracy.
//!
//! Signed-out visitors (when anonymous voting is off) all see the same page, so it is rendered once
//! per ranking generation and served from `AppState::page_cache` until the next vote or edit.
//! Signed-in visitors share one render per generation too, with holes for their own state
//! (`show_personal`). The forms the page posts are answered in `show_forms`.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use poem::web::{Data, Path};
use poem::{Response, handler};

use super::show_personal::{self, HoledPage, Own, Picks};
use super::view::{Meta, ShowCard, local_time, open_for, preview_picture};
use super::{Layout, html_bytes, render_failed, respond};
use crate::domain::rows::SetlistEntry;
use crate::domain::rows::Show;
use crate::domain::{DomainError, ShowPage};
use crate::http::auth::Visitor;
use crate::http::error::AppError;
use crate::http::state::{AppState, PageKey};

pub struct RankRow {
    pub song_id: i64,
    pub title: String,
    pub album: String,
    pub total: i64,
    pub anon: i64,
    /// Whether the visitor voted for it (a hole in a page shared by every signed-in visitor).
    pub mine: Mine,
    /// Played at the show (known once the actual setlist is in).
    pub played: bool,
    /// Played and within the fans' top N (counts for the accuracy).
    pub hit: bool,
}

pub enum Mine {
    Yes,
    No,
    Hole,
}

impl RankRow {
    /// The vote button's `aria-pressed`.
    pub fn pressed(&self) -> std::borrow::Cow<'static, str> {
        match self.mine {
            Mine::Yes => "true".into(),
            Mine::No => "false".into(),
            Mine::Hole => show_personal::pressed_marker(self.song_id).into(),
        }
    }

    /// The vote button's label.
    pub fn label(&self) -> std::borrow::Cow<'static, str> {
        match self.mine {
            Mine::Yes => "Voted".into(),
            Mine::No => "Vote".into(),
            Mine::Hole => show_personal::label_marker(self.song_id).into(),
        }
    }
}

pub struct ActualRow {
    pub title: String,
    pub info: String,
    pub cover: String,
    pub tape: bool,
    /// The song was in the fans' top N.
    pub hit: bool,
}

/// The main set or one encore.
pub struct SetGroup {
    pub label: String,
    /// Number of the first entry (numbering runs on across sets).
    pub start: usize,
    pub entries: Vec<ActualRow>,
}

/// A title the add-song field suggests.
pub struct SongOption {
    pub title: String,
}

#[derive(askama::Template)]
#[template(path = "show.html")]
struct ShowTemplate {
    layout: Layout,
    meta: Meta,
    show: ShowCard,
    voting_open: bool,
    can_vote: bool,
    signed_in: bool,
    ranking: Vec<RankRow>,
    total_votes: i64,
    /// The most votes any song has (at least 1): the share bars are relative to it.
    top_votes: i64,
    addable: Vec<SongOption>,
    sets: Vec<SetGroup>,
    performed: usize,
    hits: usize,
    accuracy: Option<f64>,
    setlistfm_url: Option<String>,
    ticket_url: Option<String>,
    /// "Your picks" (ranking order, how many were played), shown once voting has closed.
    my_picks_html: String,
    error: Option<String>,
    /// Why a typed song title was not added (shown next to the field).
    add_song_error: Option<String>,
}

#[handler]
pub async fn show_page(Data(state): Data<&Arc<AppState>>, Path(slug): Path<String>, mut visitor: Visitor) -> Response {
    let result = render_show(state, &slug, &mut visitor, None).await;
    respond(&mut visitor, &format!("/shows/{slug}"), result)
}

/// The setlist split into main set and encores, each entry marked when the fans predicted it.
fn group_sets(actual: &[SetlistEntry], top_n: &HashSet<i64>) -> Vec<SetGroup> {
    let encores = actual.iter().map(|e| e.encore).max().unwrap_or(0);
    let mut sets: Vec<SetGroup> = Vec::new();
    for (i, e) in actual.iter().enumerate() {
        let label = match e.encore {
            0 => "Main set".to_owned(),
            _ if encores == 1 => "Encore".to_owned(),
            n => format!("Encore {n}"),
        };
        if sets.last().is_none_or(|s| s.label != label) {
            sets.push(SetGroup { label, start: i + 1, entries: Vec::new() });
        }
        let row = ActualRow {
            title: if e.title.is_empty() { "(tape)".into() } else { e.title.clone() },
            info: e.info.clone(),
            cover: e.cover_artist.clone(),
            tape: e.is_tape,
            hit: !e.is_tape && e.song_id.is_some_and(|id| top_n.contains(&id)),
        };
        if let Some(set) = sets.last_mut() {
            set.entries.push(row);
        }
    }
    sets
}

/// Link previews: who, where, when (in the venue's zone) and, once fans have voted, their top three.
fn meta(page: &ShowPage, show: &ShowCard, origin: Option<&str>) -> Meta {
    let mut description = format!("{} at {}, {} · {}.", show.artist, show.venue, show.city, show.when);
    let top: Vec<&str> =
        page.ranking.iter().filter(|r| r.votes + r.anon_votes > 0).take(3).map(|r| r.title.as_str()).collect();
    if !top.is_empty() {
        description.push_str(&format!(" Fans' top picks: {}.", top.join(", ")));
    }
    Meta {
        title: if show.title.is_empty() { format!("{} at {}", show.artist, show.venue) } else { show.title.clone() },
        description,
        url: origin.map(|o| format!("{o}/shows/{}", show.slug)),
        image: preview_picture(page.show.artist_image.as_deref(), origin, page.show.artist_image_url.as_deref()),
    }
}

fn build(
    page: &ShowPage,
    layout: Layout,
    origin: Option<&str>,
    can_vote: bool,
    signed_in: bool,
    error: Option<String>,
    own: &OwnVotes,
) -> Result<ShowTemplate, askama::Error> {
    // The accuracy compares the fans' top N with the N songs performed (tape entries excluded).
    let performed: Vec<&SetlistEntry> = page.actual.iter().filter(|e| !e.is_tape).collect();
    let n = performed.len();
    let played: HashSet<i64> = performed.iter().filter_map(|e| e.song_id).collect();
    // Only songs somebody voted for are a prediction: with no votes nothing was predicted.
    let voted = page.ranking.iter().take_while(|r| r.votes + r.anon_votes > 0).count();
    let top_n: HashSet<i64> = page.ranking.iter().take(n.min(voted)).map(|r| r.song_id).collect();
    let hits = top_n.iter().filter(|id| played.contains(id)).count();
    let mine = |id: i64| match own {
        OwnVotes::Known(votes) if votes.contains(&id) => Mine::Yes,
        OwnVotes::Known(_) => Mine::No,
        OwnVotes::Holes => Mine::Hole,
    };
    let picks = picks_of(page);
    let my_picks_html = match own {
        OwnVotes::Known(votes) => picks.paragraph(votes)?,
        OwnVotes::Holes => show_personal::my_picks_marker(),
    };
    let mut show = ShowCard::from(&page.show);
    (show.when, show.iso) = local_time(page.show.starts_at, &page.show.venue_timezone);
    Ok(ShowTemplate {
        layout,
        meta: meta(page, &show, origin),
        voting_open: page.voting_open,
        can_vote,
        signed_in,
        ranking: page
            .ranking
            .iter()
            .enumerate()
            .map(|(i, r)| RankRow {
                song_id: r.song_id,
                title: r.title.clone(),
                album: r.album.clone(),
                total: r.votes + r.anon_votes,
                anon: r.anon_votes,
                mine: mine(r.song_id),
                played: played.contains(&r.song_id),
                hit: i < n.min(voted) && played.contains(&r.song_id),
            })
            .collect(),
        total_votes: page.ranking.iter().map(|r| r.votes + r.anon_votes).sum(),
        top_votes: page.ranking.iter().map(|r| r.votes + r.anon_votes).max().unwrap_or(0).max(1),
        addable: page.addable.iter().map(|s| SongOption { title: s.title.clone() }).collect(),
        sets: group_sets(&page.actual, &top_n),
        performed: n,
        hits,
        accuracy: page.show.accuracy.filter(|_| voted > 0),
        setlistfm_url: page.show.setlistfm_url.clone(),
        ticket_url: page.show.ticket_url.clone(),
        my_picks_html,
        show,
        error,
        add_song_error: None,
    })
}

/// What "Your picks" is made of on this page.
fn picks_of(page: &ShowPage) -> Picks {
    Picks {
        voting_open: page.voting_open,
        ranking: page.ranking.iter().map(|r| (r.song_id, r.title.clone())).collect(),
        played: page.actual.iter().filter(|e| !e.is_tape).filter_map(|e| e.song_id).collect(),
        setlist_in: !page.actual.is_empty(),
    }
}

/// What a render knows of the visitor's own votes: the set, or nothing (the page shared by every
/// signed-in visitor, with holes that `show_personal` fills per request).
pub enum OwnVotes {
    Known(HashSet<i64>),
    Holes,
}

/// What a cached page is filed under: the show, its ranking generation (bumped by every vote and
/// edit) and the minutes voting stays open (None once closed), which keep the countdown current.
fn page_key(state: &AppState, show: &Show) -> PageKey {
    let open_minutes = open_for(show, state.domain.now()).map(|secs| secs / 60);
    (show.id, state.domain.ranking_generation(show.id), open_minutes)
}

/// A signed-in visitor's page: the render shared by every signed-in visitor (staff or not) for the
/// show's current generation, made on the first request, filled with the visitor's own name, form
/// token and votes (one indexed read). Same freshness rule as the signed-out cache above.
async fn signed_in_page(state: &AppState, slug: &str, visitor: &Visitor) -> Result<Response, AppError> {
    let layout = Layout::new(visitor);
    let voter = visitor.existing_voter().ok_or(AppError::Domain(DomainError::Unauthorized))?;
    let staff = layout.is_staff;
    let cached = state.shows_by_slug.get(slug).and_then(|show| {
        let page = state.personal_pages.get(&(page_key(state, &show), staff))?;
        Some((show.id, page))
    });
    let (show_id, holed) = match cached {
        Some(hit) => hit,
        None => {
            let show = state.domain.show_by_slug(slug).await?;
            let key = (page_key(state, &show), staff);
            state.shows_by_slug.insert(slug.to_owned(), Arc::new(show.clone()));
            let show_id = show.id;
            match state.personal_pages.get(&key) {
                Some(holed) => (show_id, holed),
                None => {
                    let page = state.domain.show_page(show, None).await?;
                    let shared = Layout {
                        user: Some(show_personal::name_marker()),
                        csrf: show_personal::csrf_marker(),
                        ..layout.clone()
                    };
                    let origin = super::public_origin(state);
                    let t = build(&page, shared, origin, true, true, None, &OwnVotes::Holes).map_err(render_failed)?;
                    let holed = HoledPage::new(&askama::Template::render(&t).map_err(render_failed)?, picks_of(&page));
                    state.personal_pages.insert(key, holed.clone());
                    (show_id, holed)
                }
            }
        }
    };
    let votes: HashSet<i64> = state.domain.my_votes(show_id, &voter).await?.iter().copied().collect();
    let own = Own { name: layout.user.as_deref().unwrap_or_default(), csrf: &layout.csrf, votes: &votes };
    Ok(html_bytes(holed.fill(&own).map_err(render_failed)?))
}

/// Renders the page; `error` (a refused form) is shown above the ranking with a 4xx status.
pub(super) async fn render_show(
    state: &AppState,
    slug: &str,
    visitor: &mut Visitor,
    error: Option<AppError>,
) -> Result<Response, AppError> {
    if error.is_none() && visitor.user().is_some() {
        return signed_in_page(state, slug, visitor).await;
    }
    let anonymous = state.config.settings.voting.anonymous;
    let cacheable = error.is_none() && visitor.session.is_none() && !anonymous && visitor.pending_cookies().is_empty();
    // Fast path, no database read: a page filed under the current generation of the show last seen
    // at this slug. Pages are only filed after reading the show afresh, and any change to the show
    // bumps its generation, so a page found here is current even if the slug entry is not.
    if cacheable
        && let Some(show) = state.shows_by_slug.get(slug)
        && let Some(page) = state.page_cache.get(&page_key(state, &show))
    {
        return Ok(html_bytes(page));
    }
    let show = state.domain.show_by_slug(slug).await?;
    // The key is read before the ranking: a vote landing during rendering bumps the generation, so
    // this (possibly older) page is filed under the old key and never served after the vote.
    let key = page_key(state, &show);
    if cacheable {
        state.shows_by_slug.insert(slug.to_owned(), Arc::new(show.clone()));
        if let Some(page) = state.page_cache.get(&key) {
            return Ok(html_bytes(page));
        }
    }
    let voter = visitor.existing_voter();
    let page = state.domain.show_page(show, voter.as_ref()).await?;
    let signed_in = visitor.user().is_some();
    let can_vote = signed_in || anonymous;
    let layout = if can_vote && page.voting_open { Layout::with_csrf(visitor) } else { Layout::new(visitor) };
    let status = error.as_ref().map(AppError::status);
    // A typed title that named no song is answered next to the field it was typed in.
    let (error, add_song_error) = match error {
        Some(AppError::Domain(DomainError::Invalid { field, message })) if field == "title" => {
            (None, Some(super::form_errors::sentence("", &message)))
        }
        other => (other.map(|e| e.public_message()), None),
    };
    let origin = super::public_origin(state);
    let own = OwnVotes::Known(page.my_votes.iter().copied().collect());
    let mut t = build(&page, layout, origin, can_vote, signed_in, error, &own).map_err(render_failed)?;
    t.add_song_error = add_song_error;
    let body = Bytes::from(askama::Template::render(&t).map_err(render_failed)?);
    if cacheable {
        state.page_cache.insert(key, body.clone());
    }
    let mut resp = html_bytes(body);
    if let Some(s) = status {
        resp.set_status(s);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Ranking;
    use crate::domain::rows::{RankedSong, Song};

    fn page(voting_open: bool, actual: Vec<SetlistEntry>) -> ShowPage {
        let song = |id: i64, title: &str, votes| RankedSong {
            song_id: id,
            title: title.into(),
            album: "Album".into(),
            votes,
            anon_votes: 0,
        };
        let show = Show {
            id: 7,
            slug: "band-hall-2027".into(),
            title: String::new(),
            starts_at: 1_900_000_000,
            status: crate::domain::rows::ShowStatus::Upcoming,
            artist_id: 1,
            artist_name: "Band <& Co>".into(),
            artist_slug: "band".into(),
            venue_id: 2,
            venue_name: "Hall".into(),
            venue_slug: "hall".into(),
            venue_city: "Town".into(),
            venue_country: "NL".into(),
            venue_timezone: "Europe/Amsterdam".into(),
            setlistfm_url: None,
            accuracy: None,
            vote_total: 5,
            trend_score: 0.0,
            trend_at: 0,
            ticket_url: None,
            artist_image_url: None,
            artist_thumb: None,
            artist_image: None,
        };
        let addable = vec![Song {
            id: 9,
            artist_id: 1,
            title: "Extra \"quoted\"".into(),
            album: String::new(),
            duration_s: None,
            is_live: false,
            is_remix: false,
            popularity: 0,
        }];
        ShowPage {
            show,
            voting_open,
            ranking: Arc::new(Ranking::new(vec![song(1, "One", 3), song(2, "Two & <b>", 2), song(3, "Three", 0)])),
            addable,
            actual,
            my_votes: Vec::new(),
        }
    }

    fn entry(position: i64, song_id: i64, title: &str) -> SetlistEntry {
        SetlistEntry {
            position,
            song_id: Some(song_id),
            title: title.into(),
            encore: 0,
            info: String::new(),
            cover_artist: String::new(),
            is_tape: false,
        }
    }

    fn layout(name: &str, csrf: &str, is_staff: bool) -> Layout {
        Layout {
            css_url: "/static/app.css".into(),
            js_url: "/static/app.js".into(),
            icon_url: "/static/icon.svg".into(),
            user: Some(name.into()),
            is_staff,
            csrf: csrf.into(),
        }
    }

    fn full_render(page: &ShowPage, layout: Layout, votes: &HashSet<i64>) -> String {
        let t = build(page, layout, None, true, true, None, &OwnVotes::Known(votes.clone())).unwrap();
        askama::Template::render(&t).unwrap()
    }

    fn filled_shared_render(page: &ShowPage, layout: Layout, votes: &HashSet<i64>) -> String {
        let shared =
            Layout { user: Some(show_personal::name_marker()), csrf: show_personal::csrf_marker(), ..layout.clone() };
        let t = build(page, shared, None, true, true, None, &OwnVotes::Holes).unwrap();
        let holed = HoledPage::new(&askama::Template::render(&t).unwrap(), picks_of(page));
        let own = Own { name: layout.user.as_deref().unwrap(), csrf: &layout.csrf, votes };
        String::from_utf8(holed.fill(&own).unwrap().to_vec()).unwrap()
    }

    #[test]
    fn a_filled_shared_page_is_byte_for_byte_the_full_render() {
        let pages = [
            page(true, Vec::new()),
            page(false, Vec::new()),
            page(false, vec![entry(1, 2, "Two & <b>"), entry(2, 3, "Three")]),
        ];
        let voters = [HashSet::new(), HashSet::from([2]), HashSet::from([1, 3])];
        for (p, page) in pages.iter().enumerate() {
            for votes in &voters {
                for staff in [false, true] {
                    let layout = layout("Ann \"<Fan>\" & co", "csrf-token-123", staff);
                    let full = full_render(page, layout.clone(), votes);
                    assert_eq!(full, filled_shared_render(page, layout, votes), "page {p}, votes {votes:?}");
                    if !votes.is_empty() && p > 0 {
                        assert!(full.contains("Your picks:"), "page {p} shows the picks");
                    }
                }
            }
        }
    }
}
