//! The show page: the fans' ranking with vote buttons, "add a song", and after the show the actual
//! setlist beside the prediction with its accuracy.

use std::sync::Arc;

use poem::web::{Data, Form, Path};
use poem::{Response, handler};
use serde::Deserialize;

use super::view::{ShowCard, local_time};
use super::{Layout, error_page, render};
use crate::domain::Voter;
use crate::error::AppError;
use crate::http::auth::Visitor;
use crate::http::forms::see_other;
use crate::http::state::AppState;

pub struct RankRow {
    pub song_id: i64,
    pub title: String,
    pub total: i64,
    pub mine: bool,
}

pub struct ActualRow {
    pub title: String,
    pub encore: i64,
    pub info: String,
    pub predicted: bool,
}

pub struct SongOption {
    pub id: i64,
    pub title: String,
}

#[derive(askama::Template)]
#[template(path = "show.html")]
struct ShowTemplate {
    layout: Layout,
    show: ShowCard,
    voting_open: bool,
    can_vote: bool,
    signed_in: bool,
    ranking: Vec<RankRow>,
    addable: Vec<SongOption>,
    actual: Vec<ActualRow>,
    accuracy: Option<f64>,
    setlistfm_url: Option<String>,
}

#[handler]
pub async fn show_page(Data(state): Data<&Arc<AppState>>, Path(slug): Path<String>, mut visitor: Visitor) -> Response {
    match render_show(state, &slug, &mut visitor).await {
        Ok(r) => visitor.finish(r),
        Err(e) => error_page(&mut visitor, e),
    }
}

async fn render_show(state: &AppState, slug: &str, visitor: &mut Visitor) -> Result<Response, AppError> {
    let show = state.domain.show_by_slug(slug).await?;
    let voter = visitor.existing_voter();
    let page = state.domain.show_page(show, voter.as_ref()).await?;
    let anonymous = state.config.settings.voting.anonymous;
    let predicted: std::collections::HashSet<i64> = page.ranking.iter().map(|r| r.song_id).collect();
    let mut card = ShowCard::from(&page.show);
    let (when, iso) = local_time(page.show.starts_at, &page.show.venue_timezone);
    card.when = when;
    card.iso = iso;
    let t = ShowTemplate {
        layout: Layout::new(visitor),
        voting_open: page.voting_open,
        can_vote: visitor.user().is_some() || anonymous,
        signed_in: visitor.user().is_some(),
        ranking: page
            .ranking
            .iter()
            .map(|r| RankRow {
                song_id: r.song_id,
                title: r.title.clone(),
                total: r.votes + r.anon_votes,
                mine: page.my_votes.contains(&r.song_id),
            })
            .collect(),
        addable: page.addable.iter().map(|s| SongOption { id: s.id, title: s.title.clone() }).collect(),
        actual: page
            .actual
            .iter()
            .map(|e| ActualRow {
                title: if e.title.is_empty() { "(tape)".into() } else { e.title.clone() },
                encore: e.encore,
                info: e.info.clone(),
                predicted: e.song_id.is_some_and(|id| predicted.contains(&id)),
            })
            .collect(),
        accuracy: page.show.accuracy,
        setlistfm_url: page.show.setlistfm_url.clone(),
        show: card,
    };
    render(&t)
}

#[derive(Deserialize)]
pub struct VoteForm {
    csrf: String,
    song_id: i64,
}

#[handler]
pub async fn vote(
    Data(state): Data<&Arc<AppState>>,
    Path(slug): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<VoteForm>,
) -> Response {
    let result: Result<(), AppError> = async {
        visitor.check_csrf(&form.csrf)?;
        let show = state.domain.show_by_slug(&slug).await?;
        let voter: Voter = visitor.voter();
        state.domain.toggle_vote(&voter, show.id, form.song_id).await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => visitor.finish(see_other(&format!("/shows/{slug}#ranking"))),
        Err(AppError::Domain(crate::domain::DomainError::Unauthorized)) => {
            see_other(&format!("/login?next=/shows/{slug}"))
        }
        Err(e) => error_page(&mut visitor, e),
    }
}

#[derive(Deserialize)]
pub struct AddSongForm {
    csrf: String,
    song_id: i64,
}

#[handler]
pub async fn add_song(
    Data(state): Data<&Arc<AppState>>,
    Path(slug): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<AddSongForm>,
) -> Response {
    let result: Result<(), AppError> = async {
        visitor.check_csrf(&form.csrf)?;
        let user = visitor.require_user()?.clone();
        let show = state.domain.show_by_slug(&slug).await?;
        state.domain.add_song_to_show(&user, show.id, form.song_id).await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => see_other(&format!("/shows/{slug}#ranking")),
        Err(e) => error_page(&mut visitor, e),
    }
}
