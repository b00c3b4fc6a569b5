//! Search: full-text results over artists, songs and venues, grouped by kind, with the upcoming
//! shows of what was found; a misspelt search shows the results for the closest known spelling.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Response, handler};
use serde::Deserialize;

use super::view::ShowCard;
use super::{Layout, is_form_error, render, render_with_status, respond};
use crate::domain::rows::SearchHit;
use crate::http::auth::Visitor;
use crate::http::state::AppState;

pub struct Hit {
    pub title: String,
    pub detail: String,
    pub href: String,
}

#[derive(askama::Template)]
#[template(path = "search.html")]
struct SearchTemplate {
    layout: Layout,
    q: String,
    searched: bool,
    artists: Vec<Hit>,
    songs: Vec<Hit>,
    venues: Vec<Hit>,
    shows: Vec<ShowCard>,
    /// The spelling the results are for, when the words as typed found nothing.
    corrected: Option<String>,
    error: Option<String>,
}

impl SearchTemplate {
    fn result_count(&self) -> usize {
        self.artists.len() + self.songs.len() + self.venues.len()
    }
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

fn href(h: &SearchHit) -> String {
    match h.kind.as_str() {
        "venue" => format!("/venues/{}", h.slug),
        "song" => format!("/artists/{}#songs", h.slug),
        _ => format!("/artists/{}", h.slug),
    }
}

#[handler]
pub async fn search_page(
    Data(state): Data<&Arc<AppState>>,
    Query(query): Query<SearchQuery>,
    mut visitor: Visitor,
) -> Response {
    let q = query.q.trim().to_owned();
    let result = async {
        let mut t = SearchTemplate {
            layout: Layout::new(&visitor),
            searched: !q.is_empty(),
            q: q.clone(),
            artists: Vec::new(),
            songs: Vec::new(),
            venues: Vec::new(),
            shows: Vec::new(),
            corrected: None,
            error: None,
        };
        if q.is_empty() {
            return render(&t);
        }
        match state.domain.search_forgiving(&q, 60).await.map_err(crate::http::error::AppError::from) {
            Ok(found) => {
                t.corrected = found.corrected;
                t.shows = found.shows.iter().map(ShowCard::from).collect();
                for h in &found.hits {
                    // Songs say whose they are: "by The Paper Lanterns · Lantern Light".
                    let detail = match (h.kind.as_str(), h.artist.is_empty(), h.detail.is_empty()) {
                        ("song", false, true) => format!("by {}", h.artist),
                        ("song", false, false) => format!("by {} · {}", h.artist, h.detail),
                        _ => h.detail.clone(),
                    };
                    let hit = Hit { title: h.title.clone(), detail, href: href(h) };
                    match h.kind.as_str() {
                        "artist" => t.artists.push(hit),
                        "song" => t.songs.push(hit),
                        _ => t.venues.push(hit),
                    }
                }
                render(&t)
            }
            Err(e) if is_form_error(&e) => {
                t.error = Some(e.public_message());
                t.searched = false;
                render_with_status(&t, StatusCode::BAD_REQUEST)
            }
            Err(e) => Err(e),
        }
    }
    .await;
    respond(&mut visitor, "/search", result)
}
