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
async fn sign_ins_are_limited_per_address_per_account_and_address_and_per_account() {
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

    // One address guessing at one account: three tries, then that address is refused for the
    // account, even with the right password.
    for _ in 0..3 {
        let r = login("target@example.org", "wrong horse battery", "198.51.100.1").await.unwrap();
        problem(r, 422).await;
    }
    limited(login("target@example.org", PASSWORD, "198.51.100.1").await.unwrap()).await;
    // The owner at another address is not locked out by someone else's failures...
    assert_eq!(login("target@example.org", PASSWORD, "198.51.100.50").await.unwrap().status(), 200);
    // ...until the account's ceiling, ten times the limit from all addresses together (3 + 1 used;
    // the bucket refills one check every 2 s, so a slow run may see a few more before the refusal).
    let mut guesses = 0;
    loop {
        let r =
            login("target@example.org", "wrong horse battery", &format!("192.0.2.{}", 100 + guesses)).await.unwrap();
        if r.status() == 429 {
            limited(r).await;
            break;
        }
        problem(r, 422).await;
        guesses += 1;
        assert!(guesses < 60, "the account's ceiling never refused");
    }
    assert!(guesses >= 26, "{guesses} guesses from fresh addresses before the ceiling");
    limited(login("target@example.org", PASSWORD, "198.51.100.51").await.unwrap()).await;
    // Other accounts from fresh addresses are unaffected.
    app.user("other@example.org", Role::User).await;
    assert_eq!(login("other@example.org", PASSWORD, "192.0.2.1").await.unwrap().status(), 200);
    // (One client: the second sign-in replaced the first session.)
    assert_eq!(app.count("SELECT count(*) FROM sessions", []), 1);
    // Three refusals by the address limit (API, form, and the guesser at the target), two by the
    // account's ceiling.
    assert_eq!(rejections(&app, "login").await, 3.0);
    assert_eq!(rejections(&app, "login_account").await, 2.0);
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
    assert_eq!(signup("one@example.org", "203.0.113.9").await.unwrap().status(), 202);
    assert_eq!(signup("two@example.org", "203.0.113.9").await.unwrap().status(), 202);
    limited(signup("three@example.org", "203.0.113.9").await.unwrap()).await;
    // IPv6 clients are limited by their /64: another address in the same /64 is the same client.
    let v6 = |host: u16| format!("2001:db8:aa:bb::{host:x}");
    assert_eq!(signup("four@example.org", &v6(1)).await.unwrap().status(), 202);
    assert_eq!(signup("five@example.org", &v6(2)).await.unwrap().status(), 202);
    limited(signup("six@example.org", &v6(3)).await.unwrap()).await;
    assert_eq!(rejections(&app, "signup").await, 2.0);
    assert_eq!(signup("seven@example.org", "2001:db8:aa:cc::1").await.unwrap().status(), 202);
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

#[tokio::test]
async fn head_searches_count_against_the_search_limit_like_gets() {
    let app = spawn_app_with(&[("MYSETLIST_RATE_LIMIT__SEARCH_PER_MINUTE", "2")]).await;
    let c = app.client();
    assert_eq!(c.head(app.url("/search?q=band")).send().await.unwrap().status(), 200);
    assert_eq!(c.head(app.url("/api/v1/search?q=band")).send().await.unwrap().status(), 200);
    // The bucket is empty: a HEAD and a GET are both refused.
    assert_eq!(c.head(app.url("/search?q=band")).send().await.unwrap().status(), 429);
    limited(c.get(app.url("/api/v1/search?q=band")).send().await.unwrap()).await;
    assert_eq!(rejections(&app, "search").await, 2.0);
    app.stop().await;
}

#[tokio::test]
async fn parallel_erasure_attempts_with_a_wrong_password_are_limited_like_sign_ins() {
    let app = spawn_app_with(&[
        ("MYSETLIST_RATE_LIMIT__LOGINS_PER_MINUTE", "3"),
        ("MYSETLIST_HTTP__TRUSTED_PROXIES", "127.0.0.1/32"),
    ])
    .await;
    let user = app.user("victim@example.org", Role::User).await;
    let c = app.session_client(&user).await;
    let before = app.domain().password_stats();
    let attempts = (0..16).map(|i| {
        from(c.post(app.url("/api/v1/me/delete")), "203.0.113.7")
            .json(&json!({"email": "victim@example.org", "password": format!("guess number {i}")}))
            .send()
    });
    let statuses: Vec<u16> =
        futures_util::future::join_all(attempts).await.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
    let wrong = statuses.iter().filter(|s| **s == 422).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((wrong, refused), (3, 13), "{statuses:?}");
    // Only the three allowed attempts reached argon2.
    assert_eq!(app.domain().password_stats().verifications - before.verifications, 3);
    // Another address has its own bucket (the account's ceiling is ten times higher): one more check.
    let r = from(c.post(app.url("/api/v1/me/delete")), "198.51.100.7")
        .json(&json!({"email": "victim@example.org", "password": "still guessing"}))
        .send()
        .await
        .unwrap();
    problem(r, 422).await;
    assert_eq!(app.count("SELECT count(*) FROM users WHERE deleted_at IS NULL", []), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_flood_of_password_checks_beyond_the_pool_gets_503_instead_of_more_work() {
    let app = spawn_app_with(&[
        ("MYSETLIST_RATE_LIMIT__LOGINS_PER_MINUTE", "1000"),
        ("MYSETLIST_RATE_LIMIT__PASSWORD_WORKERS", "1"),
        ("MYSETLIST_RATE_LIMIT__PASSWORD_WAIT", "0s"),
    ])
    .await;
    app.user("target@example.org", Role::User).await;
    let c = app.client();
    let before = app.domain().password_stats();
    let attempts = (0..32).map(|i| {
        c.post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": "target@example.org", "password": format!("guess number {i}")}))
            .send()
    });
    let mut statuses = Vec::new();
    for r in futures_util::future::join_all(attempts).await {
        let r = r.unwrap();
        let status = r.status().as_u16();
        if status == 503 {
            let retry_after = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
            assert_eq!(retry_after, Some(1u64));
            assert_eq!(problem(r, 503).await["code"], "unavailable");
        }
        statuses.push(status);
    }
    let wrong = statuses.iter().filter(|s| **s == 422).count() as u64;
    let busy = statuses.iter().filter(|s| **s == 503).count() as u64;
    assert_eq!(wrong + busy, 32, "only 422 or 503: {statuses:?}");
    assert!(busy > 0, "32 parallel checks against one worker that never waits: {statuses:?}");
    let after = app.domain().password_stats();
    assert_eq!(after.workers, 1);
    assert_eq!(after.max_in_flight, 1, "never more than the pool's size at once");
    assert_eq!(after.verifications - before.verifications, wrong);
    assert_eq!(after.busy_refusals - before.busy_refusals, busy);
    app.stop().await;
}

#[tokio::test]
async fn every_sign_in_runs_exactly_one_argon2_verification_whatever_the_account() {
    let app = spawn_app().await;
    app.domain().load_demo().await.unwrap();
    app.user("real@example.org", Role::User).await;
    let c = app.client();
    let cases = [
        ("real@example.org", 200u16), // a usable hash, the right password
        ("nobody@example.org", 422),  // unknown email
        ("fan1@demo.invalid", 422),   // a demo fan: empty hash
    ];
    for (email, status) in cases {
        let before = app.domain().password_stats().verifications;
        let r = c
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{email}");
        assert_eq!(app.domain().password_stats().verifications - before, 1, "{email}");
    }
    // An erased account (its hash emptied): erasure verifies once, then signing in with the old
    // address is an unknown email, still one verification.
    let user = app.user("leaving@example.org", Role::User).await;
    app.domain().delete_account(&user, PASSWORD, std::net::Ipv4Addr::LOCALHOST.into()).await.unwrap();
    let before = app.domain().password_stats().verifications;
    let r = c
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "leaving@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    problem(r, 422).await;
    assert_eq!(app.domain().password_stats().verifications - before, 1);
    app.stop().await;
}
