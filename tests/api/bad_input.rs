//! Bad input: every refusal is a 4xx `application/problem+json` document that says what is wrong
//! (naming the field where there is one), nothing is stored half-done, and nothing answers 5xx.

use mysetlist::domain::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn malformed_json_is_a_bad_request() {
    let app = spawn_app().await;
    let (m, _) = app.signed_in("mod@example.org", Role::Moderator).await;
    let before = app.count("SELECT count(*) FROM artists", []);
    for body in [r#"{"name": "#, "not json", "", "[]", "null", r#"{"name": "x"} trailing"#] {
        let r = m
            .post(app.url("/api/v1/artists"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let p = problem(r, 400).await;
        assert_eq!(p["code"], "bad_request", "{body:?}");
    }
    assert_eq!(app.count("SELECT count(*) FROM artists", []), before);
    let r = app
        .client()
        .post(app.url("/api/v1/auth/signup"))
        .header("content-type", "application/json")
        .body(r#"{"email": "x@example.org", "password": "#)
        .send()
        .await
        .unwrap();
    problem(r, 400).await;
    assert_eq!(app.count("SELECT count(*) FROM users", []), 1);
    app.stop().await;
}

#[tokio::test]
async fn wrong_shapes_name_the_field() {
    let app = spawn_app().await;
    let (m, _) = app.signed_in("mod@example.org", Role::Moderator).await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/api/v1/artists", json!({}), "name"),
        ("/api/v1/artists", json!({"name": null}), "name"),
        ("/api/v1/artists", json!({"name": 12}), "name"),
        ("/api/v1/artists", json!({"name": "ok", "genres": ["a"]}), "genres"),
        ("/api/v1/venues", json!({"name": "V", "city": "C", "country": "GB", "latitude": "north"}), "latitude"),
        ("/api/v1/venues", json!({"name": "V", "country": "GB"}), "city"),
        ("/api/v1/shows", json!({"artist_id": "one", "venue_id": 1, "starts_at": "2030-01-01T00:00:00Z"}), "artist_id"),
        ("/api/v1/shows", json!({"artist_id": 1.5, "venue_id": 1, "starts_at": "2030-01-01T00:00:00Z"}), "artist_id"),
        ("/api/v1/auth/signup", json!({"email": "e@example.org"}), "password"),
        ("/api/v1/auth/signup", json!({"email": true, "password": "correct horse battery"}), "email"),
    ];
    for (path, body, field) in cases {
        let p = problem(m.post(app.url(path)).json(&body).send().await.unwrap(), 400).await;
        assert_eq!(p["field"], field, "{path} {body} -> {p}");
    }
    assert_eq!(app.count("SELECT count(*) FROM artists", []), 0);
    assert_eq!(app.count("SELECT count(*) FROM users", []), 1);
    app.stop().await;
}

#[tokio::test]
async fn wrong_content_type_is_unsupported() {
    let app = spawn_app().await;
    let c = app.client();
    let body = r#"{"email": "ct@example.org", "password": "correct horse battery"}"#;
    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("application/xml"), None] {
        let mut req = c.post(app.url("/api/v1/auth/signup")).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let p = problem(req.send().await.unwrap(), 415).await;
        assert_eq!(p["code"], "unsupported_media_type", "{content_type:?}");
    }
    // A JSON subtype with parameters is still JSON.
    let r = c
        .post(app.url("/api/v1/auth/signup"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(app.count("SELECT count(*) FROM users", []), 1);
    app.stop().await;
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(3), 2).await;
    let (admin, _) = app.signed_in("admin@example.org", Role::Admin).await;
    let artist = json!({"name": "A"});
    let venue = json!({"name": "V", "city": "C", "country": "GB"});
    let song = json!({"title": "T"});
    let show_body = |artist_id: i64, venue_id: i64| json!({"artist_id": artist_id, "venue_id": venue_id, "starts_at": "2031-01-01T20:00:00Z"});
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/shows/999999".into(), None),
        (Method::GET, "/api/v1/shows/-1".into(), None),
        (Method::GET, "/api/v1/shows/no-such-show".into(), None),
        (Method::GET, "/api/v1/shows/999999/ranking".into(), None),
        (Method::GET, "/api/v1/artists/999999/songs".into(), None),
        (Method::PUT, "/api/v1/artists/999999".into(), Some(artist)),
        (Method::DELETE, "/api/v1/artists/999999".into(), None),
        (Method::PUT, "/api/v1/venues/999999".into(), Some(venue)),
        (Method::DELETE, "/api/v1/venues/999999".into(), None),
        (Method::POST, "/api/v1/artists/999999/songs".into(), Some(song.clone())),
        (Method::PUT, "/api/v1/songs/999999".into(), Some(song)),
        (Method::DELETE, "/api/v1/songs/999999".into(), None),
        (Method::POST, "/api/v1/shows".into(), Some(show_body(999_999, show.venue_id))),
        (Method::POST, "/api/v1/shows".into(), Some(show_body(show.artist_id, 999_999))),
        (Method::PUT, "/api/v1/shows/999999".into(), Some(show_body(show.artist_id, show.venue_id))),
        (Method::DELETE, "/api/v1/shows/999999".into(), None),
        (Method::PUT, "/api/v1/admin/users/999999/ban".into(), Some(json!({"banned": true}))),
        (Method::GET, "/api/v1/no-such-endpoint".into(), None),
        (Method::GET, "/api/v1/shows/1/no-such-thing".into(), None),
    ];
    let before = app.count("SELECT count(*) FROM audit_log", []);
    for (method, path, body) in cases {
        let mut req = admin.request(method.clone(), app.url(&path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let p = problem(req.send().await.unwrap(), 404).await;
        assert_eq!(p["code"], "not_found", "{method} {path}");
    }
    assert_eq!(app.count("SELECT count(*) FROM audit_log", []), before, "nothing was audited: nothing happened");
    app.stop().await;
}

#[tokio::test]
async fn over_long_and_invalid_values_name_the_field() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(3), 2).await;
    let (m, _) = app.signed_in("mod@example.org", Role::Moderator).await;
    let long = |n: usize| "x".repeat(n);
    let venue = |extra: Value| {
        let mut v = json!({"name": "Hall", "city": "Leeds", "country": "GB"});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    };
    let show_at = |starts_at: &str, status: &str| json!({"artist_id": show.artist_id, "venue_id": show.venue_id, "starts_at": starts_at, "status": status});
    let setlist = format!("/api/v1/shows/{}/setlist", show.show_id);
    let songs = format!("/api/v1/artists/{}/songs", show.artist_id);
    let cases: Vec<(Method, String, Value, &str)> = vec![
        (Method::POST, "/api/v1/artists".into(), json!({"name": long(201)}), "name"),
        (Method::POST, "/api/v1/artists".into(), json!({"name": "   "}), "name"),
        (Method::POST, "/api/v1/artists".into(), json!({"name": "ok", "genres": long(301)}), "genres"),
        (Method::POST, "/api/v1/artists".into(), json!({"name": "ok", "slug": "Not A Slug"}), "slug"),
        (Method::POST, "/api/v1/artists".into(), json!({"name": "ok", "mbid": "zzz"}), "mbid"),
        (
            Method::POST,
            "/api/v1/artists".into(),
            json!({"name": "ok", "image_url": "javascript:alert(1)"}),
            "image_url",
        ),
        (Method::POST, "/api/v1/venues".into(), venue(json!({"city": long(101)})), "city"),
        (Method::POST, "/api/v1/venues".into(), venue(json!({"country": "GBR"})), "country"),
        (Method::POST, "/api/v1/venues".into(), venue(json!({"country": "1"})), "country"),
        (Method::POST, "/api/v1/venues".into(), venue(json!({"timezone": "Mars/Olympus"})), "timezone"),
        (Method::POST, "/api/v1/venues".into(), venue(json!({"latitude": 91.0})), "latitude"),
        (Method::POST, "/api/v1/venues".into(), venue(json!({"longitude": -1e300})), "longitude"),
        (Method::POST, "/api/v1/shows".into(), show_at("next friday", ""), "starts_at"),
        (Method::POST, "/api/v1/shows".into(), show_at("2031-01-01T20:00:00Z", "bogus"), "status"),
        (Method::POST, "/api/v1/shows".into(), show_at(&long(41), ""), "starts_at"),
        (Method::POST, songs.clone(), json!({"title": long(201)}), "title"),
        (Method::POST, songs.clone(), json!({"title": "ok", "duration_s": -1}), "duration_s"),
        (Method::POST, songs, json!({"title": "ok", "album": long(201)}), "album"),
        (Method::PUT, setlist.clone(), json!({"entries": [{"title": long(201)}]}), "entries[0].title"),
        (
            Method::PUT,
            setlist.clone(),
            json!({"entries": [{"title": "a"}, {"title": "b", "info": long(301)}]}),
            "entries[1].info",
        ),
        (
            Method::PUT,
            setlist,
            json!({"entries": [{"title": "a", "cover_artist": long(201)}]}),
            "entries[0].cover_artist",
        ),
    ];
    let before = (app.count("SELECT count(*) FROM artists", []), app.count("SELECT count(*) FROM audit_log", []));
    for (method, path, body, field) in cases {
        let r = m.request(method.clone(), app.url(&path)).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        assert!(status == 400 || status == 422, "{method} {path} {field}: {status}");
        let p = problem(r, status).await;
        assert_eq!(p["field"], field, "{method} {path}: {p}");
    }
    let after = (app.count("SELECT count(*) FROM artists", []), app.count("SELECT count(*) FROM audit_log", []));
    assert_eq!(before, after);

    // Sign-up fields.
    let c = app.client();
    for (body, field) in [
        (json!({"email": format!("{}@example.org", long(300)), "password": "correct horse battery"}), "email"),
        (json!({"email": "p@example.org", "password": long(257)}), "password"),
        (
            json!({"email": "d@example.org", "password": "correct horse battery", "display_name": long(61)}),
            "display_name",
        ),
    ] {
        let r = c.post(app.url("/api/v1/auth/signup")).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        assert!(status == 400 || status == 422, "{field}: {status}");
        assert_eq!(problem(r, status).await["field"], field);
    }
    // Query and path parameters.
    let r = c.get(app.url(&format!("/api/v1/search?q={}", long(201)))).send().await.unwrap();
    assert_eq!(problem(r, 400).await["field"], "q");
    let r = c.get(app.url(&format!("/api/v1/shows/{}", long(121)))).send().await.unwrap();
    assert_eq!(problem(r, 400).await["field"], "id");
    app.stop().await;
}

#[tokio::test]
async fn limits_out_of_range_are_refused() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in("admin@example.org", Role::Admin).await;
    for path in ["/api/v1/shows", "/api/v1/artists", "/api/v1/venues", "/api/v1/admin/users", "/api/v1/admin/audit"] {
        for bad in ["-1", "0", "100000", "99999999999999999999999", "abc", "1.5", ""] {
            let r = admin.get(app.url(&format!("{path}?limit={bad}"))).send().await.unwrap();
            let p = problem(r, 400).await;
            assert_eq!(p["field"], "limit", "{path}?limit={bad}");
        }
        let r = admin.get(app.url(&format!("{path}?limit=1"))).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}?limit=1");
    }
    for path in ["/api/v1/artists", "/api/v1/venues", "/api/v1/admin/users"] {
        let r = admin.get(app.url(&format!("{path}?offset=-5"))).send().await.unwrap();
        assert_eq!(problem(r, 400).await["field"], "offset");
    }
    let r = admin.get(app.url("/api/v1/search?q=x&limit=101")).send().await.unwrap();
    assert_eq!(problem(r, 400).await["field"], "limit");
    app.stop().await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_before_they_are_read() {
    let app = spawn_app_with(&[("MYSETLIST_HTTP__MAX_BODY_BYTES", "2048")]).await;
    let c = app.client();
    let padded = |n: usize| {
        json!({"email": "big@example.org", "password": "correct horse battery", "display_name": "x".repeat(n)})
            .to_string()
    };
    let r = c
        .post(app.url("/api/v1/auth/signup"))
        .header("content-type", "application/json")
        .body(padded(4096))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, 413).await["code"], "payload_too_large");
    // Chunked transfer (no Content-Length): counted while read, refused all the same.
    let chunks: Vec<Result<String, std::io::Error>> = (0..8).map(|_| Ok("x".repeat(512))).collect();
    let stream = futures_util::stream::iter(chunks);
    let r = c
        .post(app.url("/api/v1/auth/signup"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, 413).await["code"], "payload_too_large");
    // HTTP/2 (cleartext, prior knowledge) frames bodies without Content-Length or Transfer-Encoding.
    let h2 = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let chunks: Vec<Result<String, std::io::Error>> = (0..8).map(|_| Ok("x".repeat(512))).collect();
    let r = h2
        .post(app.url("/api/v1/auth/signup"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(problem(r, 413).await["code"], "payload_too_large");
    assert_eq!(app.count("SELECT count(*) FROM users", []), 0);
    // Under the limit the same request is judged on its content (display_name too long: 400/422).
    let r = c
        .post(app.url("/api/v1/auth/signup"))
        .header("content-type", "application/json")
        .body(padded(1000))
        .send()
        .await
        .unwrap();
    assert!(r.status() == 400 || r.status() == 422, "{}", r.status());
    app.stop().await;
}

#[tokio::test]
async fn cross_site_writes_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(3), 3).await;
    let (admin, _) = app.signed_in("admin@example.org", Role::Admin).await;
    let vote = app.url(&format!("/api/v1/shows/{}/songs/{}/vote", show.show_id, show.song_ids[0]));
    let hostile: [(&str, &str); 5] = [
        ("origin", "http://evil.example"),
        ("origin", "null"),
        ("origin", &format!("http://{}.evil.example", app.addr)),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ];
    for (name, value) in hostile {
        let attempts = [
            admin.post(&vote),
            admin.post(app.url("/api/v1/artists")).json(&json!({"name": "CSRF Band"})),
            admin.delete(app.url(&format!("/api/v1/shows/{}", show.show_id))),
            admin.post(app.url("/api/v1/auth/logout-all")),
            app.client()
                .post(app.url("/api/v1/auth/signup"))
                .json(&json!({"email": "csrf@example.org", "password": "correct horse battery"})),
            app.client()
                .post(app.url("/api/v1/auth/login"))
                .json(&json!({"email": "admin@example.org", "password": "correct horse battery"})),
        ];
        for attempt in attempts {
            let req = attempt.header(name, value).build().unwrap();
            let what = format!("{} {} with {name}: {value}", req.method(), req.url().path());
            let p = problem(admin.execute(req).await.unwrap(), 403).await;
            assert_eq!(p["code"], "forbidden", "{what}");
        }
    }
    assert_eq!(app.count("SELECT count(*) FROM votes", []), 0);
    assert_eq!(app.count("SELECT count(*) FROM artists", []), 1);
    assert_eq!(app.count("SELECT count(*) FROM shows", []), 1);
    assert_eq!(app.count("SELECT count(*) FROM users", []), 1);
    assert_eq!(app.count("SELECT count(*) FROM sessions", []), 1, "no session ended, none started");
    // The same requests from the app's own origin (or with no browser headers at all) go through.
    let r = admin.post(&vote).header("origin", app.base.clone()).header("sec-fetch-site", "same-origin").send();
    assert_eq!(r.await.unwrap().status(), 200);
    assert_eq!(admin.post(&vote).send().await.unwrap().status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn every_error_is_problem_json_including_the_frameworks_own() {
    let app = spawn_app().await;
    let c = app.client();
    let cases: Vec<(Method, &str, u16)> = vec![
        (Method::GET, "/api/v1/nope", 404),
        (Method::GET, "/no-such-page/at/all", 404),
        (Method::DELETE, "/api/v1/shows", 405),
        (Method::PATCH, "/api/v1/auth/login", 405),
        (Method::GET, "/api/v1/auth/login", 405),
        (Method::GET, "/api/v1/shows/1/ranking/extra", 404),
        (Method::GET, "/api/v1/shows/abc/ranking", 400),
        (Method::GET, "/api/v1/shows/9223372036854775808/ranking", 400),
        (Method::POST, "/api/v1/shows/abc/songs/1/vote", 400),
        (Method::POST, "/api/v1/shows/1/songs/1.5/vote", 400),
        (Method::GET, "/api/v1/artists/%FF/songs", 400),
        (Method::GET, "/shows/abc/live", 400),
    ];
    for (method, path, status) in cases {
        let r = c.request(method.clone(), app.url(path)).send().await.unwrap();
        let p = problem(r, status).await;
        assert!(!p["detail"].as_str().unwrap().is_empty(), "{method} {path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn nothing_answers_5xx_to_junk() {
    let app = spawn_app().await;
    let show = app.seed_show(chrono::Duration::days(3), 3).await;
    let (admin, _) = app.signed_in("admin@example.org", Role::Admin).await;
    let ids = ["0", "-1", "9223372036854775807", "-9223372036854775808", "1e3", "%00", "..", "%2e%2e%2f"];
    let junk_bodies = [
        "{}".to_owned(),
        "[]".to_owned(),
        "\"\"".to_owned(),
        "{\"name\": \"\\u0000\"}".to_owned(),
        format!("{{\"title\": \"{}\"}}", "é".repeat(150)),
        format!("{{\"entries\": [{}]}}", vec!["{}"; 50].join(",")),
        "{\"artist_id\": 9223372036854775807, \"venue_id\": -1, \"starts_at\": \"9999-12-31T23:59:59Z\"}".to_owned(),
        "{\"artist_id\": 1, \"venue_id\": 1, \"starts_at\": \"-0001-01-01T00:00:00Z\"}".to_owned(),
        "{\"name\": \"x\", \"city\": \"y\", \"country\": \"GB\", \"latitude\": 1e400}".to_owned(),
        "{\"song_id\": 9223372036854775807}".to_owned(),
        "{\"role\": \"ADMIN\"}".to_owned(),
        "{\"banned\": \"yes\"}".to_owned(),
        "{\"email\": \"\\ud800@example.org\", \"password\": \"correct horse battery\"}".to_owned(),
    ];
    let templates = [
        (Method::POST, "/api/v1/artists"),
        (Method::PUT, "/api/v1/artists/{}"),
        (Method::POST, "/api/v1/artists/{}/songs"),
        (Method::POST, "/api/v1/venues"),
        (Method::PUT, "/api/v1/venues/{}"),
        (Method::POST, "/api/v1/shows"),
        (Method::PUT, "/api/v1/shows/{}"),
        (Method::PUT, "/api/v1/shows/{}/setlist"),
        (Method::POST, "/api/v1/shows/{}/songs"),
        (Method::POST, "/api/v1/shows/{}/songs/{}/vote"),
        (Method::PUT, "/api/v1/songs/{}"),
        (Method::PUT, "/api/v1/admin/users/{}/role"),
        (Method::PUT, "/api/v1/admin/users/{}/ban"),
        (Method::POST, "/api/v1/auth/signup"),
        (Method::POST, "/api/v1/auth/login"),
        (Method::POST, "/api/v1/me/delete"),
        (Method::GET, "/api/v1/shows/{}"),
        (Method::GET, "/api/v1/search?q={}"),
    ];
    let real_id = show.show_id.to_string();
    let mut requests = 0;
    for (method, template) in &templates {
        for id in ids.iter().chain([&real_id.as_str()]) {
            let path = template.replace("{}", id);
            for body in &junk_bodies {
                let r = admin
                    .request(method.clone(), app.url(&path))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                requests += 1;
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                assert!(!status.is_server_error(), "{method} {path} {body} -> {status}: {text}");
            }
        }
    }
    assert!(requests > 1000);
    // The server is still healthy and the database still consistent afterwards.
    let ready = ok_json(admin.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(ready["ready"], true);
    let integrity: String = app.db().query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    app.stop().await;
}
