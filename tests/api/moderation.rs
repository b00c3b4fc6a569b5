//! Moderation: fans report content (JSON API and the show page's form) into the moderators' queue;
//! moderators cannot "reopen" a completed show.

use mysetlist::domain::{CurrentUser, Role, ShowInput};
use serde_json::json;

use crate::helpers::*;

fn open_reports(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM reports WHERE status = 'open'", [])
}

#[tokio::test]
async fn a_signed_in_fan_reports_content_into_the_moderators_queue() {
    let app = spawn_app_with(&[("MYSETLIST_RATE_LIMIT__REPORTS_PER_HOUR", "5")]).await;
    let seeded = app.seed_show(chrono::Duration::days(3), 2).await;
    let fan = app.user("fan@example.org", Role::User).await;
    let c = app.session_client(&fan).await;
    let report = |body: serde_json::Value| c.post(app.url("/api/v1/reports")).json(&body).send();

    let r = report(json!({"target_type": "song", "target_id": seeded.song_ids[0], "reason": "Wrong title"}));
    let id = ok_json(r.await.unwrap()).await["id"].as_i64().unwrap();
    let moderator = app.user("mod@example.org", Role::Moderator).await;
    let queue = app.domain().open_reports(&moderator).await.unwrap();
    assert_eq!(
        queue.iter().map(|r| (r.id, r.target_type.as_str(), r.reason.as_str())).collect::<Vec<_>>(),
        [(id, "song", "Wrong title")]
    );

    // Bad input names the field; a missing item is 404; nothing is stored.
    let p = problem(report(json!({"target_type": "planet", "target_id": 1, "reason": "x"})).await.unwrap(), 422).await;
    assert_eq!(p["field"], "target_type");
    let p = problem(report(json!({"target_type": "show", "target_id": 1, "reason": " "})).await.unwrap(), 422).await;
    assert_eq!(p["field"], "reason");
    problem(report(json!({"target_type": "show", "target_id": 999_999, "reason": "x"})).await.unwrap(), 404).await;
    // Signed out: 401; cross-site: 403.
    let r = app
        .client()
        .post(app.url("/api/v1/reports"))
        .json(&json!({"target_type": "show", "target_id": 1, "reason": "x"}));
    problem(r.send().await.unwrap(), 401).await;
    let r = c
        .post(app.url("/api/v1/reports"))
        .header("origin", "https://evil.example")
        .json(&json!({"target_type": "show", "target_id": seeded.show_id, "reason": "x"}));
    problem(r.send().await.unwrap(), 403).await;
    assert_eq!(open_reports(&app), 1);

    // The show page has a form; it needs the session's CSRF token.
    let s = app.domain().create_session(&fan).await.unwrap();
    let browser = reqwest::Client::builder()
        .default_headers(
            [(reqwest::header::COOKIE, format!("session={}", s.token).parse().unwrap())].into_iter().collect(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser.get(app.url(&format!("/shows/{}", seeded.slug))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!("action=\"/shows/{}/report\"", seeded.slug)), "the page offers the form");
    let url = app.url(&format!("/shows/{}/report", seeded.slug));
    let r = browser.post(&url).form(&[("csrf", "wrong"), ("reason", "Spam")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(open_reports(&app), 1);
    let r = browser.post(&url).form(&[("csrf", s.csrf_token.as_str()), ("reason", "Spam")]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM reports WHERE target_type = 'show' AND target_id = ?1",
            [seeded.show_id.to_string()]
        ),
        1
    );

    // Five reports an hour per user: three used (the one for a missing item counted, bad input not).
    ok_json(report(json!({"target_type": "show", "target_id": seeded.show_id, "reason": "3"})).await.unwrap()).await;
    ok_json(report(json!({"target_type": "artist", "target_id": seeded.artist_id, "reason": "4"})).await.unwrap())
        .await;
    let r = report(json!({"target_type": "venue", "target_id": seeded.venue_id, "reason": "5"})).await.unwrap();
    assert!(r.headers().contains_key("retry-after"));
    problem(r, 429).await;
    assert_eq!(open_reports(&app), 4);
    app.stop().await;
}

#[tokio::test]
async fn reopening_a_completed_show_is_a_conflict_and_changes_nothing() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 1).await;
    let system = CurrentUser { id: 0, email: "system".into(), display_name: "system".into(), role: Role::Admin };
    let starts_at = (chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339();
    let input = ShowInput {
        artist_id: seeded.artist_id,
        venue_id: seeded.venue_id,
        starts_at: starts_at.clone(),
        status: "completed".into(),
        ..Default::default()
    };
    let show_id = app.domain().create_show(&system, input).await.unwrap();
    let moderator = app.user("mod@example.org", Role::Moderator).await;
    let c = app.session_client(&moderator).await;
    let put = |status: &str| {
        c.put(app.url(&format!("/api/v1/shows/{show_id}")))
            .json(&json!({"artist_id": seeded.artist_id, "venue_id": seeded.venue_id, "starts_at": starts_at,
                          "status": status}))
            .send()
    };
    let status = || app.count("SELECT count(*) FROM shows WHERE id = ?1 AND status = 'completed'", [show_id]);
    for reopen in ["upcoming", "locked"] {
        let p = problem(put(reopen).await.unwrap(), 409).await;
        assert!(p["detail"].as_str().unwrap().contains("cannot be reopened"), "{p}");
        assert_eq!(status(), 1, "still completed");
    }
    // Other edits of a completed show still work.
    no_content(put("").await.unwrap()).await;
    no_content(put("cancelled").await.unwrap()).await;
    assert_eq!(app.count("SELECT count(*) FROM shows WHERE id = ?1 AND status = 'cancelled'", [show_id]), 1);
    app.stop().await;
}
