//! Admin: venues.

use std::sync::Arc;

use poem::web::{Data, Form, Path, Query};
use poem::{Response, handler};

use super::forms::{CsrfForm, VenueForm};
use super::{Done, Refused, apply, finish, form_state, id, refused_or, staff, submitter};
use crate::domain::rows::Venue;
use crate::domain::{DomainError, Role};
use crate::http::auth::Visitor;
use crate::http::error::AppError;
use crate::http::forms::see_other;
use crate::http::pages::{Layout, respond};
use crate::http::state::AppState;

#[derive(askama::Template)]
#[template(path = "admin/venues.html")]
struct VenuesTemplate {
    layout: Layout,
    venues: Vec<Venue>,
    form: VenueForm,
    error: Option<String>,
    notice: Option<&'static str>,
}

async fn list_page(
    state: &AppState,
    visitor: &Visitor,
    notice: Option<&'static str>,
    refused: Option<Refused<VenueForm>>,
) -> Result<Response, AppError> {
    staff(visitor, Role::Moderator)?;
    let venues = state.domain.venues(500, 0).await?;
    let (form, error, status) = form_state(refused, VenueForm { timezone: "UTC".into(), ..Default::default() });
    finish(&VenuesTemplate { layout: Layout::new(visitor), venues, form, error, notice }, status)
}

#[handler]
pub async fn list(Data(state): Data<&Arc<AppState>>, Query(done): Query<Done>, mut visitor: Visitor) -> Response {
    let result = list_page(state, &visitor, done.notice(), None).await;
    respond(&mut visitor, "/admin/venues", result)
}

#[handler]
pub async fn create(Data(state): Data<&Arc<AppState>>, mut visitor: Visitor, Form(form): Form<VenueForm>) -> Response {
    let result = async {
        let user = submitter(&visitor, Role::Moderator, &form.csrf)?;
        let outcome = match (form.input(), state.domain.venue_named(&form.name, &form.city).await?) {
            (Ok(_), Some(same)) if form.create_anyway != "1" => Err(AppError::from(DomainError::Conflict(format!(
                "a venue named “{}” in {} exists already (/venues/{}); tick “Create it anyway” if this is a \
                 different venue",
                same.name, same.city, same.slug
            )))),
            (input, _) => apply(input, |input| state.domain.create_venue(&user, input)).await,
        }
        .map(|id| see_other(&format!("/admin/venues/{id}?done=created")));
        refused_or(outcome, form, |r| list_page(state, &visitor, None, Some(r))).await
    }
    .await;
    respond(&mut visitor, "/admin/venues", result)
}

#[derive(askama::Template)]
#[template(path = "admin/venue.html")]
struct VenueTemplate {
    layout: Layout,
    is_admin: bool,
    venue: Venue,
    form: VenueForm,
    error: Option<String>,
    notice: Option<&'static str>,
}

async fn edit_page(
    state: &AppState,
    visitor: &Visitor,
    venue_id: i64,
    notice: Option<&'static str>,
    refused: Option<Refused<VenueForm>>,
) -> Result<Response, AppError> {
    let user = staff(visitor, Role::Moderator)?;
    let venue = state.domain.venue_by_id(venue_id).await?;
    let (form, error, status) = form_state(refused, VenueForm::from_venue(&venue));
    let t =
        VenueTemplate { layout: Layout::new(visitor), is_admin: user.role >= Role::Admin, venue, form, error, notice };
    finish(&t, status)
}

#[handler]
pub async fn edit(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    Query(done): Query<Done>,
    mut visitor: Visitor,
) -> Response {
    let result = async { edit_page(state, &visitor, id(&raw)?, done.notice(), None).await }.await;
    respond(&mut visitor, &format!("/admin/venues/{raw}"), result)
}

#[handler]
pub async fn update(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<VenueForm>,
) -> Response {
    let result = async {
        let user = submitter(&visitor, Role::Moderator, &form.csrf)?;
        let venue_id = id(&raw)?;
        let outcome = apply(form.input(), |input| state.domain.update_venue(&user, venue_id, input))
            .await
            .map(|()| see_other(&format!("/admin/venues/{venue_id}?done=saved")));
        refused_or(outcome, form, |r| edit_page(state, &visitor, venue_id, None, Some(r))).await
    }
    .await;
    respond(&mut visitor, &format!("/admin/venues/{raw}"), result)
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
        let venue_id = id(&raw)?;
        // A venue with shows cannot go (Conflict): say so on its page.
        let outcome =
            state.domain.delete_venue(&user, venue_id).await.map(|()| see_other("/admin/venues?done=deleted"));
        refused_or(outcome, (), |r| async {
            let form = VenueForm::from_venue(&state.domain.venue_by_id(venue_id).await?);
            edit_page(state, &visitor, venue_id, None, Some(Refused { error: r.error, form })).await
        })
        .await
    }
    .await;
    respond(&mut visitor, &format!("/admin/venues/{raw}"), result)
}
