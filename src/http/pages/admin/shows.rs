//! Admin: shows and their actual setlists.

use std::sync::Arc;

use poem::web::{Data, Form, Path, Query};
use poem::{Response, handler};
use serde::Deserialize;

use super::forms::{CsrfForm, ShowForm};
use super::{Done, Refused, apply, finish, form_state, id, refused_or, staff, submitter};
use crate::domain::Role;
use crate::domain::rows::{Artist, Venue};
use crate::http::auth::Visitor;
use crate::http::error::AppError;
use crate::http::forms::see_other;
use crate::http::pages::view::{ShowCard, utc_minute};
use crate::http::pages::{Layout, respond, setlist_text};
use crate::http::state::AppState;

pub struct ShowRow {
    pub card: ShowCard,
    pub status: String,
    pub utc: String,
}

#[derive(askama::Template)]
#[template(path = "admin/shows.html")]
struct ShowsTemplate {
    layout: Layout,
    shows: Vec<ShowRow>,
    artists: Vec<Artist>,
    venues: Vec<Venue>,
    form: ShowForm,
    error: Option<String>,
    notice: Option<&'static str>,
}

async fn list_page(
    state: &AppState,
    visitor: &Visitor,
    notice: Option<&'static str>,
    refused: Option<Refused<ShowForm>>,
) -> Result<Response, AppError> {
    let user = staff(visitor, Role::Moderator)?;
    let shows = state.domain.all_shows(&user, 500, 0).await?;
    let artists = state.domain.artists(500, 0).await?;
    let venues = state.domain.venues(500, 0).await?;
    let (form, error, status) = form_state(refused, ShowForm { status: "upcoming".into(), ..Default::default() });
    let shows = shows
        .iter()
        .map(|s| ShowRow { card: ShowCard::from(s), status: s.status.as_str().into(), utc: utc_minute(s.starts_at) })
        .collect();
    finish(&ShowsTemplate { layout: Layout::new(visitor), shows, artists, venues, form, error, notice }, status)
}

#[handler]
pub async fn list(Data(state): Data<&Arc<AppState>>, Query(done): Query<Done>, mut visitor: Visitor) -> Response {
    let result = list_page(state, &visitor, done.notice(), None).await;
    respond(&mut visitor, "/admin/shows", result)
}

/// The form as the domain's input: the local start time is read in the chosen venue's zone.
async fn input(state: &AppState, form: &ShowForm) -> Result<crate::domain::ShowInput, AppError> {
    let (_, venue_id) = form.ids()?;
    let venue = state.domain.venue_by_id(venue_id).await?;
    form.input(&venue.timezone)
}

#[handler]
pub async fn create(Data(state): Data<&Arc<AppState>>, mut visitor: Visitor, Form(form): Form<ShowForm>) -> Response {
    let result = async {
        let user = submitter(&visitor, Role::Moderator, &form.csrf)?;
        let outcome = apply(input(state, &form).await, |i| state.domain.create_show(&user, i))
            .await
            .map(|id| see_other(&format!("/admin/shows/{id}?done=created")));
        refused_or(outcome, form, |r| list_page(state, &visitor, None, Some(r))).await
    }
    .await;
    respond(&mut visitor, "/admin/shows", result)
}

#[derive(Deserialize, Default, Clone)]
pub struct SetlistForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub(super) setlist: String,
}

#[derive(askama::Template)]
#[template(path = "admin/show.html")]
struct ShowTemplate {
    layout: Layout,
    is_admin: bool,
    show_id: i64,
    card: ShowCard,
    artists: Vec<Artist>,
    venues: Vec<Venue>,
    form: ShowForm,
    setlist: String,
    accuracy: Option<f64>,
    error: Option<String>,
    notice: Option<&'static str>,
}

async fn edit_page(
    state: &AppState,
    visitor: &Visitor,
    show_id: i64,
    notice: Option<&'static str>,
    show_refused: Option<Refused<ShowForm>>,
    setlist_refused: Option<Refused<SetlistForm>>,
) -> Result<Response, AppError> {
    let user = staff(visitor, Role::Moderator)?;
    let show = state.domain.show_by_id(show_id).await?;
    let actual = state.domain.actual_setlist(show_id).await?;
    let artists = state.domain.artists(500, 0).await?;
    let venues = state.domain.venues(500, 0).await?;
    let (form, error, status) = form_state(show_refused, ShowForm::from_show(&show));
    let fresh = SetlistForm { setlist: setlist_text::format(&actual), ..Default::default() };
    let (setlist, setlist_error, setlist_status) = form_state(setlist_refused, fresh);
    let t = ShowTemplate {
        layout: Layout::new(visitor),
        is_admin: user.role >= Role::Admin,
        show_id,
        card: ShowCard::from(&show),
        artists,
        venues,
        form,
        setlist: setlist.setlist,
        accuracy: show.accuracy,
        error: error.or(setlist_error),
        notice,
    };
    finish(&t, status.or(setlist_status))
}

#[handler]
pub async fn edit(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    Query(done): Query<Done>,
    mut visitor: Visitor,
) -> Response {
    let result = async { edit_page(state, &visitor, id(&raw)?, done.notice(), None, None).await }.await;
    respond(&mut visitor, &format!("/admin/shows/{raw}"), result)
}

#[handler]
pub async fn update(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<ShowForm>,
) -> Response {
    let result = async {
        let user = submitter(&visitor, Role::Moderator, &form.csrf)?;
        let show_id = id(&raw)?;
        let outcome = apply(input(state, &form).await, |i| state.domain.update_show(&user, show_id, i))
            .await
            .map(|()| see_other(&format!("/admin/shows/{show_id}?done=saved")));
        refused_or(outcome, form, |r| edit_page(state, &visitor, show_id, None, Some(r), None)).await
    }
    .await;
    respond(&mut visitor, &format!("/admin/shows/{raw}"), result)
}

#[handler]
pub async fn delete(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<CsrfForm>,
) -> Response {
    let result = async {
        let user = submitter(&visitor, Role::Moderator, &form.csrf)?;
        state.domain.delete_show(&user, id(&raw)?).await?;
        Ok(see_other("/admin/shows?done=deleted"))
    }
    .await;
    respond(&mut visitor, &format!("/admin/shows/{raw}"), result)
}

#[handler]
pub async fn set_setlist(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<SetlistForm>,
) -> Response {
    let result = async {
        let user = submitter(&visitor, Role::Moderator, &form.csrf)?;
        let show_id = id(&raw)?;
        let entries = setlist_text::parse(&form.setlist);
        let outcome = state
            .domain
            .set_actual_setlist(&user, show_id, entries)
            .await
            .map(|_| see_other(&format!("/admin/shows/{show_id}?done=setlist#setlist")));
        refused_or(outcome, form, |r| edit_page(state, &visitor, show_id, None, None, Some(r))).await
    }
    .await;
    respond(&mut visitor, &format!("/admin/shows/{raw}"), result)
}
