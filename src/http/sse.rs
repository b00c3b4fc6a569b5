//! Live ranking over server-sent events: `GET /shows/{id}/live`. The first event is the current
//! ranking, the second how many watch the show (`watchers`, `{"show_id":..,"watchers":N}`, sent
//! again at most once a second as watchers come and go); after that one event per (coalesced)
//! change. A watcher that falls behind skips to the
//! newest ranking instead of queueing. When voting closes (the show's start time) every watcher
//! gets one `locked` event, `{"show_id":..}`, at once if it connected after the start: an open page
//! turns itself read-only without waiting for the viewer's clock, which may be wrong.
//!
//! The body is a stream of shared `Bytes`: each hub message is framed as an event once (by the first
//! watcher to send it) and every watcher sends that same buffer, so a broadcast to many watchers
//! costs no copy or allocation per watcher and one body frame each (poem's `SSE` type formats every
//! event into a new String per watcher and re-buffers it through an AsyncRead, which at 10,000
//! watchers dominated the fan-out time and memory).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{self, Either};
use futures_util::{StreamExt, stream};
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};

use super::client_ip::client_ip;
use super::state::AppState;
use crate::domain::live::{LiveEvent, RankingUpdate, locked_message, ranking_message, watchers_message};
use crate::http::error::AppError;

/// The route, and the test `app::server` uses to send a connection whose first request is a live
/// stream to its lean writer.
pub const ROUTE: &str = "/shows/:id/live";

/// Whether `path` (no query) is `ROUTE` with a numeric id: `/shows/{digits}/live`.
pub fn is_live_stream_path(path: &str) -> bool {
    path.strip_prefix("/shows/")
        .and_then(|rest| rest.strip_suffix("/live"))
        .is_some_and(|id| !id.is_empty() && id.len() <= 19 && id.bytes().all(|b| b.is_ascii_digit()))
}

/// Comment lines keep proxies, browsers and our own idle timeout (`http.idle_timeout`, at least
/// three keep-alives long) from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(20);

fn keep_alive_interval(idle_timeout: Duration) -> Duration {
    KEEP_ALIVE.min(idle_timeout / 3).max(Duration::from_millis(100))
}

/// One event: `event: <name>`, the JSON on one `data:` line (serde_json's compact output has no
/// newlines), and the blank line that ends the event.
fn live_event(event: LiveEvent, json: &[u8]) -> Bytes {
    framed_event(format!("event: {}\ndata: ", event.name()).as_bytes(), json)
}

fn framed_event(head: &[u8], json: &[u8]) -> Bytes {
    let mut event = Vec::with_capacity(head.len() + json.len() + 2);
    event.extend_from_slice(head);
    event.extend_from_slice(json);
    event.extend_from_slice(b"\n\n");
    Bytes::from(event)
}

#[handler]
pub async fn ranking_stream(
    req: &Request,
    Data(state): Data<&Arc<AppState>>,
    Path(show_id): Path<i64>,
) -> Result<Response, AppError> {
    let ip = client_ip(req, &state.config.trusted_proxies);
    // Moved into the body: the place is given back when the stream ends.
    let slot = state.live_streams.admit(ip).ok_or(AppError::RateLimited { retry_after_secs: 30 })?;
    let domain = state.domain.clone();
    // Unknown shows first (NotFound): subscribing creates the show's channel, which must not exist
    // for any id.
    let show = domain.show_by_id(show_id).await?;
    let lock_in = domain.voting_closes_in(&show);
    // Subscribe before reading the current ranking so no change can fall in between (a cache hit
    // unless a vote came in since).
    let (updates, watching) = domain.hub.subscribe(show_id);
    let ranking = domain.ranking(show_id).await?;
    let first = ranking_message(show_id, &ranking);
    domain.hub.joined_with(&watching, &first);
    let first = live_event(LiveEvent::Ranking, &first);
    let audience = live_event(LiveEvent::Watchers, &watchers_message(show_id, domain.hub.watchers_of(show_id)));
    // Lagged (the only error): messages were dropped, the last ranking among them perhaps (the
    // channel keeps 16 and audience counts come and go), and an unchanged ranking is never sent
    // again: this watcher is sent the current one.
    // A message is framed at once; only a lag reads (and clones the domain handle, which every
    // watcher shares: cloning it per message would put 10,000 watchers on one counter).
    let reader = domain.clone();
    let live = BroadcastStream::new(updates).filter_map(
        move |m: Result<Arc<RankingUpdate>, BroadcastStreamRecvError>| match m {
            Ok(u) => Either::Left(future::ready(Some(u.framed(|json| live_event(u.event, json))))),
            Err(BroadcastStreamRecvError::Lagged(_)) => {
                let reader = reader.clone();
                Either::Right(async move {
                    let ranking = reader.ranking(show_id).await.ok()?;
                    Some(live_event(LiveEvent::Ranking, &ranking_message(show_id, &ranking)))
                })
            }
        },
    );
    // A timer per watcher (a tokio timer-wheel entry, no task): the event goes out at the start
    // even when nobody votes, and never twice.
    let locked = stream::once(async move {
        tokio::time::sleep(lock_in).await;
        framed_event(b"event: locked\ndata: ", &locked_message(show_id))
    });
    let events = stream::iter([first, audience]).chain(stream::select(live, locked)).map(Ok::<_, std::io::Error>);
    let every = keep_alive_interval(state.config.settings.http.idle_timeout);
    let start = tokio::time::Instant::now() + every;
    let keep_alive =
        IntervalStream::new(tokio::time::interval_at(start, every)).map(|_| Ok(Bytes::from_static(b":\n\n")));
    let body = stream::select(events, keep_alive).map(move |chunk| {
        let _held = (&slot, &watching);
        chunk
    });
    Ok(Response::builder()
        .content_type("text/event-stream")
        .header("cache-control", "no-cache")
        .header("x-accel-buffering", "no")
        .body(Body::from_bytes_stream(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_stream_paths_are_those_of_the_route() {
        assert!(is_live_stream_path("/shows/1/live"));
        assert!(is_live_stream_path("/shows/9876543210/live"));
        for other in
            ["/shows//live", "/shows/1/live/", "/shows/a/live", "/shows/1", "/shows/1/lives", "/x/shows/1/live"]
        {
            assert!(!is_live_stream_path(other), "{other}");
        }
    }
}
