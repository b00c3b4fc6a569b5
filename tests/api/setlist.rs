//! The actual setlist (moderators) and the accuracy of the fans' prediction.

use mysetlist::domain::Role;
use serde_json::json;

use crate::helpers::*;

fn show_url(app: &TestApp, id: i64) -> String {
    app.url(&format!("/api/v1/shows/{id}"))
}

#[tokio::test]
async fn the_actual_setlist_scores_the_prediction_and_completes_the_show() {
    let app = spawn_app().await;
    // 6 songs: "Song 0".."Song 4" seed the prediction list, "Song 5" is only in the catalog.
    let show = app.seed_show(chrono::Duration::days(3), 6).await;
    let s = &show.song_ids;
    // A ranking without ties in its top 4: Song 0 (4 votes), 1 (3), 2 (2), 3 (1), 4 (0).
    let mut fans = Vec::new();
    for i in 0..4 {
        fans.push(app.session_client(&app.user(&format!("fan{i}@example.org"), Role::User).await).await);
    }
    for (song_index, voters) in [(0, 4), (1, 3), (2, 2), (3, 1)] {
        for fan in &fans[..voters] {
            let r = fan.post(app.url(&format!("/api/v1/shows/{}/songs/{}/vote", show.show_id, s[song_index])));
            assert_eq!(r.send().await.unwrap().status(), 200);
        }
    }
    let ranking =
        ok_json(fans[0].get(app.url(&format!("/api/v1/shows/{}/ranking", show.show_id))).send().await.unwrap()).await;
    let ranked: Vec<i64> = ranking.as_array().unwrap().iter().map(|r| r["song_id"].as_i64().unwrap()).collect();
    assert_eq!(&ranked[..4], &[s[0], s[1], s[2], s[3]]);

    // The show starts (a moderator moves it into the past), then the real setlist comes in.
    let (moderator, _) = app.signed_in("mod@example.org", Role::Moderator).await;
    let past = (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339();
    let r = moderator
        .put(show_url(&app, show.show_id))
        .json(&json!({"artist_id": show.artist_id, "venue_id": show.venue_id, "starts_at": past}))
        .send()
        .await
        .unwrap();
    no_content(r).await;
    let entries = json!({"entries": [
        {"title": "Intro", "is_tape": true},
        {"song_id": s[0]},
        {"title": "Song 5"},
        {"title": "A Cover Nobody Predicted", "cover_artist": "Someone Else"},
        {"title": "song 3", "encore": 1, "info": "acoustic"}
    ]});
    let r = moderator.put(app.url(&format!("/api/v1/shows/{}/setlist", show.show_id))).json(&entries).send();
    let result = ok_json(r.await.unwrap()).await;

    // Documented formula (src/domain/accuracy.rs): tape excluded, N = 4 performed songs (one unmatched
    // title counts), the fans' top 4 = Songs 0-3, of which Song 0 and Song 3 were played: 100 * 2 / 4.
    let performed = vec![Some(s[0]), Some(s[5]), None, Some(s[3])];
    let expected = mysetlist::domain::accuracy(&ranked, &performed);
    assert_eq!(expected, Some(50.0));
    assert_eq!(result["accuracy"], json!(50.0));

    let detail = ok_json(moderator.get(show_url(&app, show.show_id)).send().await.unwrap()).await;
    assert_eq!(detail["show"]["status"], "completed", "a started show with a setlist is completed");
    assert_eq!(detail["show"]["accuracy"], json!(50.0));
    assert_eq!(detail["show"]["voting_open"], false);
    let actual = detail["actual"].as_array().unwrap();
    let song_ids: Vec<&serde_json::Value> = actual.iter().map(|e| &e["song_id"]).collect();
    assert_eq!(song_ids, [&json!(null), &json!(s[0]), &json!(s[5]), &json!(null), &json!(s[3])]);
    assert_eq!(actual[0]["is_tape"], true);
    assert_eq!(actual[4]["encore"], 1);
    assert_eq!(actual[4]["position"], 5);
    assert_eq!(app.count("SELECT count(*) FROM setlist_entries WHERE show_id = ?1", [show.show_id]), 5);
    let stored: f64 =
        app.db().query_row("SELECT accuracy FROM shows WHERE id = ?1", [show.show_id], |r| r.get(0)).unwrap();
    assert_eq!(stored, 50.0);

    // A completed show takes no more votes.
    let r = fans[0].post(app.url(&format!("/api/v1/shows/{}/songs/{}/vote", show.show_id, s[4]))).send();
    assert_eq!(problem(r.await.unwrap(), 409).await["code"], "voting_closed");

    // Editing the show without naming a status (a title fix) keeps it completed.
    let r = moderator
        .put(show_url(&app, show.show_id))
        .json(&json!({"artist_id": show.artist_id, "venue_id": show.venue_id, "starts_at": past, "title": "Fixed"}))
        .send()
        .await
        .unwrap();
    no_content(r).await;
    let detail = ok_json(moderator.get(show_url(&app, show.show_id)).send().await.unwrap()).await;
    assert_eq!(
        (detail["show"]["status"].as_str(), detail["show"]["title"].as_str()),
        (Some("completed"), Some("Fixed"))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_setlist_before_the_start_scores_but_does_not_complete() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(3), 5).await;
    let (moderator, _) = app.signed_in("mod@example.org", Role::Moderator).await;
    let url = app.url(&format!("/api/v1/shows/{}/setlist", show.show_id));
    // No votes yet: nothing was predicted, so there is no score.
    let r = moderator.put(&url).json(&json!({"entries": [{"song_id": show.song_ids[0]}]})).send().await.unwrap();
    assert_eq!(ok_json(r).await["accuracy"], json!(null));
    // A fan picks Song 0, the one played: 100.
    let fan = app.session_client(&app.user("fan@example.org", Role::User).await).await;
    let vote = app.url(&format!("/api/v1/shows/{}/songs/{}/vote", show.show_id, show.song_ids[0]));
    assert_eq!(fan.post(vote).send().await.unwrap().status(), 200);
    let r = moderator.put(&url).json(&json!({"entries": [{"song_id": show.song_ids[0]}]})).send().await.unwrap();
    assert_eq!(ok_json(r).await["accuracy"], json!(100.0));
    let detail = ok_json(moderator.get(show_url(&app, show.show_id)).send().await.unwrap()).await;
    assert_eq!(detail["show"]["status"], "upcoming");
    // An empty setlist has no accuracy at all.
    let r = moderator.put(&url).json(&json!({"entries": []})).send().await.unwrap();
    assert_eq!(ok_json(r).await["accuracy"], json!(null));
    assert_eq!(app.count("SELECT count(*) FROM setlist_entries WHERE show_id = ?1", [show.show_id]), 0);
    app.stop().await;
}

#[tokio::test]
async fn bad_setlist_entries_are_refused_whole() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::hours(-3), 5).await;
    let other = app.seed_show(chrono::Duration::days(3), 1).await;
    let (moderator, _) = app.signed_in("mod@example.org", Role::Moderator).await;
    let url = app.url(&format!("/api/v1/shows/{}/setlist", show.show_id));
    let good = json!({"entries": [{"title": "Song 0"}, {"title": "Song 1"}]});
    ok_json(moderator.put(&url).json(&good).send().await.unwrap()).await;

    let cases = [
        (json!([{"title": "Song 0"}, {"song_id": other.song_ids[0]}]), 422, Some("entries[1].song_id")),
        (json!([{"title": "   "}]), 422, Some("entries[0].title")),
        (json!([{"title": "Song 0", "encore": 11}]), 422, Some("entries[0].encore")),
        (json!([{"title": "Song 0", "info": "a\u{0}b"}]), 422, Some("entries[0].info")),
        (json!([{"song_id": 999_999}]), 404, None),
    ];
    for (entries, status, field) in cases {
        let r = moderator.put(&url).json(&json!({"entries": entries})).send().await.unwrap();
        let p = problem(r, status).await;
        if let Some(field) = field {
            assert_eq!(p["field"], field, "{entries}");
        }
    }
    // Too many entries is refused by the schema (at most 200).
    let many: Vec<_> = (0..201).map(|i| json!({"title": format!("t{i}")})).collect();
    let r = moderator.put(&url).json(&json!({"entries": many})).send().await.unwrap();
    assert!(r.status() == 400 || r.status() == 422, "{}", r.status());
    // Nothing of the refused requests was stored: the good setlist is still there.
    let titles: Vec<String> = app
        .db()
        .prepare("SELECT title FROM setlist_entries WHERE show_id = ?1 ORDER BY position")
        .unwrap()
        .query_map([show.show_id], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(titles, ["Song 0", "Song 1"]);
    let p =
        problem(moderator.put(app.url("/api/v1/shows/999999/setlist")).json(&good).send().await.unwrap(), 404).await;
    assert_eq!(p["code"], "not_found");
    app.stop().await;
}
