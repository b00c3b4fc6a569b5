//! Admin: artists and their songs.

use std::sync::Arc;

use poem::web::{Data, Form, Multipart, Path, Query};
use poem::{Response, handler};

use super::forms::{ArtistForm, CsrfForm, SongForm};
use super::{Done, Refused, apply, finish, form_state, id, refused_or, staff, submitter};
use crate::domain::rows::{Artist, Song};
use crate::domain::{DomainError, Role};
use crate::http::auth::Visitor;
use crate::http::error::AppError;
use crate::http::forms::see_other;
use crate::http::pages::{Layout, form_result, respond};
use crate::http::state::AppState;

#[derive(askama::Template)]
#[template(path = "admin/artists.html")]
struct ArtistsTemplate {
    layout: Layout,
    artists: Vec<Artist>,
    form: ArtistForm,
    error: Option<String>,
    notice: Option<&'static str>,
}

async fn list_page(
    state: &AppState,
    visitor: &Visitor,
    notice: Option<&'static str>,
    refused: Option<Refused<ArtistForm>>,
) -> Result<Response, AppError> {
    staff(visitor, Role::Moderator)?;
    let artists = state.domain.artists(500, 0).await?;
    let (form, error, status) = form_state(refused, ArtistForm::default());
    finish(&ArtistsTemplate { layout: Layout::new(visitor), artists, form, error, notice }, status)
}

#[handler]
pub async fn list(Data(state): Data<&Arc<AppState>>, Query(done): Query<Done>, mut visitor: Visitor) -> Response {
    let result = list_page(state, &visitor, done.notice(), None).await;
    respond(&mut visitor, "/admin/artists", result)
}

#[handler]
pub async fn create(Data(state): Data<&Arc<AppState>>, mut visitor: Visitor, Form(form): Form<ArtistForm>) -> Response {
    let result = async {
        let user = submitter(&visitor, Role::Moderator, &form.csrf)?;
        let outcome = match state.domain.artist_named(&form.name).await? {
            Some(same) if form.create_anyway != "1" => Err(DomainError::Conflict(format!(
                "an artist named “{}” exists already (/artists/{}); tick “Create it anyway” if this is a \
                 different artist",
                same.name, same.slug
            ))),
            _ => state
                .domain
                .create_artist(&user, form.input())
                .await
                .map(|id| see_other(&format!("/admin/artists/{id}?done=created"))),
        };
        refused_or(outcome, form, |r| list_page(state, &visitor, None, Some(r))).await
    }
    .await;
    respond(&mut visitor, "/admin/artists", result)
}

#[derive(askama::Template)]
#[template(path = "admin/artist.html")]
struct ArtistTemplate {
    layout: Layout,
    is_admin: bool,
    artist: Artist,
    songs: Vec<Song>,
    form: ArtistForm,
    song: SongForm,
    error: Option<String>,
    notice: Option<&'static str>,
    picture_size: u32,
    max_upload_mib: usize,
}

/// The edit page; a refused form is the artist's, the new song's or the picture upload's.
async fn edit_page(
    state: &AppState,
    visitor: &Visitor,
    artist_id: i64,
    notice: Option<&'static str>,
    artist_refused: Option<Refused<ArtistForm>>,
    song_refused: Option<Refused<SongForm>>,
) -> Result<Response, AppError> {
    picture_page(state, visitor, artist_id, notice, artist_refused, song_refused, None).await
}

async fn picture_page(
    state: &AppState,
    visitor: &Visitor,
    artist_id: i64,
    notice: Option<&'static str>,
    artist_refused: Option<Refused<ArtistForm>>,
    song_refused: Option<Refused<SongForm>>,
    picture_refused: Option<AppError>,
) -> Result<Response, AppError> {
    let user = staff(visitor, Role::Moderator)?;
    let artist = state.domain.artist_by_id(artist_id).await?;
    let songs = state.domain.catalog(artist_id).await?;
    let (form, error, status) = form_state(artist_refused, ArtistForm::from_artist(&artist));
    let (song, song_error, song_status) = form_state(song_refused, SongForm::default());
    let (picture_error, picture_status) = picture_refused.map(|e| (e.public_message(), e.status())).unzip();
    let t = ArtistTemplate {
        layout: Layout::new(visitor),
        is_admin: user.role >= Role::Admin,
        artist,
        songs,
        form,
        song,
        error: error.or(song_error).or(picture_error),
        notice,
        picture_size: crate::domain::THUMB_SIZE,
        max_upload_mib: crate::domain::MAX_UPLOAD_BYTES >> 20,
    };
    finish(&t, status.or(song_status).or(picture_status))
}

#[handler]
pub async fn edit(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    Query(done): Query<Done>,
    mut visitor: Visitor,
) -> Response {
    let result = async { edit_page(state, &visitor, id(&raw)?, done.notice(), None, None).await }.await;
    respond(&mut visitor, &format!("/admin/artists/{raw}"), result)
}

#[handler]
pub async fn update(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<ArtistForm>,
) -> Response {
    let result = async {
        let user = submitter(&visitor, Role::Moderator, &form.csrf)?;
        let artist_id = id(&raw)?;
        let outcome = state
            .domain
            .update_artist(&user, artist_id, form.input())
            .await
            .map(|()| see_other(&format!("/admin/artists/{artist_id}?done=saved")));
        refused_or(outcome, form, |r| edit_page(state, &visitor, artist_id, None, Some(r), None)).await
    }
    .await;
    respond(&mut visitor, &format!("/admin/artists/{raw}"), result)
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
        state.domain.delete_artist(&user, id(&raw)?).await?;
        Ok(see_other("/admin/artists?done=deleted"))
    }
    .await;
    respond(&mut visitor, &format!("/admin/artists/{raw}"), result)
}

#[handler]
pub async fn add_song(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<SongForm>,
) -> Response {
    let result = async {
        let user = submitter(&visitor, Role::Moderator, &form.csrf)?;
        let artist_id = id(&raw)?;
        let outcome = apply(form.input(), |input| state.domain.create_song(&user, artist_id, input))
            .await
            .map(|_| see_other(&format!("/admin/artists/{artist_id}?done=created#songs")));
        refused_or(outcome, form, |r| edit_page(state, &visitor, artist_id, None, None, Some(r))).await
    }
    .await;
    respond(&mut visitor, &format!("/admin/artists/{raw}"), result)
}

/// The fields of the picture upload form (`multipart/form-data`): the form token, and the file or
/// why it could not be read (said only after the token was checked).
async fn read_upload(form: poem::Result<Multipart>) -> (String, Result<Vec<u8>, AppError>) {
    let unreadable = || AppError::bad_request("image", "the upload could not be read; choose the file again");
    let Ok(mut form) = form else {
        return (String::new(), Err(AppError::bad_request("image", "send the picture as a file upload")));
    };
    let (mut csrf, mut file) = (String::new(), Ok(Vec::new()));
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return (csrf, Err(unreadable())),
        };
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            // The body limit for this route (`http::middleware::BodyLimit`) bounds what is read here.
            Some("image") => file = field.bytes().await.map_err(|_| unreadable()),
            _ => {}
        }
    }
    (csrf, file)
}

/// Uploads (replaces) the artist's picture. The role is checked before the body is read.
#[handler]
pub async fn upload_picture(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    mut visitor: Visitor,
    form: poem::Result<Multipart>,
) -> Response {
    let result = async {
        let user = staff(&visitor, Role::Moderator)?;
        let (csrf, file) = read_upload(form).await;
        visitor.check_csrf(&csrf)?;
        let file = file?;
        let artist_id = id(&raw)?;
        match form_result(state.domain.set_artist_picture(&user, artist_id, file).await)? {
            Ok(()) => Ok(see_other(&format!("/admin/artists/{artist_id}?done=saved#picture"))),
            Err(refused) => picture_page(state, &visitor, artist_id, None, None, None, Some(refused)).await,
        }
    }
    .await;
    respond(&mut visitor, &format!("/admin/artists/{raw}"), result)
}

#[handler]
pub async fn remove_picture(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<CsrfForm>,
) -> Response {
    let result = async {
        let user = submitter(&visitor, Role::Moderator, &form.csrf)?;
        let artist_id = id(&raw)?;
        state.domain.remove_artist_picture(&user, artist_id).await?;
        Ok(see_other(&format!("/admin/artists/{artist_id}?done=deleted#picture")))
    }
    .await;
    respond(&mut visitor, &format!("/admin/artists/{raw}"), result)
}

#[derive(askama::Template)]
#[template(path = "admin/song.html")]
struct SongTemplate {
    layout: Layout,
    song_id: i64,
    artist: Artist,
    song: SongForm,
    error: Option<String>,
    notice: Option<&'static str>,
}

async fn song_page(
    state: &AppState,
    visitor: &Visitor,
    song_id: i64,
    notice: Option<&'static str>,
    refused: Option<Refused<SongForm>>,
) -> Result<Response, AppError> {
    staff(visitor, Role::Moderator)?;
    let song = state.domain.song_by_id(song_id).await?;
    let artist = state.domain.artist_by_id(song.artist_id).await?;
    let (song, error, status) = form_state(refused, SongForm::from_song(&song));
    finish(&SongTemplate { layout: Layout::new(visitor), song_id, artist, song, error, notice }, status)
}

#[handler]
pub async fn edit_song(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    Query(done): Query<Done>,
    mut visitor: Visitor,
) -> Response {
    let result = async { song_page(state, &visitor, id(&raw)?, done.notice(), None).await }.await;
    respond(&mut visitor, &format!("/admin/songs/{raw}"), result)
}

#[handler]
pub async fn update_song(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<SongForm>,
) -> Response {
    let result = async {
        let user = submitter(&visitor, Role::Moderator, &form.csrf)?;
        let song_id = id(&raw)?;
        let outcome = apply(form.input(), |input| state.domain.update_song(&user, song_id, input))
            .await
            .map(|()| see_other(&format!("/admin/songs/{song_id}?done=saved")));
        refused_or(outcome, form, |r| song_page(state, &visitor, song_id, None, Some(r))).await
    }
    .await;
    respond(&mut visitor, &format!("/admin/songs/{raw}"), result)
}

#[handler]
pub async fn delete_song(
    Data(state): Data<&Arc<AppState>>,
    Path(raw): Path<String>,
    mut visitor: Visitor,
    Form(form): Form<CsrfForm>,
) -> Response {
    let result = async {
        let user = submitter(&visitor, Role::Moderator, &form.csrf)?;
        let song = state.domain.song_by_id(id(&raw)?).await?;
        state.domain.delete_song(&user, song.id).await?;
        Ok(see_other(&format!("/admin/artists/{}?done=deleted#songs", song.artist_id)))
    }
    .await;
    respond(&mut visitor, &format!("/admin/songs/{raw}"), result)
}
