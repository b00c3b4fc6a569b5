//! Security controls, one test each, each asserting the refusal and that nothing changed: headers on
//! every kind of response, cookie attributes, CSRF on every page form, the access table over every
//! page and API route (enumerated from the router and /openapi.json), session fixation and expiry,
//! rate-limited forms, oversize form bodies, injection rendered inert, erasure down to the database
//! files, no third-party requests from pages. (Cross-site JSON writes: bad_input.rs; rate limits on
//! the API: rate_limits.rs; retention: scheduler.rs.)

use std::collections::BTreeMap;
use std::time::Duration;

use mysetlist::domain::{CurrentUser, Role, Voter};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Every table a refused request could have touched.
fn snapshot(app: &TestApp) -> Vec<(String, i64)> {
    let tables = [
        "artists",
        "venues",
        "shows",
        "songs",
        "show_songs",
        "setlist_entries",
        "votes",
        "follows",
        "audit_log",
        "users",
        "reports",
    ];
    let mut out: Vec<(String, i64)> =
        tables.iter().map(|t| (t.to_string(), app.count(&format!("SELECT count(*) FROM {t}"), []))).collect();
    // Changes that keep row counts: roles, bans, names, vote counters.
    let checks = [
        ("roles", "SELECT coalesce(sum(length(role) * id), 0) FROM users"),
        ("bans", "SELECT count(*) FROM users WHERE banned_at IS NOT NULL"),
        ("deleted", "SELECT count(*) FROM users WHERE deleted_at IS NOT NULL"),
        ("names", "SELECT coalesce(sum(length(name)), 0) FROM artists"),
        ("counters", "SELECT coalesce(sum(votes + anon_votes), 0) FROM show_songs"),
        ("show status", "SELECT coalesce(sum(length(status)), 0) FROM shows"),
    ];
    out.extend(checks.iter().map(|(k, q)| (k.to_string(), app.count(q, []))));
    out
}

/// A browser signed in as `user` (session made by the domain: fast) and the session's form token.
async fn browser(app: &TestApp, user: &CurrentUser) -> (Client, String) {
    let s = app.domain().create_session(user).await.expect("session");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, format!("session={}", s.token).parse().unwrap());
    let c = Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    (c, s.csrf_token)
}

/// A signed-out browser (own cookie jar) holding the double-submit CSRF cookie, and its token.
async fn signed_out_browser(app: &TestApp) -> (Client, String) {
    let c = app.client();
    let html = c.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    (c, form_value(&html, "csrf").expect("login form has a csrf field"))
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect()
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = spawn_app_with(&[("MYSETLIST_HTTP__MAX_BODY_BYTES", "1024")]).await;
    let seeded = app.seed_show(chrono::Duration::days(3), 2).await;
    let c = app.client();
    let home = c.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    let css = home.split("href=\"").find_map(|s| s.split('"').next().filter(|u| u.ends_with(".css"))).unwrap();
    let requests = vec![
        c.get(app.url("/")),
        c.get(app.url(&format!("/shows/{}", seeded.slug))),
        c.get(app.url("/login")),
        c.get(app.url("/no/such/page")),
        c.get(app.url(css)),
        c.get(app.url("/api/v1/shows")),
        c.get(app.url("/api/v1/shows/999999")),
        c.get(app.url("/openapi.json")),
        c.get(app.url("/livez")),
        c.patch(app.url("/login")),
        c.post(app.url("/api/v1/auth/login")).header("content-type", "application/json").body("x".repeat(4096)),
        c.post(app.url("/login")).form(&[("csrf", "wrong")]),
    ];
    for rb in requests {
        let req = rb.build().unwrap();
        let what = format!("{} {}", req.method(), req.url().path());
        let r = c.execute(req).await.unwrap();
        let csp = header(&r, "content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{what}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{what}: {csp}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{what}");
        assert_eq!(header(&r, "referrer-policy"), "strict-origin-when-cross-origin", "{what}");
        assert!(header(&r, "permissions-policy").contains("camera=()"), "{what}");
        assert_eq!(header(&r, "cross-origin-opener-policy"), "same-origin", "{what}");
        assert_eq!(header(&r, "x-frame-options"), "DENY", "{what}");
        // Plain HTTP: no HSTS (tests/app_https.rs checks it over HTTPS).
        assert!(r.headers().get("strict-transport-security").is_none(), "{what}");
    }
    // A 405 from the API says which methods exist (RFC 9110).
    let r = c.patch(app.url(&format!("/api/v1/shows/{}", seeded.show_id))).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(header(&r, "allow"), "DELETE, GET, PUT");
    app.stop().await;
}

#[tokio::test]
async fn cookies_are_http_only_and_same_site_lax() {
    let app = spawn_app().await;
    app.user("cookie@example.org", Role::User).await;
    let c = app.client();
    let r = c.get(app.url("/login")).send().await.unwrap();
    let mut cookies = set_cookies(&r);
    let (c, token) = (c, form_value(&r.text().await.unwrap(), "csrf").unwrap());
    let r = c
        .post(app.url("/login"))
        .form(&[("csrf", token.as_str()), ("email", "cookie@example.org"), ("password", "correct horse battery")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    cookies.extend(set_cookies(&r));
    assert!(cookies.iter().any(|c| c.starts_with("csrf=")), "{cookies:?}");
    assert!(cookies.iter().any(|c| c.starts_with("session=")), "{cookies:?}");
    for cookie in &cookies {
        assert!(cookie.contains("; HttpOnly"), "{cookie}");
        assert!(cookie.contains("; SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("; Path=/"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    }
    app.stop().await;
}

/// Form fields every page form might need, so that a refusal is about the token, not the input.
fn form_fields(csrf: Option<&str>, ids: &Ids) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("song_id", ids.song.to_string()),
        ("follow", "1".into()),
        ("name", "Form Name".into()),
        ("title", "Form Title".into()),
        ("city", "Leeds".into()),
        ("country", "GB".into()),
        ("timezone", "Europe/London".into()),
        ("artist_id", ids.artist.to_string()),
        ("venue_id", ids.venue.to_string()),
        ("starts_at", "2031-06-01T20:00".into()),
        ("role", "admin".into()),
        ("banned", "1".into()),
        ("action", "dismiss".into()),
        ("artist", "Some Artist".into()),
        ("entries", "Song 0".into()),
        ("email", "form@example.org".into()),
        ("password", "correct horse battery".into()),
        ("reason", "Form reason".into()),
    ];
    if let Some(t) = csrf {
        f.push(("csrf", t.to_owned()));
    }
    f
}

struct Ids {
    show: i64,
    show_slug: String,
    artist: i64,
    artist_slug: String,
    venue: i64,
    venue_slug: String,
    song: i64,
    user: i64,
    report: i64,
}

fn ids(app: &TestApp, seeded: &Seeded, target_user: i64) -> Ids {
    let slug = |table: &str, id: i64| -> String {
        app.db().query_row(&format!("SELECT slug FROM {table} WHERE id = ?1"), [id], |r| r.get(0)).unwrap()
    };
    let (artist_slug, venue_slug) = (slug("artists", seeded.artist_id), slug("venues", seeded.venue_id));
    Ids {
        show: seeded.show_id,
        show_slug: seeded.slug.clone(),
        artist: seeded.artist_id,
        artist_slug,
        venue: seeded.venue_id,
        venue_slug,
        song: seeded.song_ids[0],
        user: target_user,
        report: 1,
    }
}

/// A router path (`/admin/artists/:id`, `/api/v1/shows/{id}`) with real ids of the seeded data.
fn concrete(path: &str, ids: &Ids) -> String {
    let path = path.replace('{', ":").replace('}', "");
    let segs: Vec<&str> = path.split('/').collect();
    let mut out = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        let prev = if i > 0 { segs[i - 1] } else { "" };
        let value = match (*seg, prev) {
            (":slug", "shows") => ids.show_slug.clone(),
            (":slug", "artists") => ids.artist_slug.clone(),
            (":slug", "venues") => ids.venue_slug.clone(),
            (":id", "shows") => ids.show.to_string(),
            (":id", "artists") => ids.artist.to_string(),
            (":id", "venues") => ids.venue.to_string(),
            (":id", "songs") => ids.song.to_string(),
            (":id", "users") => ids.user.to_string(),
            (":id", "reports") => ids.report.to_string(),
            (":id", "jobs") => "1".into(),
            (":token", "reset") => "an-unknown-reset-token".into(),
            (":token", "unsubscribe") => "an-unknown-unsubscribe-token".into(),
            (":file", "calendar") => "an-unknown-feed-token.ics".into(),
            (":file", "media") => format!("{}.jpg", "0".repeat(64)),
            (":song_id", _) => ids.song.to_string(),
            (s, _) if s.starts_with(':') => panic!("no value for {s} in {path}"),
            (s, _) => s.to_owned(),
        };
        out.push(value);
    }
    out.join("/")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Access {
    Public,
    SignedIn,
    Moderator,
    Admin,
}

/// Who may use each page route. The test fails when the router has a route this table does not name.
fn page_access() -> BTreeMap<(&'static str, &'static str), Access> {
    use Access::*;
    BTreeMap::from([
        (("GET", "/"), Public),
        (("GET", "/shows/:slug"), Public),
        (("POST", "/shows/:slug/vote"), SignedIn), // anonymous voting is off by default
        (("POST", "/shows/:slug/songs"), SignedIn),
        (("POST", "/shows/:slug/report"), SignedIn),
        (("GET", "/shows/:slug/calendar.ics"), Public),
        (("GET", "/calendar/:file"), Public), // the secret address is the credential
        (("POST", "/account/calendar"), SignedIn),
        (("GET", "/artists/:slug"), Public),
        (("POST", "/artists/:slug/follow"), SignedIn),
        (("GET", "/venues/:slug"), Public),
        (("GET", "/media/:file"), Public), // pictures, named by the hash of their bytes
        (("GET", "/search"), Public),
        (("GET", "/login"), Public),
        (("POST", "/login"), Public),
        (("GET", "/signup"), Public),
        (("POST", "/signup"), Public),
        (("POST", "/logout"), Public),
        (("GET", "/account"), SignedIn),
        (("POST", "/account/profile"), SignedIn),
        (("POST", "/account/password"), SignedIn),
        (("POST", "/account/logout-all"), SignedIn),
        (("POST", "/account/delete"), SignedIn),
        (("GET", "/account/deleted"), Public),
        (("GET", "/unsubscribe/:token"), Public), // the secret address is the credential
        (("POST", "/unsubscribe/:token"), Public),
        (("POST", "/account/emails"), SignedIn),
        (("GET", "/forgot"), Public),
        (("POST", "/forgot"), Public),
        (("GET", "/reset/:token"), Public),
        (("POST", "/reset/:token"), Public),
        (("GET", "/privacy"), Public),
        (("GET", "/admin/import"), Admin),
        (("POST", "/admin/import"), Admin),
        (("GET", "/admin/import/jobs/:id"), Admin),
        (("GET", "/admin/import/jobs/:id/progress"), Admin),
        (("GET", "/admin"), Moderator),
        (("POST", "/admin/reports/:id"), Moderator),
        (("GET", "/admin/artists"), Moderator),
        (("POST", "/admin/artists"), Moderator),
        (("GET", "/admin/artists/:id"), Moderator),
        (("POST", "/admin/artists/:id"), Moderator),
        (("POST", "/admin/artists/:id/delete"), Admin),
        (("POST", "/admin/artists/:id/picture"), Moderator),
        (("POST", "/admin/artists/:id/picture/delete"), Moderator),
        (("POST", "/admin/artists/:id/songs"), Moderator),
        (("GET", "/admin/songs/:id"), Moderator),
        (("POST", "/admin/songs/:id"), Moderator),
        (("POST", "/admin/songs/:id/delete"), Moderator), // moderators curate the catalog
        (("GET", "/admin/venues"), Moderator),
        (("POST", "/admin/venues"), Moderator),
        (("GET", "/admin/venues/:id"), Moderator),
        (("POST", "/admin/venues/:id"), Moderator),
        (("POST", "/admin/venues/:id/delete"), Admin),
        (("GET", "/admin/shows"), Moderator),
        (("POST", "/admin/shows"), Moderator),
        (("GET", "/admin/shows/:id"), Moderator),
        (("POST", "/admin/shows/:id"), Moderator),
        (("POST", "/admin/shows/:id/delete"), Admin),
        (("POST", "/admin/shows/:id/setlist"), Moderator),
        (("GET", "/admin/users"), Admin),
        (("POST", "/admin/users/:id/role"), Admin),
        (("GET", "/admin/users/:id/ban"), Admin),
        (("POST", "/admin/users/:id/ban"), Admin),
        (("POST", "/admin/users/:id/reset-link"), Admin),
        (("GET", "/admin/audit"), Admin),
        (("GET", "/admin/status"), Admin),
        (("GET", "/admin/status/technical"), Admin),
    ])
}

/// Who may use each API operation (paths as in /openapi.json).
fn api_access() -> BTreeMap<(&'static str, &'static str), Access> {
    use Access::*;
    BTreeMap::from([
        (("GET", "/api/v1/admin/audit"), Admin),
        (("GET", "/api/v1/admin/users"), Admin),
        (("PUT", "/api/v1/admin/users/{id}/ban"), Admin),
        (("PUT", "/api/v1/admin/users/{id}/role"), Admin),
        (("GET", "/api/v1/artists"), Public),
        (("POST", "/api/v1/artists"), Moderator),
        (("DELETE", "/api/v1/artists/{id}"), Admin),
        (("PUT", "/api/v1/artists/{id}"), Moderator),
        (("GET", "/api/v1/artists/{id}/songs"), Public),
        (("POST", "/api/v1/artists/{id}/songs"), Moderator),
        (("POST", "/api/v1/auth/login"), Public),
        (("POST", "/api/v1/auth/logout"), Public),
        (("POST", "/api/v1/auth/logout-all"), SignedIn),
        (("POST", "/api/v1/auth/signup"), Public),
        (("GET", "/api/v1/me"), SignedIn),
        (("POST", "/api/v1/me/delete"), SignedIn),
        (("GET", "/api/v1/me/export"), SignedIn),
        (("GET", "/api/v1/search"), Public),
        (("GET", "/api/v1/shows"), Public),
        (("POST", "/api/v1/shows"), Moderator),
        (("DELETE", "/api/v1/shows/{id}"), Admin),
        (("GET", "/api/v1/shows/{id}"), Public),
        (("PUT", "/api/v1/shows/{id}"), Moderator),
        (("GET", "/api/v1/shows/{id}/ranking"), Public),
        (("PUT", "/api/v1/shows/{id}/setlist"), Moderator),
        (("POST", "/api/v1/shows/{id}/songs"), SignedIn),
        (("POST", "/api/v1/reports"), SignedIn),
        (("DELETE", "/api/v1/shows/{id}/songs/{song_id}/vote"), SignedIn),
        (("POST", "/api/v1/shows/{id}/songs/{song_id}/vote"), SignedIn),
        (("PUT", "/api/v1/shows/{id}/songs/{song_id}/vote"), SignedIn),
        (("DELETE", "/api/v1/songs/{id}"), Moderator),
        (("PUT", "/api/v1/songs/{id}"), Moderator),
        (("GET", "/api/v1/venues"), Public),
        (("POST", "/api/v1/venues"), Moderator),
        (("DELETE", "/api/v1/venues/{id}"), Admin),
        (("PUT", "/api/v1/venues/{id}"), Moderator),
    ])
}

/// A valid body for any API write, so that a refusal is about the role, not the input.
fn api_body(ids: &Ids) -> Value {
    json!({
        "name": "Role Test", "city": "Leeds", "country": "GB", "title": "Role Song",
        "artist_id": ids.artist, "venue_id": ids.venue, "starts_at": "2031-06-01T20:00:00Z",
        "entries": [], "role": "admin", "banned": true, "song_id": ids.song,
        "email": "someone@example.org", "password": "correct horse battery",
        "target_type": "show", "target_id": ids.show, "reason": "Role reason",
    })
}

#[tokio::test]
async fn every_route_refuses_lower_roles_and_changes_nothing() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 3).await;
    let target = app.user("target@example.org", Role::User).await;
    let ids = ids(&app, &seeded, target.id);
    let anon = signed_out_browser(&app).await;
    let mut browsers = Vec::new();
    for (email, role) in [("u@example.org", Role::User), ("m@example.org", Role::Moderator)] {
        let u = app.user(email, role).await;
        browsers.push((role, browser(&app, &u).await));
    }

    // The page routes: the router's own list; which methods exist, the router says (405 otherwise).
    let table = page_access();
    let mut seen = Vec::new();
    for path in mysetlist::http::page_paths() {
        for method in ["GET", "POST"] {
            let url = app.url(&concrete(path, &ids));
            let r = anon.0.request(Method::from_bytes(method.as_bytes()).unwrap(), &url).send().await.unwrap();
            if r.status() == StatusCode::METHOD_NOT_ALLOWED {
                continue;
            }
            let access = *table
                .get(&(method, path))
                .unwrap_or_else(|| panic!("{method} {path} is not in the access table; say who may use it"));
            seen.push((method, path));
            if access == Access::Public {
                continue;
            }
            let before = snapshot(&app);
            let send = |c: &Client, token: &str| {
                let m = Method::from_bytes(method.as_bytes()).unwrap();
                let rb = c.request(m.clone(), &url);
                if m == Method::POST { rb.form(&form_fields(Some(token), &ids)) } else { rb }
            };
            // Signed out: sent to sign in (the JSON progress endpoint: 401), even with a valid token.
            let r = send(&anon.0, &anon.1).send().await.unwrap();
            let what = format!("{method} {path} signed out");
            if r.status() == StatusCode::SEE_OTHER {
                assert!(header(&r, "location").starts_with("/login?next="), "{what}");
            } else {
                assert_eq!(r.status(), 401, "{what}");
            }
            for (role, (c, token)) in &browsers {
                let needed = match access {
                    Access::Moderator => Role::Moderator,
                    Access::Admin => Role::Admin,
                    _ => continue,
                };
                if *role >= needed {
                    continue;
                }
                let r = send(c, token).send().await.unwrap();
                assert_eq!(r.status(), 403, "{method} {path} as {role:?}");
            }
            assert_eq!(snapshot(&app), before, "{method} {path}: a refused request changes nothing");
        }
    }
    let missing: Vec<_> = table.keys().filter(|k| !seen.contains(k)).collect();
    assert!(missing.is_empty(), "table entries the router does not serve: {missing:?}");

    // The API: every operation in the published spec.
    let spec = ok_json(app.client().get(app.url("/openapi.json")).send().await.unwrap()).await;
    let table = api_access();
    let mut seen = Vec::new();
    for (raw_path, ops) in spec["paths"].as_object().expect("paths") {
        let path = if raw_path.starts_with("/api/v1") { raw_path.clone() } else { format!("/api/v1{raw_path}") };
        for method in ops.as_object().unwrap().keys() {
            let method = method.to_ascii_uppercase();
            let key = *table
                .keys()
                .find(|(m, p)| *m == method && *p == path)
                .unwrap_or_else(|| panic!("{method} {path} is not in the access table; say who may use it"));
            seen.push(key);
            let access = table[&key];
            if access == Access::Public {
                continue;
            }
            let url = app.url(&concrete(&path, &ids));
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let before = snapshot(&app);
            let send = |c: &Client| {
                let rb = c.request(m.clone(), &url);
                if m == Method::GET { rb } else { rb.json(&api_body(&ids)) }
            };
            problem(send(&app.client()).send().await.unwrap(), 401).await;
            for (role, (c, _)) in &browsers {
                let needed = match access {
                    Access::Moderator => Role::Moderator,
                    Access::Admin => Role::Admin,
                    _ => continue,
                };
                if *role >= needed {
                    continue;
                }
                let p = problem(send(c).send().await.unwrap(), 403).await;
                assert_eq!(p["code"], "forbidden", "{method} {path} as {role:?}");
            }
            assert_eq!(snapshot(&app), before, "{method} {path}: a refused request changes nothing");
        }
    }
    let missing: Vec<_> = table.keys().filter(|k| !seen.contains(k)).collect();
    assert!(missing.is_empty(), "table entries the spec does not list: {missing:?}");
    app.stop().await;
}

#[tokio::test]
async fn every_page_form_refuses_a_missing_or_wrong_csrf_token_and_changes_nothing() {
    // Many password forms from one address: the sign-in and reset limits are not what this test is about.
    let app = spawn_app_with(&[
        ("MYSETLIST_VOTING__ANONYMOUS", "true"),
        ("MYSETLIST_RATE_LIMIT__LOGINS_PER_MINUTE", "1000"),
        ("MYSETLIST_RATE_LIMIT__PASSWORD_RESETS_PER_HOUR", "1000"),
    ])
    .await;
    let seeded = app.seed_show(chrono::Duration::days(3), 3).await;
    let target = app.user("target@example.org", Role::User).await;
    let ids = ids(&app, &seeded, target.id);
    let admin = app.user("admin@example.org", Role::Admin).await;
    let (c, _token) = browser(&app, &admin).await;
    let (anon, _anon_token) = signed_out_browser(&app).await;
    let mut forms = 0;
    for path in mysetlist::http::page_paths() {
        let url = app.url(&concrete(path, &ids));
        if anon.post(&url).send().await.unwrap().status() == StatusCode::METHOD_NOT_ALLOWED {
            continue;
        }
        // RFC 8058: a mail client's one-click unsubscribe carries no token; the secret address is the
        // credential (an unknown one is a 404, tested in mail.rs).
        if path == "/unsubscribe/:token" {
            continue;
        }
        forms += 1;
        for client in [&c, &anon] {
            for token in [None, Some("forged-token"), Some("")] {
                let before = snapshot(&app);
                let r = client.post(&url).form(&form_fields(token, &ids)).send().await.unwrap();
                let status = r.status();
                let body = r.text().await.unwrap();
                // Signed out, a form that needs an account may send to sign-in first; never through.
                if status == StatusCode::SEE_OTHER {
                    assert!(std::ptr::eq(client, &anon), "POST {path} with token {token:?} went through");
                } else {
                    assert_eq!(status, 403, "POST {path} with token {token:?}: {body}");
                    assert!(body.contains("CSRF"), "POST {path}: {body}");
                }
                assert_eq!(snapshot(&app), before, "POST {path} with token {token:?} changed something");
            }
        }
    }
    assert!(forms >= 20, "only {forms} forms found");
    // The admin's session survived every refused sign-out.
    assert_eq!(c.get(app.url("/account")).send().await.unwrap().status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_session_planted_before_sign_in_is_never_adopted() {
    let app = spawn_app().await;
    let victim = app.user("victim@example.org", Role::User).await;
    let attacker = app.user("attacker@example.org", Role::User).await;
    let attacker_session = app.domain().create_session(&attacker).await.unwrap();
    for planted in ["chosen-by-the-attacker-0123456789", attacker_session.token.as_str()] {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let base: reqwest::Url = app.base.parse().unwrap();
        jar.add_cookie_str(&format!("session={planted}; Path=/"), &base);
        let c =
            Client::builder().cookie_provider(jar.clone()).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let html = c.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
        let token = form_value(&html, "csrf").unwrap();
        let r = c
            .post(app.url("/login"))
            .form(&[("csrf", token.as_str()), ("email", "victim@example.org"), ("password", "correct horse battery")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
        let fresh = session_cookie(&r).expect("a new session cookie");
        assert_ne!(fresh, planted, "the planted token must not become the victim's session");
        // The planted token grants nothing: not the victim's account, and no longer the attacker's.
        let planted_client = Client::new();
        let r = planted_client.get(app.url("/api/v1/me")).header("cookie", format!("session={planted}")).send();
        problem(r.await.unwrap(), 401).await;
        let me = ok_json(c.get(app.url("/api/v1/me")).send().await.unwrap()).await;
        assert_eq!(me["id"], victim.id);
    }
    assert_eq!(app.count("SELECT count(*) FROM sessions WHERE user_id = ?1", [attacker.id]), 0);
    app.stop().await;
}

/// Polls /api/v1/me with the session until it is refused (bounded).
async fn wait_until_refused(app: &TestApp, c: &Client) -> bool {
    wait_for(Duration::from_secs(15), || async {
        let r = c.get(app.url("/api/v1/me")).send().await.ok()?;
        (r.status() == 401).then_some(())
    })
    .await
    .is_some()
}

#[tokio::test]
async fn sessions_expire_at_their_absolute_and_idle_limits() {
    for (idle, absolute) in [("14d", "2s"), ("2s", "90d")] {
        let app = spawn_app_with(&[
            ("MYSETLIST_SESSIONS__IDLE_TIMEOUT", idle),
            ("MYSETLIST_SESSIONS__ABSOLUTE_TIMEOUT", absolute),
        ])
        .await;
        let user = app.user("expiring@example.org", Role::User).await;
        let (c, token) = browser(&app, &user).await;
        ok_json(c.get(app.url("/api/v1/me")).send().await.unwrap()).await;
        assert!(wait_until_refused(&app, &c).await, "idle {idle}, absolute {absolute}: session never expired");
        // Expired means unusable everywhere: pages send to sign in, forms with its token are refused.
        let r = c.get(app.url("/account")).send().await.unwrap();
        assert_eq!(r.status(), 303);
        let r = c.post(app.url("/account/logout-all")).form(&[("csrf", token.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), 303, "sent to sign in, nothing done");
        assert_eq!(app.count("SELECT count(*) FROM sessions", []), 0, "the expired session row is gone");
        app.stop().await;
    }
}

#[tokio::test]
async fn rate_limited_forms_get_an_html_page_with_retry_after() {
    let app = spawn_app_with(&[
        ("MYSETLIST_RATE_LIMIT__LOGINS_PER_MINUTE", "2"),
        ("MYSETLIST_RATE_LIMIT__SIGNUPS_PER_HOUR", "1"),
    ])
    .await;
    app.user("limited@example.org", Role::User).await;
    let (c, token) = signed_out_browser(&app).await;
    let login = [("csrf", token.as_str()), ("email", "limited@example.org"), ("password", "wrong password 1")];
    for _ in 0..2 {
        assert_eq!(c.post(app.url("/login")).form(&login).send().await.unwrap().status(), 422);
    }
    let good = [("csrf", token.as_str()), ("email", "limited@example.org"), ("password", "correct horse battery")];
    let r = c.post(app.url("/login")).form(&good).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(header(&r, "content-type").starts_with("text/html"), "{}", header(&r, "content-type"));
    let retry: u64 = header(&r, "retry-after").parse().expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(set_cookies(&r).iter().all(|c| !c.starts_with("session=")), "no session for a refused sign-in");
    let body = r.text().await.unwrap();
    assert!(body.contains("Too many requests") && body.contains("<html"), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM sessions", []), 0);

    let signup = |email: &'static str| {
        vec![("csrf", token.clone()), ("email", email.into()), ("password", "correct horse battery".into())]
    };
    assert_eq!(c.post(app.url("/signup")).form(&signup("one@example.org")).send().await.unwrap().status(), 303);
    let r = c.post(app.url("/signup")).form(&signup("two@example.org")).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(header(&r, "content-type").starts_with("text/html"));
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'two@example.org'", []), 0);
    app.stop().await;
}

#[tokio::test]
async fn oversize_form_bodies_are_refused_and_store_nothing() {
    let app = spawn_app_with(&[("MYSETLIST_HTTP__MAX_BODY_BYTES", "2048")]).await;
    let (c, token) = signed_out_browser(&app).await;
    let name = "n".repeat(4096);
    let form = [
        ("csrf", token.as_str()),
        ("email", "big@example.org"),
        ("password", "correct horse battery"),
        ("display_name", name.as_str()),
    ];
    let r = c.post(app.url("/signup")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(app.count("SELECT count(*) FROM users", []), 0);
    app.stop().await;
}

/// Sends `request` on a fresh connection and reads until the server closes it (bounded): the answer.
async fn raw_exchange(app: &TestApp, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server closes the connection after the answer: {}", String::from_utf8_lossy(&out));
    String::from_utf8_lossy(&out).to_ascii_lowercase()
}

#[tokio::test]
async fn a_413_says_connection_close_before_the_server_closes() {
    let app = spawn_app_with(&[("MYSETLIST_HTTP__MAX_BODY_BYTES", "1024")]).await;
    let declared = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{}",
        "x".repeat(100)
    );
    let chunk = "x".repeat(2000);
    let chunked = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n",
        chunk.len()
    );
    for request in [declared, chunked] {
        let answer = raw_exchange(&app, request.as_bytes()).await;
        assert!(answer.starts_with("http/1.1 413"), "{answer}");
        let head = answer.split("\r\n\r\n").next().unwrap();
        assert!(head.lines().any(|l| l.trim() == "connection: close"), "{head}");
    }
    app.stop().await;
}

#[tokio::test]
async fn injected_markup_and_sql_are_stored_as_text_and_rendered_inert() {
    let app = spawn_app().await;
    let (m, _) = app.signed_in("mod@example.org", Role::Moderator).await;
    let evil = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>'; DROP TABLE users; --";
    let artist = ok_json(m.post(app.url("/api/v1/artists")).json(&json!({"name": evil})).send().await.unwrap()).await;
    let (stored, slug): (String, String) = app
        .db()
        .query_row("SELECT name, slug FROM artists WHERE id = ?1", [artist["id"].as_i64().unwrap()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(stored, evil, "stored verbatim, as data");
    let c = app.client();
    for url in [format!("/artists/{slug}"), "/search?q=script".to_owned(), "/search?q=alert".to_owned()] {
        let html = c.get(app.url(&url)).send().await.unwrap().text().await.unwrap();
        assert!(!html.contains("<script>alert") && !html.contains("<img src=x"), "{url} renders raw markup");
        let at = html.find("alert(1)").map(|i| &html[i.saturating_sub(40)..(i + 40).min(html.len())]);
        let escaped = html.contains("&#60;script&#62;alert(1)") || html.contains("&lt;script&gt;alert(1)");
        assert!(escaped, "{url} shows the name escaped: {at:?}");
    }
    // SQL and FTS query syntax in searches are search text, never a statement or a 5xx.
    for q in ["'; DROP TABLE users; --", "\" OR 1=1 --", "NEAR(a b", "a* AND (", "^\"", "songs:*"] {
        let r = c.get(app.url("/api/v1/search")).query(&[("q", q)]).send().await.unwrap();
        assert!(r.status().is_success() || r.status().is_client_error(), "{q}: {}", r.status());
        let r = c.get(app.url("/search")).query(&[("q", q)]).send().await.unwrap();
        assert!(r.status().is_success() || r.status().is_client_error(), "{q}: {}", r.status());
    }
    assert_eq!(app.count("SELECT count(*) FROM users", []), 1, "the users table is still there");
    app.stop().await;
}

fn file_contains(path: &std::path::Path, needle: &str) -> bool {
    std::fs::read(path).map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes())).unwrap_or(false)
}

#[tokio::test]
async fn erasure_leaves_no_personal_data_in_the_database_files() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 3).await;
    let email = "zelda.erasure-7f3a@example.org";
    let name = "Zelda Quixotic-Erasure";
    let c = app.client();
    let r = c
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({"email": email, "password": "correct horse battery", "display_name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = c
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let me = ok_json(r).await;
    let user = app.domain().user(me["id"].as_i64().unwrap()).await.unwrap().unwrap();
    app.domain().toggle_vote(&Voter::User(user.clone()), seeded.show_id, seeded.song_ids[1]).await.unwrap();
    app.domain().set_follow(user.id, seeded.artist_id, true).await.unwrap();
    let export = ok_json(c.get(app.url("/api/v1/me/export")).send().await.unwrap()).await;
    assert_eq!(export["account"]["email"], email);
    assert_eq!(export["votes"].as_array().unwrap().len(), 1);
    assert_eq!(export["follows"].as_array().unwrap().len(), 1);

    let db = app.dir.path().join("mysetlist.db");
    let wal = app.dir.path().join("mysetlist.db-wal");
    let anywhere = |needle: &str| file_contains(&db, needle) || file_contains(&wal, needle);
    assert!(anywhere(email) && anywhere(name), "the grep finds the data while the account exists");

    // The ranking is read (and cached) while the vote is a signed-in one.
    let ranking_url = app.url(&format!("/api/v1/shows/{}/ranking", seeded.show_id));
    let split = |ranking: serde_json::Value| {
        let song = ranking.as_array().unwrap().iter().find(|s| s["song_id"] == seeded.song_ids[1]).unwrap().clone();
        (song["votes"].as_i64().unwrap(), song["anon_votes"].as_i64().unwrap())
    };
    assert_eq!(split(ok_json(reqwest::get(&ranking_url).await.unwrap()).await), (1, 0));
    let r = c
        .post(app.url("/api/v1/me/delete"))
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap_or_default());
    // The erasure checkpoints and empties the WAL itself; poll only for the files to settle.
    let clean = wait_for(Duration::from_secs(10), || async {
        (!anywhere(email) && !anywhere(name) && !anywhere("zelda.erasure")).then_some(())
    })
    .await;
    assert!(clean.is_some(), "personal data left in the database files after erasure");
    assert_eq!(app.count("SELECT count(*) FROM sessions WHERE user_id = ?1", [user.id]), 0);
    assert_eq!(app.count("SELECT count(*) FROM votes WHERE user_id = ?1", [user.id]), 0);
    assert_eq!(app.count("SELECT count(*) FROM follows WHERE user_id = ?1", [user.id]), 0);
    let votes = app.count("SELECT anon_votes FROM show_songs WHERE song_id = ?1", [seeded.song_ids[1]]);
    assert_eq!(votes, 1, "the vote stays as an anonymous count");
    let shown = split(ok_json(reqwest::get(&ranking_url).await.unwrap()).await);
    assert_eq!(shown, (0, 1), "the public ranking shows it as anonymous at once");
    app.stop().await;
}

#[tokio::test]
async fn pages_make_no_third_party_requests_and_the_privacy_page_names_retention() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 2).await;
    let admin = app.user("admin@example.org", Role::Admin).await;
    let (c, _) = browser(&app, &admin).await;
    let ids = ids(&app, &seeded, admin.id);
    let mut pages = 0;
    for path in mysetlist::http::page_paths() {
        let url = app.url(&concrete(path, &ids));
        let r = c.get(&url).send().await.unwrap();
        if !header(&r, "content-type").starts_with("text/html") {
            continue;
        }
        pages += 1;
        let html = r.text().await.unwrap();
        let external =
            |target: &str| target.starts_with("//") || (target.contains("://") && !target.starts_with(&app.base));
        // Nothing is loaded from elsewhere: sources, form targets, stylesheets and icons (<link>).
        for attr in ["src=\"", "action=\"", "srcset=\"", "poster=\""] {
            for part in html.split(attr).skip(1) {
                let target = part.split('"').next().unwrap_or_default();
                assert!(!external(target), "{path} loads {target}");
            }
        }
        for tag in html.split("<link ").skip(1) {
            let tag = tag.split('>').next().unwrap_or_default();
            let href = tag.split("href=\"").nth(1).and_then(|h| h.split('"').next()).unwrap_or_default();
            assert!(!external(href), "{path} links {href}");
        }
        assert!(!html.contains("@import") && !html.contains("url(http"), "{path}");
    }
    assert!(pages >= 15, "{pages} pages checked");
    let privacy = c.get(app.url("/privacy")).send().await.unwrap().text().await.unwrap();
    for needed in ["90 days", "30 days", "365 days"] {
        assert!(privacy.contains(needed), "privacy page names {needed}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_audit_log_records_staff_actions_and_refuses_updates() {
    let app = spawn_app().await;
    let (m, moderator) = app.signed_in("mod@example.org", Role::Moderator).await;
    ok_json(m.post(app.url("/api/v1/artists")).json(&json!({"name": "Audited Band"})).send().await.unwrap()).await;
    let sql = "SELECT count(*) FROM audit_log WHERE action = 'artist.create' AND actor_id = ?1";
    assert_eq!(app.count(sql, [moderator.id]), 1);
    // Even a direct write to the file cannot rewrite history.
    let conn = rusqlite::Connection::open(app.dir.path().join("mysetlist.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let err = conn.execute("UPDATE audit_log SET action = 'nothing happened', actor_id = NULL", []).unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert_eq!(app.count(sql, [moderator.id]), 1, "the entry is unchanged");
    app.stop().await;
}

#[tokio::test]
async fn json_writes_must_come_from_the_public_url_when_one_is_set() {
    let app = spawn_app_with(&[("MYSETLIST_PUBLIC_URL", "https://vote.example.org")]).await;
    let user = app.user("fan@example.org", Role::User).await;
    let (c, _) = browser(&app, &user).await;
    let show = app.seed_show(chrono::Duration::days(3), 1).await;
    let vote = app.url(&format!("/api/v1/shows/{}/songs/{}/vote", show.show_id, show.song_ids[0]));
    // Behind a proxy the Host header is the app's own address: it no longer vouches for the Origin.
    for origin in [app.base.as_str(), "http://vote.example.org", "https://evil.example"] {
        let r = c.put(&vote).header("origin", origin).send().await.unwrap();
        assert_eq!(problem(r, 403).await["code"], "forbidden", "{origin}");
    }
    assert_eq!(app.count("SELECT count(*) FROM votes", []), 0);
    let r = c.put(&vote).header("origin", "https://vote.example.org").send().await.unwrap();
    ok_json(r).await;
    assert_eq!(app.count("SELECT count(*) FROM votes", []), 1);
    app.stop().await;
}

#[tokio::test]
async fn sign_in_keeps_only_same_origin_paths_as_next() {
    let app = spawn_app().await;
    app.user("fan@example.org", Role::User).await;
    let hostile = [
        "/\t/evil.example",
        "/%09/evil.example",
        "/\n/evil.example",
        "//evil.example",
        "/\\evil.example",
        "/%5Cevil.example",
        "/%2F/evil.example",
        "/%252F%252Fevil.example",
        "https://evil.example",
        " /evil",
    ];
    let c = app.client();
    for next in hostile {
        let url = reqwest::Url::parse_with_params(&app.url("/login"), &[("next", next)]).unwrap();
        let html = c.get(url).send().await.unwrap().text().await.unwrap();
        assert_eq!(form_value(&html, "next").as_deref(), Some("/"), "{next:?}");
    }
    // A kept path survives; a hostile one submitted with the form sends the browser home.
    let url = reqwest::Url::parse_with_params(&app.url("/login"), &[("next", "/shows/x?y=1")]).unwrap();
    let html = c.get(url).send().await.unwrap().text().await.unwrap();
    assert_eq!(form_value(&html, "next").as_deref(), Some("/shows/x?y=1"));
    let (c, token) = signed_out_browser(&app).await;
    let form = [
        ("csrf", token.as_str()),
        ("email", "fan@example.org"),
        ("password", "correct horse battery"),
        ("next", "/\t/evil.example"),
    ];
    let r = c.post(app.url("/login")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(header(&r, "location"), "/");
    app.stop().await;
}

#[tokio::test]
async fn per_user_responses_are_never_stored_by_caches_and_assets_keep_theirs() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 1).await;
    let admin = app.user("boss@example.org", Role::Admin).await;
    let (c, _) = browser(&app, &admin).await;
    for path in [
        "/api/v1/me".to_owned(),
        "/api/v1/me/export".to_owned(),
        "/api/v1/admin/users".to_owned(),
        "/account".to_owned(),
        "/admin".to_owned(),
        "/admin/shows".to_owned(),
        "/".to_owned(),
        format!("/shows/{}", seeded.slug),
        format!("/api/v1/shows/{}", seeded.show_id),
    ] {
        let r = c.get(app.url(&path)).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        let cc = header(&r, "cache-control");
        assert!(cc.contains("no-store") && cc.contains("private"), "{path}: {cc:?}");
    }
    // Signed out, the account API still says no-store.
    let r = app.client().get(app.url("/api/v1/me")).send().await.unwrap();
    assert!(header(&r, "cache-control").contains("no-store"));
    let home = c.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    let css = home.split("href=\"").find_map(|s| s.split('"').next().filter(|u| u.ends_with(".css"))).unwrap();
    let r = c.get(app.url(css)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "cache-control").starts_with("public, max-age="), "{}", header(&r, "cache-control"));
    app.stop().await;
}

#[tokio::test]
async fn the_export_lists_the_songs_a_user_added_and_erasure_unlinks_them() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 2).await;
    let system = CurrentUser { id: 0, email: "system".into(), display_name: "system".into(), role: Role::Admin };
    let input = mysetlist::domain::SongInput { title: "Deep Cut".into(), ..Default::default() };
    let song = app.domain().create_song(&system, seeded.artist_id, input).await.unwrap();
    let fan = app.user("adder@example.org", Role::User).await;
    let c = app.session_client(&fan).await;
    let r = c.post(app.url(&format!("/api/v1/shows/{}/songs", seeded.show_id))).json(&json!({"song_id": song}));
    assert_eq!(ok_json(r.send().await.unwrap()).await, json!(true));

    let export = ok_json(c.get(app.url("/api/v1/me/export")).send().await.unwrap()).await;
    let added = export["songs_added"].as_array().expect("songs_added in the export");
    assert_eq!(added.len(), 1, "{export}");
    assert_eq!(added[0]["show_id"], seeded.show_id);
    assert_eq!(added[0]["show"], seeded.slug.as_str());
    assert_eq!(added[0]["song_id"], song);
    assert_eq!(added[0]["song"], "Deep Cut");

    app.domain().delete_account(&fan, "correct horse battery", std::net::Ipv4Addr::LOCALHOST.into()).await.unwrap();
    assert_eq!(app.count("SELECT count(*) FROM show_songs WHERE added_by = ?1", [fan.id]), 0, "who added it is gone");
    let still_listed = "SELECT count(*) FROM show_songs WHERE show_id = ?1 AND song_id = ?2 AND added_by IS NULL";
    assert_eq!(app.count(still_listed, [seeded.show_id, song]), 1, "the song stays on the list");
    app.stop().await;
}
