//! Group commit under concurrent votes: every vote succeeds, the counters are exact, and the writer
//! committed fewer transactions than it ran writes (votes shared commits).

use mysetlist::domain::Role;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_votes_are_exact_and_batched() {
    // One address sends all 200 votes at once: lift the per-address vote limit for this test.
    let app = spawn_app_with(&[("MYSETLIST_RATE_LIMIT__VOTES_PER_MINUTE", "1000")]).await;
    let show = app.seed_show(chrono::Duration::days(2), 10).await;
    // Put the whole catalog on the list (5 songs are seeded, the other 5 added here).
    let admin = app.user("admin@example.org", Role::Admin).await;
    for song in &show.song_ids[5..] {
        assert!(app.domain().add_song_to_show(&admin, show.show_id, *song).await.unwrap());
    }
    let mut fans = Vec::new();
    for i in 0..20 {
        let user = app.user(&format!("fan{i}@example.org"), Role::User).await;
        fans.push(app.session_client(&user).await);
    }

    let before = app.database().writer_stats();
    let (app_ref, show_ref) = (&app, &show);
    let requests = fans.iter().flat_map(|fan| {
        show_ref.song_ids.iter().map(move |song| {
            let url = app_ref.url(&format!("/api/v1/shows/{}/songs/{song}/vote", show_ref.show_id));
            async move {
                let r = fan.post(url).send().await.expect("request");
                let status = r.status();
                let body: serde_json::Value = r.json().await.expect("json body");
                (status, body)
            }
        })
    });
    let results = futures_util::future::join_all(requests).await;
    let after = app.database().writer_stats();

    assert_eq!(results.len(), 200);
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["voted"], true, "{body}");
    }
    for song in &show.song_ids {
        assert_eq!(
            app.count("SELECT votes FROM show_songs WHERE show_id = ?1 AND song_id = ?2", [show.show_id, *song]),
            20,
            "song {song}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM votes WHERE show_id = ?1", [show.show_id]), 200);
    assert_eq!(app.count("SELECT vote_total FROM shows WHERE id = ?1", [show.show_id]), 200);

    let writes = after.writes - before.writes;
    let commits = after.commits - before.commits;
    assert!(writes >= 200, "{writes} writes");
    assert!(commits < writes, "no batching: {commits} commits for {writes} writes");
    assert_eq!(after.failed_commits, 0);
    eprintln!("group commit: {writes} writes in {commits} commits ({:.1} per commit)", writes as f64 / commits as f64);
    app.stop().await;
}
