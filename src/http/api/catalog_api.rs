//! Artists, venues, songs and search over JSON.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

use super::ApiTags;
use super::json_body::JsonBody;
use super::models::*;
use super::responses::{ChangeResponse, CreateResponse};
use crate::domain::{ArtistInput, SongInput, VenueInput};
use crate::http::auth::SameOriginUser;
use crate::http::error::ApiResult;
use crate::http::state::AppState;

pub struct CatalogApi;

pub(super) fn artist_input(b: ArtistRequest) -> ArtistInput {
    ArtistInput {
        name: b.name,
        slug: b.slug,
        mbid: b.mbid,
        image_url: b.image_url,
        genres: b.genres,
        bio: None,
        links: None,
    }
}
pub(super) fn venue_input(b: VenueRequest) -> VenueInput {
    VenueInput {
        name: b.name,
        slug: b.slug,
        city: b.city,
        country: b.country,
        timezone: b.timezone,
        latitude: b.latitude,
        longitude: b.longitude,
    }
}
pub(super) fn song_input(b: SongRequest) -> SongInput {
    SongInput {
        title: b.title,
        album: b.album,
        duration_s: b.duration_s,
        is_live: b.is_live,
        is_remix: b.is_remix,
        popularity: b.popularity,
    }
}

#[OpenApi(tag = "ApiTags::Catalog")]
impl CatalogApi {
    /// Artists by name
    #[oai(path = "/artists", method = "get")]
    async fn artists(
        &self,
        state: Data<&Arc<AppState>>,
        #[oai(default = "default_limit", validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<i64>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "1000000")))] offset: Query<i64>,
    ) -> ApiResult<Json<Vec<Artist>>> {
        let list = state.domain.artists(limit.0, offset.0).await?;
        Ok(Json(list.iter().map(Artist::from).collect()))
    }

    /// Create an artist (moderator)
    #[oai(path = "/artists", method = "post")]
    async fn create_artist(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        body: JsonBody<ArtistRequest>,
    ) -> ApiResult<CreateResponse> {
        let id = state.domain.create_artist(&user, artist_input(body.0)).await?;
        Ok(CreateResponse::Created(Json(Created { id })))
    }

    /// Update an artist (moderator)
    #[oai(path = "/artists/:id", method = "put")]
    async fn update_artist(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        id: Path<i64>,
        body: JsonBody<ArtistRequest>,
    ) -> ApiResult<ChangeResponse> {
        state.domain.update_artist(&user, id.0, artist_input(body.0)).await?;
        Ok(ChangeResponse::Done)
    }

    /// Delete an artist with its shows and songs (admin)
    #[oai(path = "/artists/:id", method = "delete")]
    async fn delete_artist(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        id: Path<i64>,
    ) -> ApiResult<ChangeResponse> {
        state.domain.delete_artist(&user, id.0).await?;
        Ok(ChangeResponse::Done)
    }

    /// An artist's song catalog
    #[oai(path = "/artists/:id/songs", method = "get")]
    async fn songs(&self, state: Data<&Arc<AppState>>, id: Path<i64>) -> ApiResult<Json<Vec<Song>>> {
        let list = state.domain.catalog(id.0).await?;
        Ok(Json(list.iter().map(Song::from).collect()))
    }

    /// Add a song to an artist's catalog (moderator)
    #[oai(path = "/artists/:id/songs", method = "post")]
    async fn create_song(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        id: Path<i64>,
        body: JsonBody<SongRequest>,
    ) -> ApiResult<CreateResponse> {
        let sid = state.domain.create_song(&user, id.0, song_input(body.0)).await?;
        Ok(CreateResponse::Created(Json(Created { id: sid })))
    }

    /// Update a song (moderator)
    #[oai(path = "/songs/:id", method = "put")]
    async fn update_song(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        id: Path<i64>,
        body: JsonBody<SongRequest>,
    ) -> ApiResult<ChangeResponse> {
        state.domain.update_song(&user, id.0, song_input(body.0)).await?;
        Ok(ChangeResponse::Done)
    }

    /// Delete a song (moderator)
    #[oai(path = "/songs/:id", method = "delete")]
    async fn delete_song(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        id: Path<i64>,
    ) -> ApiResult<ChangeResponse> {
        state.domain.delete_song(&user, id.0).await?;
        Ok(ChangeResponse::Done)
    }

    /// Venues by name
    #[oai(path = "/venues", method = "get")]
    async fn venues(
        &self,
        state: Data<&Arc<AppState>>,
        #[oai(default = "default_limit", validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<i64>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "1000000")))] offset: Query<i64>,
    ) -> ApiResult<Json<Vec<Venue>>> {
        let list = state.domain.venues(limit.0, offset.0).await?;
        Ok(Json(list.iter().map(Venue::from).collect()))
    }

    /// Create a venue (moderator)
    #[oai(path = "/venues", method = "post")]
    async fn create_venue(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        body: JsonBody<VenueRequest>,
    ) -> ApiResult<CreateResponse> {
        let id = state.domain.create_venue(&user, venue_input(body.0)).await?;
        Ok(CreateResponse::Created(Json(Created { id })))
    }

    /// Update a venue (moderator)
    #[oai(path = "/venues/:id", method = "put")]
    async fn update_venue(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        id: Path<i64>,
        body: JsonBody<VenueRequest>,
    ) -> ApiResult<ChangeResponse> {
        state.domain.update_venue(&user, id.0, venue_input(body.0)).await?;
        Ok(ChangeResponse::Done)
    }

    /// Delete a venue without shows (admin)
    #[oai(path = "/venues/:id", method = "delete")]
    async fn delete_venue(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        id: Path<i64>,
    ) -> ApiResult<ChangeResponse> {
        state.domain.delete_venue(&user, id.0).await?;
        Ok(ChangeResponse::Done)
    }

    /// Full-text search over artists, songs and venues (prefix match)
    #[oai(path = "/search", method = "get")]
    async fn search(
        &self,
        state: Data<&Arc<AppState>>,
        #[oai(validator(max_length = 200))] q: Query<String>,
        #[oai(default = "default_search_limit", validator(minimum(value = "1"), maximum(value = "100")))] limit: Query<
            i64,
        >,
    ) -> ApiResult<Json<Vec<SearchHit>>> {
        let hits = state.domain.search(&q.0, limit.0).await?;
        Ok(Json(
            hits.into_iter()
                .map(|h| SearchHit {
                    url: match h.kind.as_str() {
                        "venue" => format!("/venues/{}", h.slug),
                        _ => format!("/artists/{}", h.slug),
                    },
                    kind: h.kind,
                    id: h.id,
                    title: h.title,
                    detail: h.detail,
                })
                .collect(),
        ))
    }
}

fn default_limit() -> i64 {
    100
}
fn default_search_limit() -> i64 {
    20
}
