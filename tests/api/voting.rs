//! Voting rules over the JSON API: the toggle, one vote per voter per song per show, counters equal to
//! the vote rows, the lock at show start (checked at write time), anonymous votes and their limits,
//! and adding songs from the catalog.

use std::time::Duration;

use mysetlist::domain::Role;
use serde_json::json;

use crate::helpers::*;

fn vote_path(show: i64, song: i64) -> String {
    format!("/api/v1/shows/{show}/songs/{song}/vote")
}

/// Every counter of the show equals the number of vote rows behind it, and no voter has two rows.
fn assert_counters_match_rows(app: &TestApp, show_id: i64) {
    let db = app.db();
    let mut stmt = db
        .prepare(
            "SELECT ss.song_id, ss.votes, ss.anon_votes,
                    (SELECT count(*) FROM votes v WHERE v.show_id = ss.show_id AND v.song_id = ss.song_id
                       AND v.user_id IS NOT NULL),
                    (SELECT count(*) FROM votes v WHERE v.show_id = ss.show_id AND v.song_id = ss.song_id
                       AND v.user_id IS NULL)
             FROM show_songs ss WHERE ss.show_id = ?1",
        )
        .unwrap();
    let rows: Vec<(i64, i64, i64, i64, i64)> = stmt
        .query_map([show_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!rows.is_empty());
    for (song, votes, anon, user_rows, anon_rows) in rows {
        assert_eq!(votes, user_rows, "signed-in counter of song {song}");
        assert_eq!(anon, anon_rows, "anonymous counter of song {song}");
    }
    let total: i64 = db.query_row("SELECT vote_total FROM shows WHERE id = ?1", [show_id], |r| r.get(0)).unwrap();
    let rows: i64 = db.query_row("SELECT count(*) FROM votes WHERE show_id = ?1", [show_id], |r| r.get(0)).unwrap();
    assert_eq!(total, rows, "shows.vote_total");
}

#[tokio::test]
async fn a_vote_is_a_toggle() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(7), 5).await;
    let (c, user) = app.signed_in("fan@example.org", Role::User).await;
    let song = show.song_ids[0];
    let v = ok_json(c.post(app.url(&vote_path(show.show_id, song))).send().await.unwrap()).await;
    assert_eq!(v, json!({"voted": true, "votes": 1, "anon_votes": 0}));
    let detail = ok_json(c.get(app.url(&format!("/api/v1/shows/{}", show.show_id))).send().await.unwrap()).await;
    assert_eq!(detail["my_votes"], json!([song]));
    assert_eq!(detail["ranking"][0]["song_id"], song, "the voted song leads the ranking");
    assert_eq!(detail["ranking"][0]["votes"], 1);
    assert_counters_match_rows(&app, show.show_id);

    let v = ok_json(c.post(app.url(&vote_path(show.show_id, song))).send().await.unwrap()).await;
    assert_eq!(v, json!({"voted": false, "votes": 0, "anon_votes": 0}), "voting again takes the vote back");
    assert_eq!(app.count("SELECT count(*) FROM votes WHERE user_id = ?1", [user.id]), 0);
    let ranking =
        ok_json(c.get(app.url(&format!("/api/v1/shows/{}/ranking", show.show_id))).send().await.unwrap()).await;
    assert!(ranking.as_array().unwrap().iter().all(|r| r["votes"] == 0), "{ranking}");
    assert_counters_match_rows(&app, show.show_id);
    app.stop().await;
}

#[tokio::test]
async fn one_vote_per_voter_per_song_per_show() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(7), 5).await;
    let other_show = app.seed_show(chrono::Duration::days(8), 5).await;
    let a = app.session_client(&app.user("a@example.org", Role::User).await).await;
    let b = app.session_client(&app.user("b@example.org", Role::User).await).await;
    let song = show.song_ids[1];
    for c in [&a, &b] {
        assert_eq!(c.post(app.url(&vote_path(show.show_id, song))).send().await.unwrap().status(), 200);
    }
    assert_eq!(app.count("SELECT votes FROM show_songs WHERE show_id = ?1 AND song_id = ?2", [show.show_id, song]), 2);
    // Repeating never counts twice: each further request flips the voter's single vote.
    for round in 0..5 {
        let v = ok_json(a.post(app.url(&vote_path(show.show_id, song))).send().await.unwrap()).await;
        let expected_mine = round % 2 == 1;
        assert_eq!(v["voted"], expected_mine);
        assert_eq!(v["votes"], if expected_mine { 2 } else { 1 });
        let per_voter_max = app.count(
            "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM votes GROUP BY show_id, song_id, voter)",
            [],
        );
        assert!(per_voter_max <= 1);
        assert_counters_match_rows(&app, show.show_id);
    }
    // The same voter may vote for the same song title on another show: a separate count.
    let v =
        ok_json(a.post(app.url(&vote_path(other_show.show_id, other_show.song_ids[1]))).send().await.unwrap()).await;
    assert_eq!(v["votes"], 1);
    assert_counters_match_rows(&app, other_show.show_id);
    app.stop().await;
}

#[tokio::test]
async fn votes_on_unknown_shows_or_songs_are_not_found() {
    let app = spawn_app().await;
    // 7 songs: the 5 most popular seed the list, the other 2 are in the catalog but not on the show.
    let show = app.seed_show(chrono::Duration::days(7), 7).await;
    let other = app.seed_show(chrono::Duration::days(7), 2).await;
    let (c, _) = app.signed_in("fan@example.org", Role::User).await;
    let cases = [
        (vote_path(999_999, show.song_ids[0]), "unknown show"),
        (vote_path(show.show_id, 999_999), "unknown song"),
        (vote_path(show.show_id, show.song_ids[6]), "catalog song not on the list"),
        (vote_path(show.show_id, other.song_ids[0]), "another artist's song"),
    ];
    for (path, what) in cases {
        let p = problem(c.post(app.url(&path)).send().await.unwrap(), 404).await;
        assert_eq!(p["code"], "not_found", "{what}");
    }
    assert_eq!(app.count("SELECT count(*) FROM votes", []), 0);
    app.stop().await;
}

#[tokio::test]
async fn a_show_that_has_started_refuses_votes() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::hours(-1), 5).await;
    let (c, _) = app.signed_in("late@example.org", Role::User).await;
    let p = problem(c.post(app.url(&vote_path(show.show_id, show.song_ids[0]))).send().await.unwrap(), 409).await;
    assert_eq!(p["code"], "voting_closed");
    assert_eq!(app.count("SELECT count(*) FROM votes", []), 0);
    let detail = ok_json(c.get(app.url(&format!("/api/v1/shows/{}", show.show_id))).send().await.unwrap()).await;
    assert_eq!(detail["show"]["voting_open"], false);
    app.stop().await;
}

#[tokio::test]
async fn voting_locks_exactly_at_the_start_without_any_scheduler() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::seconds(2), 5).await;
    let starts_at = app.count("SELECT starts_at FROM shows WHERE id = ?1", [show.show_id]);
    let (c, _) = app.signed_in("ontime@example.org", Role::User).await;
    let url = app.url(&vote_path(show.show_id, show.song_ids[0]));
    assert!(chrono::Utc::now().timestamp() < starts_at, "the test setup took longer than the show's lead time");
    let v = ok_json(c.post(&url).send().await.unwrap()).await;
    assert_eq!(v["voted"], true, "before the start a vote counts");

    // Wait (bounded) until the start has passed on the shared clock, then vote again.
    let started =
        wait_for(Duration::from_secs(10), || async { (chrono::Utc::now().timestamp() >= starts_at).then_some(()) })
            .await;
    assert!(started.is_some());
    let p = problem(c.post(&url).send().await.unwrap(), 409).await;
    assert_eq!(p["code"], "voting_closed");
    // Taking a vote back is a write too: it is refused after the start, so the count stays.
    assert_eq!(
        app.count("SELECT votes FROM show_songs WHERE show_id = ?1 AND song_id = ?2", [show.show_id, show.song_ids[0]]),
        1
    );
    // Nothing changed the show's status: the refusal came from the check inside the vote's write. (The
    // scheduler's lock job ran at start-up, before the show existed, and runs again only after 15 s.)
    let status: String =
        app.db().query_row("SELECT status FROM shows WHERE id = ?1", [show.show_id], |r| r.get(0)).unwrap();
    assert_eq!(status, "upcoming");
    assert_eq!(
        app.count("SELECT count(*) FROM job_runs WHERE job = 'lock_shows' AND last_started >= ?1", [starts_at]),
        0,
        "the lock job did not run since the show started"
    );
    app.stop().await;
}

#[tokio::test]
async fn anonymous_voting_is_off_by_default() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(7), 5).await;
    let c = app.client();
    let r = c.post(app.url(&vote_path(show.show_id, show.song_ids[0]))).send().await.unwrap();
    let p = problem(r, 401).await;
    assert_eq!(p["code"], "unauthorized");
    assert_eq!(app.count("SELECT count(*) FROM votes", []), 0);
    app.stop().await;
}

#[tokio::test]
async fn anonymous_votes_are_counted_separately() {
    let app = spawn_app_with(&[("MYSETLIST_VOTING__ANONYMOUS", "true")]).await;
    let show = app.seed_show(chrono::Duration::days(7), 5).await;
    let song = show.song_ids[0];
    let anon = app.client();
    let r = anon.post(app.url(&vote_path(show.show_id, song))).send().await.unwrap();
    let device_cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("device="))
        .expect("a device cookie is issued");
    assert!(device_cookie.contains("HttpOnly"), "{device_cookie}");
    let v = ok_json(r).await;
    assert_eq!(v, json!({"voted": true, "votes": 0, "anon_votes": 1}));

    let (signed_in, _) = app.signed_in("fan@example.org", Role::User).await;
    let v = ok_json(signed_in.post(app.url(&vote_path(show.show_id, song))).send().await.unwrap()).await;
    assert_eq!(v, json!({"voted": true, "votes": 1, "anon_votes": 1}));

    // The same device toggles its own vote back (the cookie identifies it).
    let detail = ok_json(anon.get(app.url(&format!("/api/v1/shows/{}", show.show_id))).send().await.unwrap()).await;
    assert_eq!(detail["my_votes"], json!([song]));
    let v = ok_json(anon.post(app.url(&vote_path(show.show_id, song))).send().await.unwrap()).await;
    assert_eq!(v, json!({"voted": false, "votes": 1, "anon_votes": 0}));
    let v = ok_json(anon.post(app.url(&vote_path(show.show_id, song))).send().await.unwrap()).await;
    assert_eq!(v["anon_votes"], 1);
    assert_eq!(
        app.count("SELECT count(*) FROM votes WHERE user_id IS NULL AND voter LIKE 'd%' AND ip_hash IS NOT NULL", []),
        1
    );
    assert_counters_match_rows(&app, show.show_id);
    app.stop().await;
}

/// Anonymous clients behind a trusted proxy, so each can claim its own network address.
fn anonymous_client(ip: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", ip.parse().unwrap());
    reqwest::Client::builder().cookie_store(true).default_headers(headers).build().unwrap()
}

#[tokio::test]
async fn anonymous_votes_are_limited_per_device_and_per_network() {
    let app = spawn_app_with(&[
        ("MYSETLIST_VOTING__ANONYMOUS", "true"),
        ("MYSETLIST_VOTING__ANONYMOUS_VOTES_PER_SHOW", "3"),
        ("MYSETLIST_HTTP__TRUSTED_PROXIES", "127.0.0.1/32"),
    ])
    .await;
    let show = app.seed_show(chrono::Duration::days(7), 5).await;
    let vote = |c: &reqwest::Client, song: usize| c.post(app.url(&vote_path(show.show_id, show.song_ids[song]))).send();

    // Device A on network 1 uses its three votes.
    let device_a = anonymous_client("203.0.113.1");
    for song in 0..3 {
        assert_eq!(vote(&device_a, song).await.unwrap().status(), 200);
    }
    let limited = vote(&device_a, 3).await.unwrap();
    let retry_after = limited.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let p = problem(limited, 429).await;
    assert_eq!(p["code"], "rate_limited");
    assert!(retry_after.and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s > 0), "Retry-After in seconds");
    // Taking a vote back is always allowed, and frees one vote.
    assert_eq!(ok_json(vote(&device_a, 0).await.unwrap()).await["voted"], false);
    assert_eq!(ok_json(vote(&device_a, 3).await.unwrap()).await["voted"], true);

    // Per device: the same device (same cookie jar) from another network is still limited.
    let r = device_a
        .post(app.url(&vote_path(show.show_id, show.song_ids[4])))
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .unwrap();
    problem(r, 429).await;

    // Per network: a fresh device on network 1 is limited, one on network 2 is not.
    let device_b = anonymous_client("203.0.113.1");
    problem(vote(&device_b, 4).await.unwrap(), 429).await;
    let device_c = anonymous_client("198.51.100.7");
    assert_eq!(vote(&device_c, 4).await.unwrap().status(), 200);

    assert_eq!(app.count("SELECT sum(anon_votes) FROM show_songs WHERE show_id = ?1", [show.show_id]), 4);
    assert_counters_match_rows(&app, show.show_id);
    app.stop().await;
}

#[tokio::test]
async fn fans_add_songs_from_the_artists_catalog() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(7), 7).await;
    let other = app.seed_show(chrono::Duration::days(7), 1).await;
    let (c, user) = app.signed_in("adder@example.org", Role::User).await;
    let add = |song: i64| {
        c.post(app.url(&format!("/api/v1/shows/{}/songs", show.show_id))).json(&json!({"song_id": song})).send()
    };

    let extra = show.song_ids[6];
    assert_eq!(ok_json(add(extra).await.unwrap()).await, json!(true));
    assert_eq!(
        app.count("SELECT added_by FROM show_songs WHERE show_id = ?1 AND song_id = ?2", [show.show_id, extra]),
        user.id
    );
    assert_eq!(ok_json(add(extra).await.unwrap()).await, json!(false), "adding twice changes nothing");
    // The added song can be voted on right away.
    assert_eq!(c.post(app.url(&vote_path(show.show_id, extra))).send().await.unwrap().status(), 200);

    let p = problem(add(other.song_ids[0]).await.unwrap(), 422).await;
    assert_eq!(p["field"], "song_id");
    problem(add(999_999).await.unwrap(), 404).await;
    let r = c.post(app.url("/api/v1/shows/999999/songs")).json(&json!({"song_id": extra})).send().await.unwrap();
    problem(r, 404).await;
    // Signed-out visitors cannot add songs.
    let r = app
        .client()
        .post(app.url(&format!("/api/v1/shows/{}/songs", show.show_id)))
        .json(&json!({"song_id": show.song_ids[5]}))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
    assert_eq!(app.count("SELECT count(*) FROM show_songs WHERE show_id = ?1", [show.show_id]), 6);

    // A show that has started is closed for additions too.
    let started = app.seed_show(chrono::Duration::hours(-2), 7).await;
    let r = c
        .post(app.url(&format!("/api/v1/shows/{}/songs", started.show_id)))
        .json(&json!({"song_id": started.song_ids[6]}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, 409).await["code"], "voting_closed");
    assert_eq!(app.count("SELECT count(*) FROM show_songs WHERE show_id = ?1", [started.show_id]), 5);
    app.stop().await;
}
