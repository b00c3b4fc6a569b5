//! Calendars: one show as an `.ics` file ("Add to calendar" on its page), and the secret feed of the
//! shows of every artist a user follows (`/calendar/<token>.ics`, made on the account page).
//!
//! Calendar apps fetch feeds without cookies, so the feed's address is its only credential: a
//! 256-bit token of which only the SHA-256 is stored (`domain::calendar`). An unknown token gets
//! the same 404 as a page that does not exist, and a feed response is never stored by caches.

use std::sync::Arc;

use poem::web::{Data, Path};
use poem::{Response, handler};

use super::{public_origin as origin, respond};
use crate::domain::DomainError;
use crate::domain::rows::{Show, ShowStatus};
use crate::http::auth::Visitor;
use crate::http::error::AppError;
use crate::http::ics;
use crate::http::state::AppState;

/// How long an event lasts in a calendar: the catalog has start times only.
const SHOW_LENGTH_SECS: i64 = 3 * 3600;

/// The calendar event of a show. Its UID stays the same in every download and feed.
pub fn show_event(show: &Show, origin: Option<&str>) -> ics::Event {
    let host = origin.and_then(|o| url::Url::parse(o).ok()).and_then(|u| u.host_str().map(str::to_owned));
    let url = origin.map(|o| format!("{o}/shows/{}", show.slug));
    let mut description = match &url {
        Some(u) => format!("Vote on the songs you want to hear: {u}"),
        None => "Vote on the songs you want to hear on MySetlist.".to_owned(),
    };
    if let Some(t) = &show.ticket_url {
        description.push_str(&format!("\nTickets: {t}"));
    }
    let summary = format!("{} at {}", show.artist_name, show.venue_name);
    ics::Event {
        uid: format!("show-{}@{}", show.id, host.as_deref().unwrap_or("mysetlist")),
        start: show.starts_at,
        end: show.starts_at + SHOW_LENGTH_SECS,
        summary: if show.title.is_empty() { summary } else { format!("{}: {summary}", show.title) },
        location: format!("{}, {}", show.venue_name, show.venue_city),
        url,
        description,
        cancelled: show.status == ShowStatus::Cancelled,
    }
}

fn calendar_response(body: String, filename: &str, cache: &str) -> Response {
    Response::builder()
        .content_type("text/calendar; charset=utf-8")
        .header("content-disposition", format!("attachment; filename=\"{filename}\""))
        .header("cache-control", cache)
        .body(body)
}

/// `GET /shows/{slug}/calendar.ics`: the show as a one-event calendar.
#[handler]
pub async fn show_ics(Data(state): Data<&Arc<AppState>>, Path(slug): Path<String>, mut visitor: Visitor) -> Response {
    let result = async {
        let show = state.domain.show_by_slug(&slug).await?;
        let body = ics::calendar(None, &[show_event(&show, origin(state))], state.domain.now());
        // The slug is [a-z0-9-]: safe inside the quoted file name.
        Ok::<_, AppError>(calendar_response(body, &format!("{}.ics", show.slug), "no-cache"))
    }
    .await;
    respond(&mut visitor, &format!("/shows/{slug}"), result)
}

/// `GET /calendar/{token}.ics`: the followed artists' shows of the feed's owner.
#[handler]
pub async fn feed(Data(state): Data<&Arc<AppState>>, Path(file): Path<String>, mut visitor: Visitor) -> Response {
    let result = async {
        let token = file.strip_suffix(".ics").ok_or(DomainError::NotFound("calendar"))?;
        let shows = state.domain.calendar_feed_shows(token).await?;
        let o = origin(state);
        let events: Vec<ics::Event> = shows.iter().map(|s| show_event(s, o)).collect();
        let body = ics::calendar(Some("MySetlist: followed artists"), &events, state.domain.now());
        Ok::<_, AppError>(calendar_response(body, "mysetlist.ics", "private, no-store"))
    }
    .await;
    respond(&mut visitor, "/", result)
}
