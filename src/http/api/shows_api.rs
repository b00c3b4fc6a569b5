//! Shows over JSON: list, detail with ranking, vote toggle, add a song, the actual setlist.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::json_body::JsonBody;
use super::models::*;
use super::responses::{ChangeResponse, CreateResponse};
use super::shared_json::SharedJson;
use crate::domain::{ActualEntryInput, ShowInput, VoteAction};
use crate::http::auth::{SameOrigin, SameOriginUser, Visitor};
use crate::http::error::ApiResult;
use crate::http::state::AppState;

pub struct ShowsApi;

#[derive(ApiResponse)]
pub enum Voted {
    /// The vote was toggled; anonymous voters get their device cookie
    #[oai(status = 200)]
    Ok(Json<VoteResult>, #[oai(header = "set-cookie")] Option<String>),
}

#[OpenApi(tag = "ApiTags::Shows")]
impl ShowsApi {
    /// Upcoming shows, soonest first
    #[oai(path = "/shows", method = "get")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        #[oai(default = "default_limit", validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<i64>,
    ) -> ApiResult<Json<Vec<ShowSummary>>> {
        let now = state.domain.now();
        let shows = state.domain.upcoming_shows(limit.0).await?;
        Ok(Json(shows.iter().map(|s| ShowSummary::from_show(s, now)).collect()))
    }

    /// A show with its ranking, actual setlist and the caller's votes. `id` is the numeric id or the slug.
    #[oai(path = "/shows/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Visitor,
        #[oai(validator(max_length = 120))] id: Path<String>,
    ) -> ApiResult<Json<ShowDetail>> {
        let show = match id.0.parse::<i64>() {
            Ok(n) => state.domain.show_by_id(n).await,
            Err(_) => state.domain.show_by_slug(&id.0).await,
        }?;
        let voter = visitor.existing_voter();
        let page = state.domain.show_page(show, voter.as_ref()).await?;
        let now = state.domain.now();
        Ok(Json(ShowDetail {
            show: ShowSummary::from_show(&page.show, now),
            ranking: page.ranking.iter().map(RankedSong::from).collect(),
            actual: page.actual.iter().map(SetlistEntry::from).collect(),
            my_votes: page.my_votes,
        }))
    }

    /// The ranking only (songs ordered by votes)
    #[oai(path = "/shows/:id/ranking", method = "get")]
    async fn ranking(&self, state: Data<&Arc<AppState>>, id: Path<i64>) -> ApiResult<SharedJson<Vec<RankedSong>>> {
        // The cached ranking's own JSON: no per-request serialization (see shared_json.rs).
        let r = state.domain.ranking(id.0).await?;
        Ok(SharedJson::new(r.json()))
    }

    /// Toggle the caller's vote for a song on a show (vote again to take it back)
    #[oai(path = "/shows/:id/songs/:song_id/vote", method = "post")]
    async fn vote(
        &self,
        state: Data<&Arc<AppState>>,
        _same_origin: SameOrigin,
        mut visitor: Visitor,
        id: Path<i64>,
        song_id: Path<i64>,
    ) -> ApiResult<Voted> {
        let voter = visitor.voter();
        let o = state.domain.toggle_vote(&voter, id.0, song_id.0).await?;
        let result = VoteResult { voted: o.voted, votes: o.votes, anon_votes: o.anon_votes };
        Ok(Voted::Ok(Json(result), visitor.pending_cookies().first().cloned()))
    }

    /// Vote for a song (idempotent: safe to retry)
    #[oai(path = "/shows/:id/songs/:song_id/vote", method = "put")]
    async fn set_vote(
        &self,
        state: Data<&Arc<AppState>>,
        _same_origin: SameOrigin,
        mut visitor: Visitor,
        id: Path<i64>,
        song_id: Path<i64>,
    ) -> ApiResult<Voted> {
        let voter = visitor.voter();
        let o = state.domain.vote(&voter, id.0, song_id.0, VoteAction::Set).await?;
        let result = VoteResult { voted: o.voted, votes: o.votes, anon_votes: o.anon_votes };
        Ok(Voted::Ok(Json(result), visitor.pending_cookies().first().cloned()))
    }

    /// Take a vote back (idempotent: safe to retry)
    #[oai(path = "/shows/:id/songs/:song_id/vote", method = "delete")]
    async fn unset_vote(
        &self,
        state: Data<&Arc<AppState>>,
        _same_origin: SameOrigin,
        mut visitor: Visitor,
        id: Path<i64>,
        song_id: Path<i64>,
    ) -> ApiResult<Voted> {
        let voter = visitor.voter();
        let o = state.domain.vote(&voter, id.0, song_id.0, VoteAction::Unset).await?;
        let result = VoteResult { voted: o.voted, votes: o.votes, anon_votes: o.anon_votes };
        Ok(Voted::Ok(Json(result), visitor.pending_cookies().first().cloned()))
    }

    /// Add a song from the artist's catalog to the show's list
    #[oai(path = "/shows/:id/songs", method = "post")]
    async fn add_song(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        id: Path<i64>,
        body: JsonBody<AddSongRequest>,
    ) -> ApiResult<Json<bool>> {
        let added = state.domain.add_song_to_show(&user, id.0, body.song_id).await?;
        Ok(Json(added))
    }

    /// Report an artist, venue, show, song or user to the moderators (signed in; rate limited)
    #[oai(path = "/reports", method = "post")]
    async fn report(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        body: JsonBody<ReportRequest>,
    ) -> ApiResult<CreateResponse> {
        let b = body.0;
        let id = state.domain.report(&user, &b.target_type, &b.target_id.to_string(), &b.reason).await?;
        Ok(CreateResponse::Created(Json(Created { id })))
    }

    /// Create a show (moderator); its list is seeded with the artist's popular studio songs
    #[oai(path = "/shows", method = "post")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        body: JsonBody<ShowRequest>,
    ) -> ApiResult<CreateResponse> {
        let b = body.0;
        let input = ShowInput {
            artist_id: b.artist_id,
            venue_id: b.venue_id,
            starts_at: b.starts_at,
            title: b.title,
            slug: b.slug,
            status: b.status,
            ticket_url: b.ticket_url,
        };
        let id = state.domain.create_show(&user, input).await?;
        Ok(CreateResponse::Created(Json(Created { id })))
    }

    /// Update a show (moderator)
    #[oai(path = "/shows/:id", method = "put")]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        id: Path<i64>,
        body: JsonBody<ShowRequest>,
    ) -> ApiResult<ChangeResponse> {
        let b = body.0;
        let input = ShowInput {
            artist_id: b.artist_id,
            venue_id: b.venue_id,
            starts_at: b.starts_at,
            title: b.title,
            slug: b.slug,
            status: b.status,
            ticket_url: b.ticket_url,
        };
        state.domain.update_show(&user, id.0, input).await?;
        Ok(ChangeResponse::Done)
    }

    /// Delete a show (admin)
    #[oai(path = "/shows/:id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        id: Path<i64>,
    ) -> ApiResult<ChangeResponse> {
        state.domain.delete_show(&user, id.0).await?;
        Ok(ChangeResponse::Done)
    }

    /// Set the actual setlist (moderator); returns the prediction's accuracy
    #[oai(path = "/shows/:id/setlist", method = "put")]
    async fn set_actual(
        &self,
        state: Data<&Arc<AppState>>,
        user: SameOriginUser,
        id: Path<i64>,
        body: JsonBody<ActualSetlistRequest>,
    ) -> ApiResult<Json<AccuracyResult>> {
        let entries = body
            .0
            .entries
            .into_iter()
            .map(|e| ActualEntryInput {
                title: e.title,
                song_id: e.song_id,
                encore: e.encore,
                info: e.info,
                cover_artist: e.cover_artist,
                is_tape: e.is_tape,
            })
            .collect();
        let accuracy = state.domain.set_actual_setlist(&user, id.0, entries).await?;
        Ok(Json(AccuracyResult { accuracy }))
    }
}

fn default_limit() -> i64 {
    50
}
