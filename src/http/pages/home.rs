//! The home page: trending, upcoming and recent shows.

use std::sync::Arc;

use poem::web::Data;
use poem::{Response, handler};

use super::{Layout, ShowCard, error_page, render};
use crate::http::auth::Visitor;
use crate::http::state::AppState;

#[derive(askama::Template)]
#[template(path = "home.html")]
struct HomeTemplate {
    layout: Layout,
    trending: Vec<ShowCard>,
    upcoming: Vec<ShowCard>,
    recent: Vec<ShowCard>,
}

#[handler]
pub async fn home(Data(state): Data<&Arc<AppState>>, mut visitor: Visitor) -> Response {
    let page = match state.domain.home_page().await {
        Ok(p) => p,
        Err(e) => return error_page(&mut visitor, e.into()),
    };
    let t = HomeTemplate {
        layout: Layout::new(&visitor),
        trending: page.trending.iter().map(ShowCard::from).collect(),
        // Trending shows are listed once, under Trending.
        upcoming: page
            .upcoming
            .iter()
            .filter(|s| !page.trending.iter().any(|t| t.id == s.id))
            .map(ShowCard::from)
            .collect(),
        recent: page.recent.iter().map(ShowCard::from).collect(),
    };
    match render(&t) {
        Ok(r) => visitor.finish(r),
        Err(e) => error_page(&mut visitor, e),
    }
}
