//! The artist page: upcoming and past shows, the song catalog by album, follow / unfollow.

use std::sync::Arc;

use poem::web::{Data, Form, Path};
use poem::{Response, handler};
use serde::Deserialize;

use super::view::{Meta, ShowCard, preview_picture};
use super::{Layout, render, respond};
use crate::domain::rows::Song;
use crate::domain::{Link, artist_links};
use crate::http::auth::Visitor;
use crate::http::error::AppError;
use crate::http::forms::see_other;
use crate::http::state::AppState;

pub struct SongRow {
    pub title: String,
    pub length: String,
    pub live: bool,
    pub remix: bool,
}

pub struct Album {
    pub name: String,
    pub songs: Vec<SongRow>,
}

#[derive(askama::Template)]
#[template(path = "artist.html")]
struct ArtistTemplate {
    layout: Layout,
    meta: Meta,
    name: String,
    slug: String,
    genres: Vec<String>,
    /// The uploaded picture: a name under `/media/` (480 px square).
    picture: Option<String>,
    bio: String,
    links: Vec<Link>,
    upcoming: Vec<ShowCard>,
    past: Vec<ShowCard>,
    albums: Vec<Album>,
    song_count: usize,
    followed: bool,
    signed_in: bool,
    /// "Played at 3 of the last 4 shows": (title, shows), and the number of shows looked at.
    played_lately: Vec<(String, i64)>,
    lately_shows: i64,
    /// Votes over the shows to come: (title, votes).
    most_wanted: Vec<(String, i64)>,
}

fn length(seconds: Option<i64>) -> String {
    seconds.filter(|s| *s > 0).map(|s| format!("{}:{:02}", s / 60, s % 60)).unwrap_or_default()
}

/// Songs grouped by album in first-seen order (the catalog comes most popular first), singles last.
fn albums(catalog: &[Song]) -> Vec<Album> {
    let mut out: Vec<Album> = Vec::new();
    for s in catalog {
        let name = if s.album.is_empty() { "Other songs".to_owned() } else { s.album.clone() };
        let row = SongRow { title: s.title.clone(), length: length(s.duration_s), live: s.is_live, remix: s.is_remix };
        match out.iter_mut().find(|a| a.name == name) {
            Some(a) => a.songs.push(row),
            None => out.push(Album { name, songs: vec![row] }),
        }
    }
    if let Some(i) = out.iter().position(|a| a.name == "Other songs") {
        let other = out.remove(i);
        out.push(other);
    }
    out
}

#[handler]
pub async fn artist_page(
    Data(state): Data<&Arc<AppState>>,
    Path(slug): Path<String>,
    mut visitor: Visitor,
) -> Response {
    let result = async {
        let page = state.domain.artist_page(&slug, visitor.user().map(|u| u.id)).await?;
        let upcoming: Vec<ShowCard> = page.upcoming.iter().map(ShowCard::from).collect();
        let next = match upcoming.first() {
            Some(s) => format!("Next show: {}, {} · {}.", s.venue, s.city, s.when),
            None => "No upcoming shows yet.".to_owned(),
        };
        let origin = super::public_origin(state);
        let meta = Meta {
            title: page.artist.name.clone(),
            description: format!("{next} Vote on the songs {} should play.", page.artist.name),
            url: origin.map(|o| format!("{o}/artists/{}", page.artist.slug)),
            image: preview_picture(page.artist.image.as_deref(), origin, page.artist.image_url.as_deref()),
        };
        let t = ArtistTemplate {
            layout: Layout::new(&visitor),
            meta,
            genres: page.artist.genres.split(',').map(str::trim).filter(|g| !g.is_empty()).map(String::from).collect(),
            picture: page.artist.image.clone(),
            bio: page.artist.bio.clone(),
            links: artist_links(page.artist.mbid.as_deref(), &page.artist.links),
            name: page.artist.name.clone(),
            slug: page.artist.slug.clone(),
            upcoming,
            past: page.past.iter().map(ShowCard::from).collect(),
            albums: albums(&page.catalog),
            song_count: page.catalog.len(),
            followed: page.followed,
            signed_in: visitor.user().is_some(),
            played_lately: page.played_lately.0.clone(),
            lately_shows: page.played_lately.1,
            most_wanted: page.most_wanted.clone(),
        };
        render(&t)
    }
    .await;
    respond(&mut visitor, &format!("/artists/{slug}"), result)
}

#[derive(Deserialize)]
pub struct FollowForm {
    #[serde(default)]
    csrf: String,
    /// "1" to follow, anything else to unfollow.
    #[serde(default)]
    follow: String,
}

#[handler]
pub async fn follow(
    Data(state): Data<&Arc<AppState>>,
    Path(slug): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<FollowForm>,
) -> Response {
    let result = async {
        let user = visitor.require_user()?;
        visitor.check_csrf(&form.csrf)?;
        let page = state.domain.artist_page(&slug, None).await?;
        state.domain.set_follow(user.id, page.artist.id, form.follow == "1").await?;
        Ok::<_, AppError>(see_other(&format!("/artists/{slug}")))
    }
    .await;
    respond(&mut visitor, &format!("/artists/{slug}"), result)
}
