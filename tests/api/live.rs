//! Live rankings over server-sent events: the first event is the current ranking, every vote after
//! that arrives as a new `ranking` event.

use std::time::Duration;

use futures_util::StreamExt;
use mysetlist::domain::Role;

use crate::helpers::*;

/// Reads server-sent events off a streaming response, one complete event at a time.
struct EventReader {
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl EventReader {
    fn new(resp: reqwest::Response) -> Self {
        Self { stream: resp.bytes_stream().boxed(), buffer: String::new() }
    }

    /// The next event as (event type, data), skipping keep-alive comments; None at end of stream.
    async fn next_event(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut kind = String::from("message");
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        kind = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                    }
                }
                if data.is_empty() {
                    continue; // a comment or keep-alive
                }
                return Some((kind, data.join("\n")));
            }
            let chunk = self.stream.next().await?.ok()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next event other than `watchers` (which come and go with the audience), within a bound.
    async fn next_non_audience(&mut self) -> (String, String) {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let event = self.next_event().await.expect("the stream is still open");
                if event.0 != "watchers" {
                    return event;
                }
            }
        })
        .await
        .expect("an event within 10 s")
    }

    /// The next `ranking` event's JSON, within a bounded time.
    async fn next_ranking(&mut self) -> serde_json::Value {
        let (kind, data) = self.next_non_audience().await;
        assert_eq!(kind, "ranking");
        serde_json::from_str(&data).expect("event data is JSON")
    }

    /// The watcher count of the next `watchers` event, within `within`.
    async fn next_watchers(&mut self, within: Duration) -> i64 {
        tokio::time::timeout(within, async {
            loop {
                let (kind, data) = self.next_event().await.expect("the stream is still open");
                if kind == "watchers" {
                    let data: serde_json::Value = serde_json::from_str(&data).unwrap();
                    return data["watchers"].as_i64().unwrap();
                }
            }
        })
        .await
        .expect("a watchers event in time")
    }
}

fn votes_of(ranking: &serde_json::Value, song: i64) -> i64 {
    ranking["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["song_id"] == song)
        .map(|r| r["votes"].as_i64().unwrap())
        .expect("song in the ranking")
}

#[tokio::test]
async fn a_vote_reaches_watchers_as_a_new_ranking() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(2), 5).await;
    let song = show.song_ids[2];
    let watcher = app.client();
    let resp = watcher.get(app.url(&format!("/shows/{}/live", show.show_id))).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let mut events = EventReader::new(resp);

    let first = events.next_ranking().await;
    assert_eq!(first["show_id"], show.show_id);
    assert_eq!(first["ranking"].as_array().unwrap().len(), 5);
    assert_eq!(votes_of(&first, song), 0);

    let fans = [
        app.session_client(&app.user("live1@example.org", Role::User).await).await,
        app.session_client(&app.user("live2@example.org", Role::User).await).await,
    ];
    for (i, fan) in fans.iter().enumerate() {
        let r = fan.post(app.url(&format!("/api/v1/shows/{}/songs/{song}/vote", show.show_id))).send().await.unwrap();
        assert_eq!(r.status(), 200);
        // Each vote is followed by an event carrying it (events are coalesced, never lost: the last
        // event after a change always has the newest counts).
        let mut latest = events.next_ranking().await;
        while votes_of(&latest, song) < i as i64 + 1 {
            latest = events.next_ranking().await;
        }
        assert_eq!(votes_of(&latest, song), i as i64 + 1);
        assert_eq!(latest["ranking"][0]["song_id"], song, "the voted song leads");
    }
    app.stop().await;
}

/// A change that leaves a show's ranking as it was costs its watchers no message (here what a
/// standby does after applying replicated pages: every watched ranking is marked as changed); the
/// next ranking event they get is the next real change.
#[tokio::test]
async fn watchers_get_a_ranking_only_when_it_changed() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(2), 5).await;
    let song = show.song_ids[1];
    let resp = app.client().get(app.url(&format!("/shows/{}/live", show.show_id))).send().await.unwrap();
    let mut events = EventReader::new(resp);
    assert_eq!(votes_of(&events.next_ranking().await, song), 0);

    let skipped_before = app.domain().hub.unchanged_rankings();
    app.domain().data_changed();
    let skipped = wait_for(Duration::from_secs(10), || async {
        (app.domain().hub.unchanged_rankings() > skipped_before).then_some(())
    })
    .await;
    assert!(skipped.is_some(), "the unchanged ranking was never read and held back");
    let fan = app.session_client(&app.user("changed@example.org", Role::User).await).await;
    let r = fan.post(app.url(&format!("/api/v1/shows/{}/songs/{song}/vote", show.show_id))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        votes_of(&events.next_ranking().await, song),
        1,
        "the next event is the vote, not the same ranking again"
    );
    app.stop().await;
}

#[tokio::test]
async fn live_rankings_of_unknown_shows_are_not_found() {
    let app = spawn_app().await;
    let c = app.client();
    problem(c.get(app.url("/shows/999999/live")).send().await.unwrap(), 404).await;
    problem(c.get(app.url("/shows/not-a-number/live")).send().await.unwrap(), 400).await;
    app.stop().await;
}

/// The next event other than `ranking` and `watchers`, within `within`.
async fn next_non_ranking(events: &mut EventReader, within: Duration) -> (String, String) {
    tokio::time::timeout(within, async {
        loop {
            let event = events.next_event().await.expect("the stream is still open");
            if event.0 != "ranking" && event.0 != "watchers" {
                return event;
            }
        }
    })
    .await
    .expect("an event in time")
}

#[tokio::test]
async fn watchers_get_a_locked_event_when_the_show_starts() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::seconds(2), 3).await;
    let starts_at = app.domain().show_by_id(show.show_id).await.unwrap().starts_at;
    let resp = app.client().get(app.url(&format!("/shows/{}/live", show.show_id))).send().await.unwrap();
    let mut events = EventReader::new(resp);
    events.next_ranking().await;
    let (kind, data) = next_non_ranking(&mut events, Duration::from_secs(10)).await;
    assert_eq!(kind, "locked");
    let data: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(data["show_id"], show.show_id);
    assert!(chrono::Utc::now().timestamp() >= starts_at, "never before the start");
    app.stop().await;
}

#[tokio::test]
async fn a_watcher_of_a_started_show_is_told_at_once_that_voting_is_locked() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::hours(-1), 3).await;
    let resp = app.client().get(app.url(&format!("/shows/{}/live", show.show_id))).send().await.unwrap();
    let mut events = EventReader::new(resp);
    events.next_ranking().await;
    let (kind, _) = next_non_ranking(&mut events, Duration::from_secs(2)).await;
    assert_eq!(kind, "locked");
    app.stop().await;
}

#[tokio::test]
async fn watchers_hear_how_many_watch_as_others_come_and_go() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(2), 3).await;
    let url = app.url(&format!("/shows/{}/live", show.show_id));
    let open = || async { EventReader::new(app.client().get(&url).send().await.unwrap()) };
    let mut first = open().await;
    first.next_ranking().await;
    assert_eq!(first.next_watchers(Duration::from_secs(5)).await, 1, "a new watcher is told the count at once");

    let mut second = open().await;
    second.next_ranking().await;
    assert_eq!(second.next_watchers(Duration::from_secs(5)).await, 2);
    // The others hear of the arrival within the coalescing bound (plus scheduling slack).
    let bound = mysetlist::domain::WATCHERS_COALESCE + Duration::from_secs(3);
    let mut seen = first.next_watchers(bound).await;
    while seen != 2 {
        seen = first.next_watchers(bound).await;
    }
    drop(second);
    let mut seen = first.next_watchers(bound).await;
    while seen != 1 {
        seen = first.next_watchers(bound).await;
    }
    assert_eq!(app.domain().hub.watchers_of(show.show_id), 1);
    drop(first);
    app.stop().await;
}
