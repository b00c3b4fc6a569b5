//! The show page's forms: vote, add a song, report the show. A refused form shows the page again
//! with the message next to what was refused.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Form, Path};
use poem::{Response, handler};
use serde::Deserialize;

use super::show::render_show;
use super::{is_form_error, respond};
use crate::http::auth::Visitor;
use crate::http::error::AppError;
use crate::http::forms::see_other;
use crate::http::state::AppState;

/// A refused form shows the show page again with the message; other errors become error pages.
async fn after_form(
    state: &AppState,
    slug: &str,
    visitor: &mut Visitor,
    result: Result<String, AppError>,
) -> Result<Response, AppError> {
    match result {
        Ok(location) => Ok(see_other(&location)),
        Err(e) if is_form_error(&e) || matches!(e.status(), StatusCode::TOO_MANY_REQUESTS) => {
            render_show(state, slug, visitor, Some(e)).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct VoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    song_id: i64,
}

#[handler]
pub async fn vote(
    Data(state): Data<&Arc<AppState>>,
    Path(slug): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<VoteForm>,
) -> Response {
    let result = async {
        visitor.check_csrf(&form.csrf)?;
        let show = state.domain.show_by_slug(&slug).await?;
        let voter = visitor.voter();
        state.domain.toggle_vote(&voter, show.id, form.song_id).await?;
        Ok(format!("/shows/{slug}#song-{}", form.song_id))
    }
    .await;
    let result = after_form(state, &slug, &mut visitor, result).await;
    respond(&mut visitor, &format!("/shows/{slug}"), result)
}

#[derive(Deserialize)]
pub struct AddSongForm {
    #[serde(default)]
    csrf: String,
    /// The song picked by id (older pages, scripts) ...
    #[serde(default)]
    song_id: i64,
    /// ... or typed (the type-ahead field): the server finds the song it names.
    #[serde(default)]
    title: String,
}

#[handler]
pub async fn add_song(
    Data(state): Data<&Arc<AppState>>,
    Path(slug): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<AddSongForm>,
) -> Response {
    let result = async {
        visitor.check_csrf(&form.csrf)?;
        let user = visitor.require_user()?.clone();
        let show = state.domain.show_by_slug(&slug).await?;
        let song_id = match form.song_id {
            0 => state.domain.addable_song_named(show.id, &form.title).await?,
            id => id,
        };
        state.domain.add_song_to_show(&user, show.id, song_id).await?;
        Ok(format!("/shows/{slug}#song-{song_id}"))
    }
    .await;
    let result = after_form(state, &slug, &mut visitor, result).await;
    respond(&mut visitor, &format!("/shows/{slug}"), result)
}

#[derive(Deserialize)]
pub struct ReportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// "Report this show": lands in the moderators' queue (`/admin`).
#[handler]
pub async fn report(
    Data(state): Data<&Arc<AppState>>,
    Path(slug): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<ReportForm>,
) -> Response {
    let result = async {
        let user = visitor.require_user()?.clone();
        visitor.check_csrf(&form.csrf)?;
        let show = state.domain.show_by_slug(&slug).await?;
        state.domain.report(&user, "show", &show.id.to_string(), &form.reason).await?;
        Ok(format!("/shows/{slug}#reported"))
    }
    .await;
    let result = after_form(state, &slug, &mut visitor, result).await;
    respond(&mut visitor, &format!("/shows/{slug}"), result)
}
