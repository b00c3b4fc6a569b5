//! Roles are enforced server-side: users vote, moderators curate content, admins also delete and
//! manage users. Every admin action is in the audit log.

use mysetlist::domain::Role;
use serde_json::{Value, json};

use crate::helpers::*;

fn artist() -> Value {
    json!({"name": format!("Artist {}", rand::random::<u32>())})
}
fn venue() -> Value {
    json!({"name": format!("Venue {}", rand::random::<u32>()), "city": "Leeds", "country": "GB"})
}
fn show_body(artist_id: i64, venue_id: i64) -> Value {
    json!({"artist_id": artist_id, "venue_id": venue_id, "starts_at": "2031-06-01T20:00:00Z"})
}

/// Every content table, to prove a refused request changed nothing.
fn content_counts(app: &TestApp) -> Vec<i64> {
    ["artists", "venues", "shows", "songs", "show_songs", "setlist_entries", "audit_log", "users"]
        .iter()
        .map(|t| app.count(&format!("SELECT count(*) FROM {t}"), []))
        .collect()
}

#[tokio::test]
async fn users_cannot_curate_or_administer() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(3), 3).await;
    let (c, user) = app.signed_in("user@example.org", Role::User).await;
    let before = content_counts(&app);
    let a = show.artist_id;
    let attempts = vec![
        c.post(app.url("/api/v1/artists")).json(&artist()),
        c.put(app.url(&format!("/api/v1/artists/{a}"))).json(&artist()),
        c.delete(app.url(&format!("/api/v1/artists/{a}"))),
        c.post(app.url("/api/v1/venues")).json(&venue()),
        c.delete(app.url(&format!("/api/v1/venues/{}", show.venue_id))),
        c.post(app.url("/api/v1/shows")).json(&show_body(a, show.venue_id)),
        c.put(app.url(&format!("/api/v1/shows/{}", show.show_id))).json(&show_body(a, show.venue_id)),
        c.delete(app.url(&format!("/api/v1/shows/{}", show.show_id))),
        c.post(app.url(&format!("/api/v1/artists/{a}/songs"))).json(&json!({"title": "New"})),
        c.put(app.url(&format!("/api/v1/songs/{}", show.song_ids[0]))).json(&json!({"title": "Renamed"})),
        c.delete(app.url(&format!("/api/v1/songs/{}", show.song_ids[0]))),
        c.put(app.url(&format!("/api/v1/shows/{}/setlist", show.show_id))).json(&json!({"entries": []})),
        c.get(app.url("/api/v1/admin/users")),
        c.get(app.url("/api/v1/admin/audit")),
        c.put(app.url(&format!("/api/v1/admin/users/{}/role", user.id))).json(&json!({"role": "admin"})),
        c.put(app.url(&format!("/api/v1/admin/users/{}/ban", user.id))).json(&json!({"banned": true})),
    ];
    for attempt in attempts {
        let req = attempt.build().unwrap();
        let what = format!("{} {}", req.method(), req.url().path());
        let p = problem(c.execute(req).await.unwrap(), 403).await;
        assert_eq!(p["code"], "forbidden", "{what}");
    }
    assert_eq!(content_counts(&app), before, "a refused request changes nothing");
    let me = ok_json(c.get(app.url("/api/v1/me")).send().await.unwrap()).await;
    assert_eq!(me["role"], "user", "no self-promotion");

    // Signed out, the same requests need a sign-in first.
    let anon = app.client();
    problem(anon.post(app.url("/api/v1/artists")).json(&artist()).send().await.unwrap(), 401).await;
    problem(anon.get(app.url("/api/v1/admin/users")).send().await.unwrap(), 401).await;
    app.stop().await;
}

#[tokio::test]
async fn moderators_curate_content_but_do_not_delete_or_administer() {
    let app = spawn_app().await;
    let (m, moderator) = app.signed_in("mod@example.org", Role::Moderator).await;
    let artist_id =
        ok_json(m.post(app.url("/api/v1/artists")).json(&artist()).send().await.unwrap()).await["id"].as_i64().unwrap();
    let venue_id =
        ok_json(m.post(app.url("/api/v1/venues")).json(&venue()).send().await.unwrap()).await["id"].as_i64().unwrap();
    let song = ok_json(
        m.post(app.url(&format!("/api/v1/artists/{artist_id}/songs")))
            .json(&json!({"title": "Opener", "popularity": 10}))
            .send()
            .await
            .unwrap(),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let show_id = ok_json(m.post(app.url("/api/v1/shows")).json(&show_body(artist_id, venue_id)).send().await.unwrap())
        .await["id"]
        .as_i64()
        .unwrap();
    // The new show's list is seeded from the catalog.
    assert_eq!(app.count("SELECT count(*) FROM show_songs WHERE show_id = ?1", [show_id]), 1);
    let r = m.put(app.url(&format!("/api/v1/songs/{song}"))).json(&json!({"title": "Opener (Remastered)"})).send();
    no_content(r.await.unwrap()).await;
    let r = m.put(app.url(&format!("/api/v1/shows/{show_id}/setlist"))).json(&json!({"entries": [{"song_id": song}]}));
    ok_json(r.send().await.unwrap()).await;

    let before = content_counts(&app);
    let refused = vec![
        m.delete(app.url(&format!("/api/v1/shows/{show_id}"))),
        m.delete(app.url(&format!("/api/v1/artists/{artist_id}"))),
        m.delete(app.url(&format!("/api/v1/venues/{venue_id}"))),
        m.get(app.url("/api/v1/admin/users")),
        m.get(app.url("/api/v1/admin/audit")),
        m.put(app.url(&format!("/api/v1/admin/users/{}/role", moderator.id))).json(&json!({"role": "admin"})),
    ];
    for attempt in refused {
        let req = attempt.build().unwrap();
        let what = format!("{} {}", req.method(), req.url().path());
        let p = problem(m.execute(req).await.unwrap(), 403).await;
        assert_eq!(p["code"], "forbidden", "{what}");
    }
    assert_eq!(content_counts(&app), before);
    app.stop().await;
}

#[tokio::test]
async fn admins_do_everything_and_every_action_is_audited() {
    let app = spawn_app().await;
    let (admin, admin_user) = app.signed_in("admin@example.org", Role::Admin).await;
    let (m, moderator) = app.signed_in("mod@example.org", Role::Moderator).await;
    let fan = app.user("fan@example.org", Role::User).await;
    let fan_client = app.session_client(&fan).await;
    let id_of = |v: Value| v["id"].as_i64().unwrap();

    // Content by the moderator and by the admin.
    let r = m.post(app.url("/api/v1/artists")).json(&artist()).send().await.unwrap();
    assert_eq!(r.status(), 201, "a create answers 201 Created");
    let artist_id = id_of(ok_json(r).await);
    let venue_id = id_of(ok_json(admin.post(app.url("/api/v1/venues")).json(&venue()).send().await.unwrap()).await);
    let song_url = app.url(&format!("/api/v1/artists/{artist_id}/songs"));
    let song = id_of(ok_json(admin.post(&song_url).json(&json!({"title": "Hit"})).send().await.unwrap()).await);
    let show_id = id_of(
        ok_json(admin.post(app.url("/api/v1/shows")).json(&show_body(artist_id, venue_id)).send().await.unwrap()).await,
    );
    let r =
        admin.put(app.url(&format!("/api/v1/shows/{show_id}/setlist"))).json(&json!({"entries": [{"song_id": song}]}));
    ok_json(r.send().await.unwrap()).await;

    // User administration.
    let users = ok_json(admin.get(app.url("/api/v1/admin/users")).send().await.unwrap()).await;
    let emails: Vec<&str> = users.as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["admin@example.org", "mod@example.org", "fan@example.org"]);
    let r = admin.put(app.url(&format!("/api/v1/admin/users/{}/role", fan.id))).json(&json!({"role": "moderator"}));
    no_content(r.send().await.unwrap()).await;
    // The role change takes effect on the fan's live session at once.
    let me = ok_json(fan_client.get(app.url("/api/v1/me")).send().await.unwrap()).await;
    assert_eq!(me["role"], "moderator");
    let r = admin.put(app.url(&format!("/api/v1/admin/users/{}/ban", fan.id))).json(&json!({"banned": true}));
    no_content(r.send().await.unwrap()).await;
    problem(fan_client.get(app.url("/api/v1/me")).send().await.unwrap(), 401).await;
    let r = app
        .client()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "fan@example.org", "password": "correct horse battery"}));
    assert_eq!(problem(r.send().await.unwrap(), 403).await["code"], "forbidden", "a banned account cannot sign in");
    // An admin cannot demote or ban themself (there must always be someone to undo a mistake).
    let r = admin.put(app.url(&format!("/api/v1/admin/users/{}/role", admin_user.id))).json(&json!({"role": "user"}));
    assert_eq!(problem(r.send().await.unwrap(), 422).await["field"], "user_id");
    let r = admin.put(app.url(&format!("/api/v1/admin/users/{}/role", fan.id))).json(&json!({"role": "root"}));
    assert_eq!(problem(r.send().await.unwrap(), 400).await["field"], "role");
    let r = admin.put(app.url("/api/v1/admin/users/999999/role")).json(&json!({"role": "user"}));
    problem(r.send().await.unwrap(), 404).await;

    // Deletions (admin only).
    no_content(admin.delete(app.url(&format!("/api/v1/shows/{show_id}"))).send().await.unwrap()).await;
    no_content(admin.delete(app.url(&format!("/api/v1/venues/{venue_id}"))).send().await.unwrap()).await;
    no_content(admin.delete(app.url(&format!("/api/v1/artists/{artist_id}"))).send().await.unwrap()).await;
    assert_eq!(
        app.count("SELECT count(*) FROM songs WHERE artist_id = ?1", [artist_id]),
        0,
        "songs go with the artist"
    );
    problem(admin.delete(app.url(&format!("/api/v1/shows/{show_id}"))).send().await.unwrap(), 404).await;

    let audit = ok_json(admin.get(app.url("/api/v1/admin/audit?limit=1000")).send().await.unwrap()).await;
    let entries = audit.as_array().unwrap();
    let find = |action: &str, target: i64| {
        let target = target.to_string();
        entries
            .iter()
            .find(|e| e["action"] == action && e["target_id"] == target.as_str())
            .unwrap_or_else(|| panic!("{action} {target} missing from the audit log: {audit}"))
    };
    assert_eq!(find("artist.create", artist_id)["actor_id"], moderator.id);
    let admin_actions = [
        ("venue.create", venue_id),
        ("song.create", song),
        ("show.create", show_id),
        ("setlist.set_actual", show_id),
        ("user.set_role", fan.id),
        ("user.ban", fan.id),
        ("show.delete", show_id),
        ("venue.delete", venue_id),
        ("artist.delete", artist_id),
    ];
    for (action, target) in admin_actions {
        let e = find(action, target);
        assert_eq!(e["actor_id"], admin_user.id, "{action}");
        assert_eq!(e["actor_email"], "admin@example.org", "{action}");
    }
    // Newest first.
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]));
    // The log is append-only, even for someone with write access to the database file.
    let rw = rusqlite::Connection::open(app.dir.path().join("mysetlist.db")).unwrap();
    rw.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let err = rw.execute("UPDATE audit_log SET action = 'x'", []).unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    app.stop().await;
}
