//! Rate limits: per address (behind a trusted proxy each test client claims its own address) and
//! per account. A refused request is 429 problem+json with Retry-After and changes nothing, and
//! counts in `mysetlist_rate_limit_rejections_total{limit}`.

use mysetlist::domain::Role;
use serde_json::json;

use crate::helpers::*;

const PASSWORD: &str = "correct horse battery";

fn from(c: reqwest::RequestBuilder, ip: &str) -> reqwest::RequestBuilder {
    c.header("x-forwarded-for", ip)
}

/// Asserts a 429 problem with a sensible Retry-After.
async fn limited(r: reqwest::Response) {
    let retry_after = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let p = problem(r, 429).await;
    assert_eq!(p["code"], "rate_limited");
    assert!(retry_after.is_some_and(|s| (1..=3600).contains(&s)), "Retry-After: {retry_after:?}");
}

/// `mysetlist_rate_limit_rejections_total{limit="<limit>"}` on /metrics (0 when absent).
async fn rejections(app: &TestApp, limit: &str) -> f64 {
    let text = app.client().get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let series = format!("mysetlist_rate_limit_rejections_total{{limit=\"{limit}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&series)?.trim().parse().ok()).unwrap_or(0.0)
}

#[tokio::test]
async fn sign_ins_are_limited_per_address_and_per_account() {
    let app = spawn_app_with(&[
        ("MYSETLIST_RATE_LIMIT__LOGINS_PER_MINUTE", "3"),
        ("MYSETLIST_HTTP__TRUSTED_PROXIES", "127.0.0.1/32"),
    ])
    .await;
    app.user("target@example.org", Role::User).await;
    let c = app.client();
    let login = |email: &str, password: &str, ip: &str| {
        from(c.post(app.url("/api/v1/auth/login")), ip).json(&json!({"email": email, "password": password})).send()
    };

    // One address guessing at different accounts: three tries, then 429.
    for i in 0..3 {
        let r = login(&format!("guess{i}@example.org"), "wrong horse battery", "203.0.113.1").await.unwrap();
        problem(r, 422).await;
    }
    limited(login("guess9@example.org", "wrong horse battery", "203.0.113.1").await.unwrap()).await;
    // The sign-in form of the pages counts against the same address.
    let r = from(c.post(app.url("/login")), "203.0.113.1")
        .form(&[("email", "target@example.org"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);

    // Many addresses guessing at one account: three tries, then the account refuses every attempt
    // for a while, even with the right password.
    for i in 0..3 {
        let r = login("target@example.org", "wrong horse battery", &format!("198.51.100.{i}")).await.unwrap();
        problem(r, 422).await;
    }
    limited(login("target@example.org", PASSWORD, "198.51.100.50").await.unwrap()).await;
    // Other accounts from fresh addresses are unaffected.
    app.user("other@example.org", Role::User).await;
    assert_eq!(login("other@example.org", PASSWORD, "192.0.2.1").await.unwrap().status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM sessions", []), 1);
    // Two refusals by the address limit (API and form), one by the account limit.
    assert_eq!(rejections(&app, "login").await, 2.0);
    assert_eq!(rejections(&app, "login_account").await, 1.0);
    app.stop().await;
}

#[tokio::test]
async fn sign_ups_are_limited_per_address() {
    let app = spawn_app_with(&[
        ("MYSETLIST_RATE_LIMIT__SIGNUPS_PER_HOUR", "2"),
        ("MYSETLIST_HTTP__TRUSTED_PROXIES", "127.0.0.1/32"),
    ])
    .await;
    let signup = |email: &str, ip: &str| {
        from(app.client().post(app.url("/api/v1/auth/signup")), ip)
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
    };
    assert_eq!(signup("one@example.org", "203.0.113.9").await.unwrap().status(), 201);
    assert_eq!(signup("two@example.org", "203.0.113.9").await.unwrap().status(), 201);
    limited(signup("three@example.org", "203.0.113.9").await.unwrap()).await;
    // IPv6 clients are limited by their /64: another address in the same /64 is the same client.
    let v6 = |host: u16| format!("2001:db8:aa:bb::{host:x}");
    assert_eq!(signup("four@example.org", &v6(1)).await.unwrap().status(), 201);
    assert_eq!(signup("five@example.org", &v6(2)).await.unwrap().status(), 201);
    limited(signup("six@example.org", &v6(3)).await.unwrap()).await;
    assert_eq!(rejections(&app, "signup").await, 2.0);
    assert_eq!(signup("seven@example.org", "2001:db8:aa:cc::1").await.unwrap().status(), 201);
    assert_eq!(app.count("SELECT count(*) FROM users", []), 5);
    app.stop().await;
}

#[tokio::test]
async fn votes_are_limited_per_account_and_per_address() {
    let app = spawn_app_with(&[
        ("MYSETLIST_RATE_LIMIT__VOTES_PER_MINUTE", "4"),
        ("MYSETLIST_HTTP__TRUSTED_PROXIES", "127.0.0.1/32"),
    ])
    .await;
    let show = app.seed_show(chrono::Duration::days(2), 5).await;
    let vote = |c: &reqwest::Client, song: usize, ip: &str| {
        from(c.post(app.url(&format!("/api/v1/shows/{}/songs/{}/vote", show.show_id, show.song_ids[song]))), ip).send()
    };
    let user_a = app.user("a@example.org", Role::User).await;
    let a = app.session_client(&user_a).await;
    let b = app.session_client(&app.user("b@example.org", Role::User).await).await;
    let c = app.session_client(&app.user("c@example.org", Role::User).await).await;

    // Per account: A votes 4 times from 4 addresses; the 5th vote is refused wherever it comes from.
    for song in 0..4 {
        assert_eq!(vote(&a, song, &format!("203.0.113.{song}")).await.unwrap().status(), 200);
    }
    limited(vote(&a, 4, "203.0.113.99").await.unwrap()).await;
    assert_eq!(app.count("SELECT count(*) FROM votes WHERE user_id = ?1", [user_a.id]), 4);

    // Per address: B uses up 198.51.100.1; C is refused there but not elsewhere.
    for song in 0..4 {
        assert_eq!(vote(&b, song, "198.51.100.1").await.unwrap().status(), 200);
    }
    limited(vote(&c, 0, "198.51.100.1").await.unwrap()).await;
    assert_eq!(vote(&c, 0, "198.51.100.2").await.unwrap().status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM votes", []), 9);
    assert_eq!(rejections(&app, "votes_voter").await, 1.0);
    assert_eq!(rejections(&app, "votes").await, 1.0);
    app.stop().await;
}

#[tokio::test]
async fn searches_are_limited_per_address() {
    let app = spawn_app_with(&[("MYSETLIST_RATE_LIMIT__SEARCH_PER_MINUTE", "2")]).await;
    let c = app.client();
    assert_eq!(c.get(app.url("/api/v1/search?q=band")).send().await.unwrap().status(), 200);
    assert_eq!(c.get(app.url("/search?q=band")).send().await.unwrap().status(), 200);
    limited(c.get(app.url("/api/v1/search?q=band")).send().await.unwrap()).await;
    // Other endpoints are not affected.
    assert_eq!(c.get(app.url("/api/v1/shows")).send().await.unwrap().status(), 200);
    app.stop().await;
}
