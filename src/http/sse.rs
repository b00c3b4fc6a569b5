//! Live ranking over server-sent events: `GET /shows/{id}/live`. The first event is the current
//! ranking; after that one event per (coalesced) change. A watcher that falls behind skips to the
//! newest ranking instead of queueing.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use poem::web::sse::{Event, SSE};
use poem::web::{Data, Path};
use poem::{IntoResponse, Response, handler};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::state::AppState;
use crate::error::AppError;

#[handler]
pub async fn ranking_stream(Data(state): Data<&Arc<AppState>>, Path(show_id): Path<i64>) -> Result<Response, AppError> {
    let domain = state.domain.clone();
    // Unknown shows first: subscribing creates the show's channel, which must not exist for any id.
    domain.show_by_id(show_id).await?;
    // Subscribe before reading the current ranking so no change can fall in between.
    let updates = domain.hub.subscribe(show_id);
    let ranking = domain.ranking(show_id).await?;
    let first = serde_json::json!({ "show_id": show_id, "ranking": *ranking }).to_string();
    let initial = futures_util::stream::once(async move { Event::message(first).event_type("ranking") });
    let live = BroadcastStream::new(updates).filter_map(|m| async move {
        match m {
            Ok(json) => Some(Event::message(json.to_string()).event_type("ranking")),
            // Lagged: the next message carries the full newest ranking anyway.
            Err(BroadcastStreamRecvError::Lagged(_)) => None,
        }
    });
    Ok(SSE::new(initial.chain(live)).keep_alive(Duration::from_secs(20)).into_response())
}
