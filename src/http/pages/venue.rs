//! The venue page: where it is, its upcoming and past shows.

use std::sync::Arc;

use poem::web::{Data, Path};
use poem::{Response, handler};

use super::view::ShowCard;
use super::{Layout, render, respond};
use crate::http::auth::Visitor;
use crate::http::state::AppState;

#[derive(askama::Template)]
#[template(path = "venue.html")]
struct VenueTemplate {
    layout: Layout,
    name: String,
    city: String,
    country: String,
    timezone: String,
    upcoming: Vec<ShowCard>,
    past: Vec<ShowCard>,
}

#[handler]
pub async fn venue_page(Data(state): Data<&Arc<AppState>>, Path(slug): Path<String>, mut visitor: Visitor) -> Response {
    let result = async {
        let page = state.domain.venue_page(&slug).await?;
        let now = state.domain.now();
        // Shows come newest first; upcoming ones read better soonest first.
        let (mut upcoming, past): (Vec<_>, Vec<_>) = page.shows.iter().partition(|s| s.starts_at > now);
        upcoming.reverse();
        let t = VenueTemplate {
            layout: Layout::new(&visitor),
            name: page.venue.name.clone(),
            city: page.venue.city.clone(),
            country: page.venue.country.clone(),
            timezone: page.venue.timezone.clone(),
            upcoming: upcoming.into_iter().map(ShowCard::from).collect(),
            past: past.into_iter().map(ShowCard::from).collect(),
        };
        render(&t)
    }
    .await;
    respond(&mut visitor, &format!("/venues/{slug}"), result)
}
