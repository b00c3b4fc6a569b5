//! JSON API under /api/v1 (poem-openapi): everything the pages can do. Spec at /openapi.json,
//! Swagger UI at /api/docs. Errors are application/problem+json naming the field.

mod admin;
mod auth_api;
mod catalog_api;
mod json_body;
mod models;
mod shows_api;

use std::sync::Arc;

use poem_openapi::{OpenApiService, Tags};

use super::state::AppState;

#[derive(Tags)]
pub enum ApiTags {
    /// Sign up, sign in, sign out, the current account
    Auth,
    /// Shows, rankings, votes and setlists
    Shows,
    /// Artists, venues, songs and search
    Catalog,
    /// Users, roles and the audit log (admin)
    Admin,
}

pub type Api = (auth_api::AuthApi, shows_api::ShowsApi, catalog_api::CatalogApi, admin::AdminApi);

pub fn service(state: &Arc<AppState>) -> OpenApiService<Api, ()> {
    let _ = state;
    OpenApiService::new(
        (auth_api::AuthApi, shows_api::ShowsApi, catalog_api::CatalogApi, admin::AdminApi),
        "MySetlist API",
        env!("CARGO_PKG_VERSION"),
    )
    .description("Vote on the songs you want an artist to play. Cookie sessions; JSON writes must be same-origin.")
    .url_prefix("/api/v1")
}

/// Fuzzing entry (see `http::fuzzing`): a body as every JSON request type would parse it.
pub(crate) fn fuzz_json_bodies(data: &[u8]) {
    use json_body::parse;
    use models::*;
    let _ = parse::<SignUpRequest>(data);
    let _ = parse::<LoginRequest>(data);
    let _ = parse::<AddSongRequest>(data);
    let _ = parse::<ActualSetlistRequest>(data);
    let _ = parse::<ArtistRequest>(data).map(|b| catalog_api::artist_input(b).validate());
    let _ = parse::<VenueRequest>(data).map(|b| catalog_api::venue_input(b).validate());
    let _ = parse::<SongRequest>(data).map(|b| catalog_api::song_input(b).validate(1));
    if let Ok(b) = parse::<ShowRequest>(data) {
        let _ = crate::domain::parse_time("starts_at", &b.starts_at);
    }
    let _ = parse::<RoleRequest>(data);
    let _ = parse::<BanRequest>(data);
}
