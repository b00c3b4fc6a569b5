//! Accounts over the JSON API: sign-up, sign-in, /me, sign-out, sign-out everywhere, session rotation.

use mysetlist::domain::Role;
use serde_json::json;

use crate::helpers::*;

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn sign_up_creates_the_account_which_then_signs_in() {
    let app = spawn_app().await;
    let c = app.client();
    let r = c
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({"email": " Fan@Example.ORG ", "password": PASSWORD, "display_name": "Fan"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(session_cookie(&r).is_none(), "sign-up does not sign in (it would tell taken addresses apart)");
    assert!(ok_json(r).await["detail"].as_str().unwrap().contains("sign in"));

    let r = c
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "fan@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set_cookie: Vec<String> =
        r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let session = set_cookie.iter().find(|c| c.starts_with("session=")).expect("session cookie set");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attribute), "{attribute} missing in {session}");
    }
    let me = ok_json(r).await;
    assert_eq!(me["email"], "fan@example.org", "email is normalised");
    assert_eq!(me["role"], "user", "sign-up never grants a role");

    // The cookie jar now holds the session: /me answers for this account.
    let me2 = ok_json(c.get(app.url("/api/v1/me")).send().await.unwrap()).await;
    assert_eq!(me2["id"], me["id"]);
    assert_eq!(me2["display_name"], "Fan");
    // The password is stored as an argon2id hash, never in clear.
    let hash: String = app
        .db()
        .query_row("SELECT password_hash FROM users WHERE email = 'fan@example.org'", [], |r| r.get(0))
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
    assert_eq!(app.count("SELECT count(*) FROM sessions", []), 1);
    app.stop().await;
}

/// Status, Set-Cookie names and body of a sign-up answer: what must not differ between addresses.
async fn answer(r: reqwest::Response) -> (u16, Vec<String>, String) {
    let status = r.status().as_u16();
    let mut cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split('=').next().map(str::to_owned))
        .collect();
    cookies.sort();
    (status, cookies, r.text().await.unwrap())
}

#[tokio::test]
async fn sign_up_answers_alike_for_new_and_taken_addresses_and_changes_nothing_for_a_taken_one() {
    let app = spawn_app().await;
    let c = app.client();
    let signup = |email: &'static str, password: &'static str| {
        c.post(app.url("/api/v1/auth/signup")).json(&json!({"email": email, "password": password})).send()
    };
    let new = answer(signup("dup@example.org", PASSWORD).await.unwrap()).await;
    assert_eq!(new.0, 202, "{new:?}");
    for (email, password) in [("dup@example.org", PASSWORD), ("DUP@Example.org", "another long passphrase")] {
        assert_eq!(answer(signup(email, password).await.unwrap()).await, new, "{email}");
    }
    assert_eq!(app.count("SELECT count(*) FROM users", []), 1);
    // The owner's password is untouched; the one from the second sign-up does not work.
    let login = |password: &'static str| {
        c.post(app.url("/api/v1/auth/login")).json(&json!({"email": "dup@example.org", "password": password})).send()
    };
    problem(login("another long passphrase").await.unwrap(), 422).await;
    assert_eq!(login(PASSWORD).await.unwrap().status(), 200);

    // The form: the same redirect for a new and a taken address, and no session either way.
    let browser = app.client();
    let html = browser.get(app.url("/signup")).send().await.unwrap().text().await.unwrap();
    let token = form_value(&html, "csrf").unwrap();
    let mut answers = Vec::new();
    for email in ["form-new@example.org", "dup@example.org"] {
        let form = [("csrf", token.as_str()), ("email", email), ("password", PASSWORD), ("next", "/account")];
        let r = browser.post(app.url("/signup")).form(&form).send().await.unwrap();
        let location = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        answers.push((answer(r).await, location));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0.0, 303);
    assert_eq!(answers[0].1, "/login?next=%2Faccount&signed_up=1");
    assert_eq!(app.count("SELECT count(*) FROM users", []), 2);
    app.stop().await;
}

#[tokio::test]
async fn bad_sign_up_input_names_the_field_and_stores_nothing() {
    let app = spawn_app().await;
    let c = app.client();
    let cases = [
        (json!({"email": "not-an-email", "password": PASSWORD}), "email"),
        (json!({"email": "a@b", "password": PASSWORD}), "email"),
        (json!({"email": "short@example.org", "password": "short"}), "password"),
        (json!({"email": "common@example.org", "password": "password123"}), "password"),
        (json!({"email": "same@example.org", "password": "same@example.org"}), "password"),
        (json!({"email": "ctl@example.org", "password": PASSWORD, "display_name": "a\u{7}b"}), "display_name"),
    ];
    for (body, field) in cases {
        let r = c.post(app.url("/api/v1/auth/signup")).json(&body).send().await.unwrap();
        let p = problem(r, 422).await;
        assert_eq!(p["code"], "invalid", "{body}");
        assert_eq!(p["field"], field, "{body} -> {p}");
    }
    assert_eq!(app.count("SELECT count(*) FROM users", []), 0);
    assert_eq!(app.count("SELECT count(*) FROM sessions", []), 0);
    app.stop().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    app.user("known@example.org", Role::User).await;
    let c = app.client();
    let login = |email: &'static str, password: &'static str| {
        c.post(app.url("/api/v1/auth/login")).json(&json!({"email": email, "password": password})).send()
    };
    let wrong = problem(login("known@example.org", "wrong horse battery").await.unwrap(), 422).await;
    let unknown = problem(login("nobody@example.org", PASSWORD).await.unwrap(), 422).await;
    let malformed = problem(login("not an email", PASSWORD).await.unwrap(), 422).await;
    assert_eq!(wrong, unknown, "the answer must not reveal whether the account exists");
    assert_eq!(wrong, malformed);
    assert_eq!(wrong["field"], "password");
    assert_eq!(app.count("SELECT count(*) FROM sessions", []), 0);
    // The right password works, with any case of the email.
    let ok = login("KNOWN@example.org", PASSWORD).await.unwrap();
    assert_eq!(ok.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn me_needs_a_session() {
    let app = spawn_app().await;
    let c = app.client();
    let p = problem(c.get(app.url("/api/v1/me")).send().await.unwrap(), 401).await;
    assert_eq!(p["code"], "unauthorized");
    // A forged or overlong cookie is simply no session.
    for token in ["forged", &"x".repeat(5000)] {
        let r = c.get(app.url("/api/v1/me")).header("cookie", format!("session={token}")).send().await.unwrap();
        problem(r, 401).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn sign_out_ends_the_session_on_the_server() {
    let app = spawn_app().await;
    app.user("out@example.org", Role::User).await;
    let c = app.client();
    let r = c
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "out@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let token = session_cookie(&r).expect("session cookie");
    assert_eq!(r.status(), 200);
    let r = c.post(app.url("/api/v1/auth/logout")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let cleared = r.headers().get_all("set-cookie").iter().any(|v| {
        let v = v.to_str().unwrap();
        v.starts_with("session=;") && v.contains("Max-Age=0")
    });
    assert!(cleared, "sign-out clears the cookie");
    problem(c.get(app.url("/api/v1/me")).send().await.unwrap(), 401).await;
    // Replaying the old cookie does not work either: the session is gone server-side.
    let replay = app.client().get(app.url("/api/v1/me")).header("cookie", format!("session={token}")).send();
    problem(replay.await.unwrap(), 401).await;
    assert_eq!(app.count("SELECT count(*) FROM sessions", []), 0);
    app.stop().await;
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_other_session() {
    let app = spawn_app().await;
    let user = app.user("many@example.org", Role::User).await;
    let other = app.user("other@example.org", Role::User).await;
    let laptop = app.session_client(&user).await;
    let phone = app.session_client(&user).await;
    let someone_else = app.session_client(&other).await;
    for c in [&laptop, &phone, &someone_else] {
        assert_eq!(c.get(app.url("/api/v1/me")).send().await.unwrap().status(), 200);
    }
    let r = laptop.post(app.url("/api/v1/auth/logout-all")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    problem(laptop.get(app.url("/api/v1/me")).send().await.unwrap(), 401).await;
    // The phone's session was cached as valid a moment ago; it must die immediately all the same.
    problem(phone.get(app.url("/api/v1/me")).send().await.unwrap(), 401).await;
    assert_eq!(someone_else.get(app.url("/api/v1/me")).send().await.unwrap().status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM sessions WHERE user_id = ?1", [user.id]), 0);
    assert_eq!(app.count("SELECT count(*) FROM sessions WHERE user_id = ?1", [other.id]), 1);
    // Without a session there is nothing to sign out of.
    problem(app.client().post(app.url("/api/v1/auth/logout-all")).send().await.unwrap(), 401).await;
    app.stop().await;
}

#[tokio::test]
async fn signing_in_again_rotates_the_session() {
    let app = spawn_app().await;
    app.user("rotate@example.org", Role::User).await;
    let c = app.client();
    let login = || {
        c.post(app.url("/api/v1/auth/login")).json(&json!({"email": "rotate@example.org", "password": PASSWORD})).send()
    };
    let first = login().await.unwrap();
    assert_eq!(first.status(), 200);
    let first_token = session_cookie(&first).unwrap();
    let first_csrf = ok_json(first).await["csrf_token"].clone();
    let second = login().await.unwrap();
    assert_eq!(second.status(), 200);
    let second_token = session_cookie(&second).unwrap();
    let second_csrf = ok_json(second).await["csrf_token"].clone();
    assert_ne!(first_token, second_token, "a sign-in always issues a new token");
    assert_ne!(first_csrf, second_csrf);
    // The session that was presented at sign-in is gone (no session fixation); the new one works.
    let old = app.client().get(app.url("/api/v1/me")).header("cookie", format!("session={first_token}")).send();
    problem(old.await.unwrap(), 401).await;
    assert_eq!(c.get(app.url("/api/v1/me")).send().await.unwrap().status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM sessions", []), 1);
    app.stop().await;
}
