//! Changing one's own account from the account page (display name, email, password) and the
//! one-time password reset link an admin issues: over real HTTP, with CSRF tokens, the messages
//! next to their fields, and every other session signed out where the issue says so.

use mysetlist::domain::Role;
use reqwest::StatusCode;

use crate::helpers::*;

const PASSWORD: &str = "correct horse battery";

/// A browser signed in through the sign-in form (its own cookie jar).
async fn browser_signed_in(app: &TestApp, email: &str, password: &str) -> reqwest::Client {
    let c = app.client();
    let token = csrf(&c, &app.url("/login")).await;
    let r = c
        .post(app.url("/login"))
        .form(&[("csrf", token.as_str()), ("email", email), ("password", password), ("next", "/account")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "sign-in as {email} failed: {}", r.text().await.unwrap_or_default());
    c
}

async fn signed_in(c: &reqwest::Client, app: &TestApp) -> bool {
    c.get(app.url("/account")).send().await.unwrap().status() == StatusCode::OK
}

async fn post_form(c: &reqwest::Client, url: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    c.post(url).form(fields).send().await.unwrap()
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_signs_out_every_other_device() {
    let app = spawn_app().await;
    let user = app.user("changer@example.org", Role::User).await;
    let (laptop, phone) = (
        browser_signed_in(&app, "changer@example.org", PASSWORD).await,
        browser_signed_in(&app, "changer@example.org", PASSWORD).await,
    );
    let token = csrf(&laptop, &app.url("/account")).await;
    let url = app.url("/account/password");

    let r = post_form(
        &laptop,
        &url,
        &[("csrf", &token), ("current_password", "not my password"), ("new_password", "a brand new passphrase")],
    )
    .await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains(r#"id="password-current-error" class="field-error">Current password is wrong."#), "{body}");
    assert!(body.contains(r#"aria-describedby="password-current-error""#), "{body}");

    let r =
        post_form(&laptop, &url, &[("csrf", &token), ("current_password", PASSWORD), ("new_password", "password123")])
            .await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains(r#"id="password-new-error""#), "the policy's message sits next to the new password: {body}");
    assert!(signed_in(&phone, &app).await, "a refused change signs nobody out");

    let r = post_form(
        &laptop,
        &url,
        &[("csrf", &token), ("current_password", PASSWORD), ("new_password", "a brand new passphrase")],
    )
    .await;
    assert_eq!((r.status(), location(&r).as_str()), (StatusCode::SEE_OTHER, "/account?done=password#password"));
    let (_, page) = get_html(&laptop, &app.url("/account?done=password")).await;
    assert!(page.contains("Your password is changed. Every other device was signed out."), "{page}");
    assert!(!signed_in(&phone, &app).await, "the other device is signed out");
    assert_eq!(app.count("SELECT count(*) FROM sessions WHERE user_id = ?1", [user.id]), 1);

    let ip = std::net::Ipv4Addr::LOCALHOST.into();
    assert!(app.domain().authenticate("changer@example.org", PASSWORD, ip).await.is_err(), "old password");
    assert!(app.domain().authenticate("changer@example.org", "a brand new passphrase", ip).await.is_ok());
    app.stop().await;
}

#[tokio::test]
async fn the_profile_keeps_its_input_when_refused_and_an_email_change_needs_the_password() {
    let app = spawn_app().await;
    app.user("taken@example.org", Role::User).await;
    let user = app.user("profile@example.org", Role::User).await;
    let c = browser_signed_in(&app, "profile@example.org", PASSWORD).await;
    let token = csrf(&c, &app.url("/account")).await;
    let url = app.url("/account/profile");

    // A new display name needs no password.
    let r =
        post_form(&c, &url, &[("csrf", &token), ("display_name", "Night Owl"), ("email", "profile@example.org")]).await;
    assert_eq!((r.status(), location(&r).as_str()), (StatusCode::SEE_OTHER, "/account?done=profile#profile"));
    assert_eq!(app.domain().user(user.id).await.unwrap().unwrap().display_name, "Night Owl");
    let (_, page) = get_html(&c, &app.url("/account")).await;
    assert!(page.contains("Night Owl"), "the header and form show the new name at once");

    // A new email does; the input comes back with the message next to the field.
    let r =
        post_form(&c, &url, &[("csrf", &token), ("display_name", "Night Owl 2"), ("email", "new@example.org")]).await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains("Current password is needed to change your email address."), "{body}");
    assert!(
        body.contains(r#"value="Night Owl 2""#) && body.contains(r#"value="new@example.org""#),
        "input kept: {body}"
    );
    let r = post_form(
        &c,
        &url,
        &[
            ("csrf", &token),
            ("display_name", "Night Owl"),
            ("email", "taken@example.org"),
            ("current_password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Email is already used by another account."));
    let r = post_form(
        &c,
        &url,
        &[
            ("csrf", &token),
            ("display_name", "Night Owl"),
            ("email", "New@Example.org"),
            ("current_password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let ip = std::net::Ipv4Addr::LOCALHOST.into();
    assert!(app.domain().authenticate("new@example.org", PASSWORD, ip).await.is_ok(), "signs in with the new address");
    assert!(app.domain().authenticate("profile@example.org", PASSWORD, ip).await.is_err());

    // A stale form token changes nothing and says so.
    let r = post_form(&c, &url, &[("csrf", "stale"), ("display_name", "Mallory"), ("email", "new@example.org")]).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("This form had expired"));
    assert_eq!(app.domain().user(user.id).await.unwrap().unwrap().display_name, "Night Owl");
    app.stop().await;
}

#[tokio::test]
async fn an_admin_reset_link_works_once_signs_in_and_signs_out_everywhere_else() {
    let app = spawn_app().await;
    let fan = app.user("forgetful@example.org", Role::User).await;
    let old_device = browser_signed_in(&app, "forgetful@example.org", PASSWORD).await;
    let admin = browser_signed_in(&app, &app.user("boss@example.org", Role::Admin).await.email, PASSWORD).await;
    let moderator = app.session_client(&app.user("mod@example.org", Role::Moderator).await).await;

    // Only admins issue links.
    let r = post_form(&moderator, &app.url(&format!("/admin/users/{}/reset-link", fan.id)), &[("csrf", "x")]).await;
    assert_eq!(r.status(), 403);
    let token = csrf(&admin, &app.url("/admin/users")).await;
    let r = post_form(&admin, &app.url(&format!("/admin/users/{}/reset-link", fan.id)), &[("csrf", &token)]).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"].to_str().unwrap().contains("no-store"));
    let page = r.text().await.unwrap();
    let marker = format!("{}/reset/", app.base);
    let start = page.find(&marker).unwrap_or_else(|| panic!("no link on {page}"));
    let link = page[start..].split('"').next().unwrap().to_owned();
    assert_eq!(app.count("SELECT count(*) FROM audit_log WHERE action = 'user.reset_link'", []), 1);
    assert!(signed_in(&old_device, &app).await, "issuing a link changes nothing yet");

    // The link opens a form for that account, signed out, on another browser.
    let stranger = app.client();
    let (status, form) = get_html(&stranger, &link).await;
    assert_eq!(status, 200);
    assert!(form.contains("forgetful@example.org"), "{form}");
    let form_token = form_value(&form, "csrf").unwrap();
    let r = post_form(&stranger, &link, &[("csrf", &form_token), ("new_password", "short")]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains(r#"id="new_password-error""#));
    let r = post_form(&stranger, &link, &[("csrf", &form_token), ("new_password", "my fresh new passphrase")]).await;
    assert_eq!((r.status(), location(&r).as_str()), (StatusCode::SEE_OTHER, "/account?done=reset"));
    let (_, account) = get_html(&stranger, &app.url("/account?done=reset")).await;
    assert!(account.contains("Your new password is set, and you are signed in."), "{account}");
    assert!(!signed_in(&old_device, &app).await, "every earlier session ended");
    let ip = std::net::Ipv4Addr::LOCALHOST.into();
    assert!(app.domain().authenticate("forgetful@example.org", "my fresh new passphrase", ip).await.is_ok());

    // Once only.
    let (status, again) = get_html(&app.client(), &link).await;
    assert_eq!(status, 404);
    assert!(again.contains("This reset link has expired or was already used."), "{again}");
    // The stranger is signed in now: its form token is the session's.
    let signed_in_token = csrf(&stranger, &app.url("/account")).await;
    let r =
        post_form(&stranger, &link, &[("csrf", &signed_in_token), ("new_password", "another new passphrase")]).await;
    assert_eq!(r.status(), 404);
    assert!(app.domain().authenticate("forgetful@example.org", "another new passphrase", ip).await.is_err());
    assert_eq!(app.count("SELECT count(*) FROM password_resets", []), 0);
    app.stop().await;
}

#[tokio::test]
async fn a_reset_link_stops_working_after_a_day_or_a_password_change() {
    let app = spawn_app().await;
    let admin = app.user("admin2@example.org", Role::Admin).await;
    let fan = app.user("fan2@example.org", Role::User).await;
    let d = app.domain();
    let link = d.issue_reset_link(&admin, fan.id).await.unwrap();
    assert!(link.expires_at - d.now() <= mysetlist::domain::RESET_LINK_TTL_SECS);
    assert_eq!(d.reset_link_target(&link.token).await.unwrap().as_deref(), Some("fan2@example.org"));
    // A day later (moved in the database: the app's clock is the wall clock).
    let expired = app.db_write("UPDATE password_resets SET expires_at = ?1", [d.now()]);
    assert_eq!(expired, 1);
    assert_eq!(d.reset_link_target(&link.token).await.unwrap(), None);

    let link = d.issue_reset_link(&admin, fan.id).await.unwrap();
    let ip = std::net::Ipv4Addr::LOCALHOST.into();
    d.change_password(&fan, PASSWORD, "changed it myself meanwhile", None, ip).await.unwrap();
    assert_eq!(d.reset_link_target(&link.token).await.unwrap(), None, "a password change ends open links");
    assert!(d.issue_reset_link(&fan, admin.id).await.is_err(), "fans cannot issue links");
    app.stop().await;
}
