//! The home page: trending, upcoming and recent shows; for a signed-in fan it leads with the next
//! shows of the artists they follow and the shows they voted on.

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
    signed_in: bool,
    followed: Vec<ShowCard>,
    voted: Vec<ShowCard>,
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
    let for_you = match visitor.user() {
        Some(u) => match state.domain.home_for(u.id).await {
            Ok(f) => f,
            Err(e) => return error_page(&mut visitor, e.into()),
        },
        None => Default::default(),
    };
    let t = HomeTemplate {
        layout: Layout::new(&visitor),
        signed_in: visitor.user().is_some(),
        followed: for_you.followed.iter().map(ShowCard::from).collect(),
        voted: for_you.voted.iter().map(ShowCard::from).collect(),
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
