//! The server-rendered pages over real HTTP: content, 404s as HTML, forms with CSRF tokens and
//! Post/Redirect/Get, accounts, admin roles, and the show-page cache for signed-out visitors.

use mysetlist::domain::{CurrentUser, Role, SongInput, VenueInput, Voter};
use reqwest::{Response, StatusCode};

use crate::helpers::*;

/// Value of a Set-Cookie for `name` on a response, if any.
fn set_cookie(r: &Response, name: &str) -> Option<String> {
    r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let (k, rest) = c.split_once('=')?;
        (k == name).then(|| rest.split(';').next().unwrap_or_default().to_owned())
    })
}

/// The vote count shown in a ranking row.
fn shown_votes(html: &str, song_id: i64) -> Option<i64> {
    let row = html.find(&format!("id=\"song-{song_id}\""))?;
    let rest = &html[row..];
    let start = rest.find("class=\"n\">")? + "class=\"n\">".len();
    let end = rest[start..].find('<')? + start;
    rest[start..end].parse().ok()
}

async fn votes_in_db(app: &TestApp, show_id: i64, song_id: i64) -> i64 {
    let r = app.domain().ranking(show_id).await.unwrap();
    r.iter().find(|s| s.song_id == song_id).map(|s| s.votes + s.anon_votes).expect("song on the list")
}

#[tokio::test]
async fn public_pages_render_their_key_content() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 6).await;
    let show = app.domain().show_by_id(seeded.show_id).await.unwrap();
    let c = app.client();

    let (s, home) = get_html(&c, &app.url("/")).await;
    assert_eq!(s, 200);
    assert!(home.contains("Upcoming shows") && home.contains(&format!("/shows/{}", seeded.slug)));

    let (s, page) = get_html(&c, &app.url(&format!("/shows/{}", seeded.slug))).await;
    assert_eq!(s, 200);
    assert!(page.contains(&show.artist_name) && page.contains("Fans' prediction"));
    assert!(page.contains(&format!("data-live=\"/shows/{}/live\"", seeded.show_id)));
    assert!(page.contains("aria-live=\"polite\""), "the ranking announces changes");
    assert!(page.contains("Sign in</a> or"), "signed-out visitors are invited to sign in");
    assert!(!page.contains("class=\"vote\""), "no vote forms without an account");
    // The list is seeded with the artist's most popular studio songs.
    assert!(shown_votes(&page, seeded.song_ids[0]).is_some());

    let (s, artist) = get_html(&c, &app.url(&format!("/artists/{}", show.artist_slug))).await;
    assert_eq!(s, 200);
    assert!(artist.contains("Upcoming shows") && artist.contains("Song 5") && artist.contains(&seeded.slug));
    assert!(artist.contains("Sign in</a> to follow"));

    let (s, venue) = get_html(&c, &app.url(&format!("/venues/{}", show.venue_slug))).await;
    assert_eq!(s, 200);
    assert!(venue.contains(&show.venue_name) && venue.contains("Europe/Berlin") && venue.contains(&seeded.slug));

    let (s, found) = get_html(&c, &app.url(&format!("/search?q={}", show.artist_name.replace(' ', "+")))).await;
    assert_eq!(s, 200);
    assert!(found.contains("id=\"r-artists\"") && found.contains(&format!("/artists/{}", show.artist_slug)));
    let (_, songs) = get_html(&c, &app.url("/search?q=song")).await;
    assert!(songs.contains("id=\"r-songs\"") && !songs.contains("id=\"r-venues\""));
    let (s, empty) = get_html(&c, &app.url("/search")).await;
    assert_eq!(s, 200);
    assert!(empty.contains("Type a name"));
    let (s, none) = get_html(&c, &app.url("/search?q=zzzqqq")).await;
    assert_eq!(s, 200);
    assert!(none.contains("No results for"));
    let long = "a".repeat(201);
    let (s, refused) = get_html(&c, &app.url(&format!("/search?q={long}"))).await;
    assert_eq!(s, 400);
    assert!(refused.contains("at most 200 characters"));

    let (s, privacy) = get_html(&c, &app.url("/privacy")).await;
    assert_eq!(s, 200);
    for needle in ["id=\"accuracy\"", "id=\"trending\"", "argon2id", "/64", "30 days", "14 days", "90 days"] {
        assert!(privacy.contains(needle), "privacy page mentions {needle}");
    }
    for path in ["/login", "/signup"] {
        let (s, form) = get_html(&c, &app.url(path)).await;
        assert_eq!(s, 200);
        assert!(form.contains("name=\"csrf\"") && form.contains("<label for=\"email\">"));
    }
    app.stop().await;
}

#[tokio::test]
async fn unknown_slugs_are_html_404_pages() {
    let app = spawn_app().await;
    let c = app.client();
    for path in ["/shows/no-such-show", "/artists/no-such-artist", "/venues/no-such-venue"] {
        let (s, body) = get_html(&c, &app.url(path)).await;
        assert_eq!(s, 404, "{path}");
        assert!(body.contains("<h1>Not found</h1>"), "{path}");
    }
    app.stop().await;
}

/// Whether the vote button of `song_id` shows a vote of the visitor.
fn pressed(html: &str, song_id: i64) -> bool {
    let row = &html[html.find(&format!("id=\"song-{song_id}\"")).unwrap()..];
    row[..row.find("</li>").unwrap()].contains(r#"aria-pressed="true"><span class="label">Voted</span>"#)
}

#[tokio::test]
async fn signed_in_fans_share_one_render_yet_each_sees_their_own_name_token_and_votes() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 4).await;
    let page = app.url(&format!("/shows/{}", seeded.slug));
    let [s0, s1, s2, ..] = seeded.song_ids[..] else { panic!("four songs") };
    let (ann, ann_user) = app.signed_in("ann@example.org", Role::User).await;
    let (bob, bob_user) = app.signed_in("bob@example.org", Role::User).await;
    let (mod_c, _) = app.signed_in("mod@example.org", Role::Moderator).await;
    let vote = |c: &reqwest::Client, song: i64| {
        let (c, url) = (c.clone(), app.url(&format!("/api/v1/shows/{}/songs/{song}/vote", seeded.show_id)));
        async move { c.put(url).send().await.unwrap().status() }
    };
    assert_eq!(vote(&ann, s0).await, 200);
    // Bob's request renders the shared page of this generation; Ann's is filled from it.
    let (_, bob_html) = get_html(&bob, &page).await;
    let (_, ann_html) = get_html(&ann, &page).await;
    assert!(pressed(&ann_html, s0) && !pressed(&bob_html, s0), "each sees only their own vote");
    assert!(!pressed(&ann_html, s1) && !pressed(&bob_html, s1));
    assert!(ann_html.contains(&format!(">{}</a>", ann_user.display_name)), "Ann's name in Ann's page");
    assert!(!ann_html.contains(&format!(">{}</a>", bob_user.display_name)), "not Bob's");
    // The form token is the session's: the same one a fully rendered page (the account page) has.
    let ann_token = csrf(&ann, &app.url("/account")).await;
    assert_eq!(form_value(&ann_html, "csrf").as_deref(), Some(ann_token.as_str()));
    assert_ne!(form_value(&bob_html, "csrf").as_deref(), Some(ann_token.as_str()));
    assert!(!ann_html.contains('\u{1}') && !bob_html.contains('\u{1}'), "no marker is left in a page");
    // Staff see the admin link; the fans' pages (shared with each other) do not.
    let (_, mod_html) = get_html(&mod_c, &page).await;
    assert!(mod_html.contains(r#"<a href="/admin">Admin</a>"#));
    assert!(!ann_html.contains(r#"<a href="/admin">Admin</a>"#));
    // A vote is a new generation: Ann sees Bob's vote counted at once, and still only her own pressed.
    assert_eq!(vote(&bob, s2).await, 200);
    let (_, ann_html) = get_html(&ann, &page).await;
    assert_eq!(shown_votes(&ann_html, s2), Some(1));
    assert!(pressed(&ann_html, s0) && !pressed(&ann_html, s2));
    // A form submitted from the filled page is accepted (the token is real).
    let token = form_value(&ann_html, "csrf").unwrap();
    let r = ann
        .post(app.url(&format!("/shows/{}/vote", seeded.slug)))
        .form(&[("csrf", token), ("song_id", s1.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, ann_html) = get_html(&ann, &page).await;
    assert!(pressed(&ann_html, s1));
    app.stop().await;
}

#[tokio::test]
async fn form_vote_with_a_valid_token_toggles_and_redirects() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 6).await;
    let (c, _) = app.signed_in("voter@example.org", Role::User).await;
    let page = app.url(&format!("/shows/{}", seeded.slug));
    let song = seeded.song_ids[1];
    let token = csrf(&c, &page).await;

    let vote = |token: String| {
        let c = c.clone();
        let url = app.url(&format!("/shows/{}/vote", seeded.slug));
        async move { c.post(url).form(&[("csrf", token), ("song_id", song.to_string())]).send().await.unwrap() }
    };
    let r = vote(token.clone()).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/shows/{}#song-{song}", seeded.slug));
    assert_eq!(votes_in_db(&app, seeded.show_id, song).await, 1);
    let (_, html) = get_html(&c, &page).await;
    assert_eq!(shown_votes(&html, song), Some(1));
    let row = &html[html.find(&format!("id=\"song-{song}\"")).unwrap()..];
    let row = &row[..row.find("</li>").unwrap()];
    assert!(row.contains("aria-pressed=\"true\""), "the button shows my vote");
    // The count is inside the button (after the label, in its accessible name), the share bar is
    // relative to the song with the most votes (this one).
    let button = &row[row.find("<button").unwrap()..row.find("</button>").unwrap()];
    assert!(
        button.contains(r#"<span class="label">Voted</span>"#) && button.contains(r#"<span class="n">1</span>"#),
        "{button}"
    );
    assert!(row.contains(r#"<meter class="share" min="0" max="1" value="1" aria-hidden="true">"#), "{row}");
    let other = &html[html.find(&format!("id=\"song-{}\"", seeded.song_ids[0])).unwrap()..];
    assert!(other[..other.find("</li>").unwrap()].contains(r#"max="1" value="0""#), "an unvoted song's bar is empty");
    // Signed out: the count stands beside the title, with no button.
    let (_, anon) = get_html(&app.client(), &page).await;
    let anon_row = &anon[anon.find(&format!("id=\"song-{song}\"")).unwrap()..];
    let anon_row = &anon_row[..anon_row.find("</li>").unwrap()];
    assert!(
        !anon_row.contains("<button") && anon_row.contains(r#"<span class="votes"><span class="n">1</span>"#),
        "{anon_row}"
    );

    let r = vote(token).await;
    assert_eq!(r.status(), 303);
    assert_eq!(votes_in_db(&app, seeded.show_id, song).await, 0, "voting again takes the vote back");
    app.stop().await;
}

#[tokio::test]
async fn form_vote_without_or_with_a_wrong_token_is_refused() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 6).await;
    let (c, _) = app.signed_in("voter@example.org", Role::User).await;
    let song = seeded.song_ids[0];
    let url = app.url(&format!("/shows/{}/vote", seeded.slug));
    let missing = c.post(&url).form(&[("song_id", song.to_string())]).send().await.unwrap();
    assert_eq!(missing.status(), 403);
    assert!(missing.text().await.unwrap().contains("CSRF"));
    let wrong =
        c.post(&url).form(&[("csrf", "forged".to_owned()), ("song_id", song.to_string())]).send().await.unwrap();
    assert_eq!(wrong.status(), 403);
    assert_eq!(votes_in_db(&app, seeded.show_id, song).await, 0, "nothing changed");
    app.stop().await;
}

#[tokio::test]
async fn form_errors_show_the_page_again_with_a_4xx() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 8).await;
    let (c, _) = app.signed_in("fan@example.org", Role::User).await;
    let page = app.url(&format!("/shows/{}", seeded.slug));
    let token = csrf(&c, &page).await;
    // A song of the catalog that is not on the list yet can be added through the form...
    let extra = seeded.song_ids[7];
    let (_, html) = get_html(&c, &page).await;
    // A type-ahead field: the browser suggests the catalog's titles, the server finds the song.
    assert!(html.contains(r#"list="add-song-titles""#) && html.contains(r#"<option value="Song 7">"#), "{html}");
    let add = app.url(&format!("/shows/{}/songs", seeded.slug));
    let r = c.post(&add).form(&[("csrf", token.clone()), ("title", "song 7".into())]).send().await.unwrap();
    assert_eq!(
        (r.status(), location(&r)),
        (reqwest::StatusCode::SEE_OTHER, format!("/shows/{}#song-{extra}", seeded.slug))
    );
    let (_, html) = get_html(&c, &page).await;
    assert_eq!(shown_votes(&html, extra), Some(0));
    // A title that names no song, or several, comes back next to the field.
    for (typed, says) in
        [("Song", "songs match “Song”: “Song"), ("a song nobody wrote", "No song called “a song nobody wrote”")]
    {
        let r = c.post(&add).form(&[("csrf", token.clone()), ("title", typed.into())]).send().await.unwrap();
        assert_eq!(r.status(), 422);
        let body = r.text().await.unwrap();
        assert!(body.contains(r#"aria-describedby="add-song-error""#) && body.contains(says), "{typed}: {body}");
    }
    // The id still works (scripts and older pages).
    let by_id = seeded.song_ids[6];
    let r = c.post(&add).form(&[("csrf", token.clone()), ("song_id", by_id.to_string())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    // ...a song of another artist cannot: the show page comes back with the reason.
    let other = app.seed_show(chrono::Duration::days(5), 1).await;
    let r = c.post(&add).form(&[("csrf", token), ("song_id", other.song_ids[0].to_string())]).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains("role=\"alert\"") && body.contains("the song is not in this artist"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn sign_up_sign_in_and_sign_out_through_the_forms() {
    let app = spawn_app().await;
    let c = app.client();
    let token = csrf(&c, &app.url("/signup")).await;
    let r = c
        .post(app.url("/signup"))
        .form(&[
            ("csrf", token.as_str()),
            ("email", "new@example.org"),
            ("display_name", "New Fan"),
            ("password", "a long enough secret"),
            ("next", "/account"),
        ])
        .send()
        .await
        .unwrap();
    // Sign-up answers alike for new and taken addresses: to the sign-in form, keeping `next`.
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login?next=%2Faccount&signed_up=1");
    assert!(set_cookie(&r, "session").is_none(), "sign-up does not sign in");
    let (s, form) = get_html(&c, &app.url(&location(&r))).await;
    assert_eq!(s, 200);
    assert!(form.contains("sign in with it") && form.contains("value=\"/account\""), "{form}");
    let login = |token: String, password: &'static str, next: &'static str| {
        let c = c.clone();
        let url = app.url("/login");
        async move {
            c.post(url)
                .form(&[("csrf", token.as_str()), ("email", "new@example.org"), ("password", password), ("next", next)])
                .send()
                .await
                .unwrap()
        }
    };
    let token = csrf(&c, &app.url("/login")).await;
    let r = login(token, "a long enough secret", "/account").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account");
    let first = set_cookie(&r, "session").expect("session cookie set on sign-in");
    let (s, account) = get_html(&c, &app.url("/account")).await;
    assert_eq!(s, 200);
    assert!(account.contains("new@example.org") && account.contains("New Fan"));

    // Signing in again issues a new token; the old one stops working (no session fixation).
    let token = csrf(&c, &app.url("/login")).await;
    let r = login(token.clone(), "a long enough secret", "/").await;
    assert_eq!(r.status(), 303);
    let second = set_cookie(&r, "session").expect("new session cookie on sign-in");
    assert_ne!(first, second);
    let stale = app.client();
    let r = stale.get(app.url("/account")).header("cookie", format!("session={first}")).send().await.unwrap();
    assert_eq!(r.status(), 303, "the replaced session no longer signs anyone in");

    // Sign out: the cookie is cleared and the account page asks to sign in.
    let token = csrf(&c, &app.url("/account")).await;
    let r = c.post(app.url("/logout")).form(&[("csrf", token)]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(set_cookie(&r, "session").as_deref(), Some(""));
    let r = c.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login?next=%2Faccount");

    // A wrong password shows the form again with the message.
    let token = csrf(&c, &app.url("/login")).await;
    let r = login(token, "not the password", "/").await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains("Email or password is wrong.") && body.contains("value=\"new@example.org\""));
    assert!(body.contains("aria-describedby=\"password-error\""), "the message sits by the password field");
    app.stop().await;
}

#[tokio::test]
async fn a_refused_sign_up_keeps_the_input_and_says_what_is_wrong_next_to_the_field() {
    let app = spawn_app().await;
    let c = app.client();
    let token = csrf(&c, &app.url("/signup")).await;
    let signup = |token: String, password: &'static str| {
        c.post(app.url("/signup"))
            .form(&[
                ("csrf", token.as_str()),
                ("email", "kept@example.org"),
                ("display_name", "Kept Name"),
                ("password", password),
            ])
            .send()
    };
    let r = signup(token.clone(), "short").await.unwrap();
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains("value=\"kept@example.org\"") && body.contains("value=\"Kept Name\""), "{body}");
    assert!(body.contains("aria-invalid=\"true\" aria-describedby=\"password-error\""), "{body}");
    assert!(body.contains("<p id=\"password-error\" class=\"field-error\">Password "), "{body}");
    // An expired form (its token no longer matches) says so and keeps the input too.
    let r = signup("an-old-token".into(), "a long enough secret").await.unwrap();
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    assert!(body.contains("This form had expired, so nothing was sent"), "{body}");
    assert!(body.contains("value=\"kept@example.org\"") && body.contains("value=\"Kept Name\""), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM users", []), 0);
    app.stop().await;
}

#[tokio::test]
async fn follow_and_unfollow_an_artist() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 3).await;
    let (c, user) = app.signed_in("follower@example.org", Role::User).await;
    let artist = app.domain().artist_by_id(seeded.artist_id).await.unwrap();
    let page = app.url(&format!("/artists/{}", artist.slug));
    let url = app.url(&format!("/artists/{}/follow", artist.slug));
    let token = csrf(&c, &page).await;
    let r = c.post(&url).form(&[("csrf", token.as_str()), ("follow", "1")]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let follows = "SELECT count(*) FROM follows WHERE user_id = ?1";
    assert_eq!(app.count(follows, [user.id]), 1);
    let (_, html) = get_html(&c, &page).await;
    assert!(html.contains("Following"));
    let (_, account) = get_html(&c, &app.url("/account")).await;
    assert!(account.contains(&format!("/artists/{}", artist.slug)));
    let r = c.post(&url).form(&[("csrf", token.as_str()), ("follow", "0")]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(app.count(follows, [user.id]), 0);
    let (_, account) = get_html(&c, &app.url("/account")).await;
    assert!(!account.contains(&format!("/artists/{}", artist.slug)));
    app.stop().await;
}

#[tokio::test]
async fn account_export_sign_out_everywhere_and_delete() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 4).await;
    let (c, user) = app.signed_in("leaving@example.org", Role::User).await;
    let fan = Voter::User(user.clone());
    app.domain().toggle_vote(&fan, seeded.show_id, seeded.song_ids[0]).await.unwrap();

    let (s, account) = get_html(&c, &app.url("/account")).await;
    assert_eq!(s, 200);
    assert!(account.contains("href=\"/api/v1/me/export\""));
    let export: serde_json::Value = c.get(app.url("/api/v1/me/export")).send().await.unwrap().json().await.unwrap();
    assert_eq!(export["account"]["email"], "leaving@example.org");
    assert_eq!(export["votes"].as_array().unwrap().len(), 1);

    // Sign out everywhere ends a second device's session too.
    let (other, _) = {
        let o = app.client();
        let r = o
            .post(app.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"email": "leaving@example.org", "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        (o, ())
    };
    let token = csrf(&c, &app.url("/account")).await;
    let r = c.post(app.url("/account/logout-all")).form(&[("csrf", token)]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(other.get(app.url("/account")).send().await.unwrap().status(), 303);
    assert_eq!(c.get(app.url("/account")).send().await.unwrap().status(), 303);

    // Delete: a wrong password is shown on the page; the right one erases the account.
    let (c, _) = {
        let c = app.client();
        let r = c
            .post(app.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"email": "leaving@example.org", "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        (c, ())
    };
    let token = csrf(&c, &app.url("/account")).await;
    let r = c
        .post(app.url("/account/delete"))
        .form(&[("csrf", token.as_str()), ("password", "wrong password!")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Password is wrong.") && body.contains(r#"aria-describedby="delete-password-error""#),
        "{body}"
    );
    assert!(app.domain().user(user.id).await.unwrap().is_some(), "nothing deleted yet");
    let r = c
        .post(app.url("/account/delete"))
        .form(&[("csrf", token.as_str()), ("password", "correct horse battery")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account/deleted");
    assert!(app.domain().user(user.id).await.unwrap().is_none());
    assert!(
        app.domain()
            .authenticate("leaving@example.org", "correct horse battery", std::net::Ipv4Addr::LOCALHOST.into())
            .await
            .is_err()
    );
    // The vote stays as an anonymous count.
    assert_eq!(votes_in_db(&app, seeded.show_id, seeded.song_ids[0]).await, 1);
    let (s, _) = get_html(&c, &app.url("/account/deleted")).await;
    assert_eq!(s, 200);
    app.stop().await;
}

#[tokio::test]
async fn admin_pages_enforce_roles() {
    let app = spawn_app().await;
    let c = app.client();
    let r = c.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login?next=%2Fadmin");

    let (user, _) = app.signed_in("user@example.org", Role::User).await;
    for path in ["/admin", "/admin/artists", "/admin/users"] {
        let (s, body) = get_html(&user, &app.url(path)).await;
        assert_eq!(s, 403, "{path}");
        assert!(body.contains("Not allowed"));
    }
    let (moderator, _) = app.signed_in("mod@example.org", Role::Moderator).await;
    for path in ["/admin", "/admin/artists", "/admin/venues", "/admin/shows"] {
        assert_eq!(get_html(&moderator, &app.url(path)).await.0, 200, "{path}");
    }
    for path in ["/admin/users", "/admin/audit"] {
        assert_eq!(get_html(&moderator, &app.url(path)).await.0, 403, "{path} is for admins");
    }
    app.stop().await;
}

#[tokio::test]
async fn moderator_creates_an_artist_through_the_form() {
    let app = spawn_app().await;
    let (moderator, _) = app.signed_in("mod@example.org", Role::Moderator).await;
    let token = csrf(&moderator, &app.url("/admin/artists")).await;
    let r = moderator
        .post(app.url("/admin/artists"))
        .form(&[("csrf", token.as_str()), ("name", "Form Made Band"), ("genres", "post-rock")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let edit = location(&r);
    assert!(edit.starts_with("/admin/artists/") && edit.ends_with("?done=created"), "{edit}");
    let (s, page) = get_html(&moderator, &app.url(&edit)).await;
    assert_eq!(s, 200);
    assert!(page.contains("Created.") && page.contains("value=\"Form Made Band\""));
    let (s, public) = get_html(&app.client(), &app.url("/artists/form-made-band")).await;
    assert_eq!(s, 200);
    assert!(public.contains("post-rock"));

    // Refused input: the form comes back with the message and what was typed.
    let r = moderator
        .post(app.url("/admin/artists"))
        .form(&[("csrf", token.as_str()), ("name", "  "), ("genres", "kept")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains("name: must not be empty") && body.contains("value=\"kept\""));
    // Without the token nothing is created.
    let r = moderator.post(app.url("/admin/artists")).form(&[("name", "Sneaky")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.domain().artists(100, 0).await.unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn moderator_enters_the_actual_setlist_and_the_show_page_compares() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(1), 6).await;
    // Fans vote songs 0, 1 and 3 while voting is open; then the show moves into the past.
    for (i, song) in [0, 1, 3].into_iter().enumerate() {
        let fan = app.user(&format!("voter{i}@example.org"), Role::User).await;
        app.domain().toggle_vote(&Voter::User(fan), seeded.show_id, seeded.song_ids[song]).await.unwrap();
    }
    move_into_the_past(&app, &seeded).await;
    let (moderator, _) = app.signed_in("mod@example.org", Role::Moderator).await;
    let admin_page = app.url(&format!("/admin/shows/{}", seeded.show_id));
    let token = csrf(&moderator, &admin_page).await;
    let setlist = "tape: Intro\nSong 0\nSong 3 | acoustic\nStrange Cover | cover: Someone Else\n* Song 1\n";
    let r = moderator
        .post(app.url(&format!("/admin/shows/{}/setlist", seeded.show_id)))
        .form(&[("csrf", token.as_str()), ("setlist", setlist)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, edit) = get_html(&moderator, &admin_page).await;
    assert!(edit.contains("tape: Intro\nSong 0\nSong 3 | acoustic"), "the textarea shows what is stored");

    let (s, page) = get_html(&app.client(), &app.url(&format!("/shows/{}", seeded.slug))).await;
    assert_eq!(s, 200);
    assert!(page.contains("What they played") && page.contains("The show is over — here's how the fans did."));
    assert!(page.contains("<h3>Main set</h3>") && page.contains("<h3>Encore</h3>"));
    assert!(page.contains("<span class=\"tag\">tape</span> Intro"));
    assert!(page.contains("(Someone Else cover)") && page.contains("acoustic"));
    assert!(page.contains("href=\"/privacy#accuracy\""));
    // Voted: songs 0, 1, 3 (the top 3 of 4 performed); played 0, 3, 1 and a cover: 3 of 4.
    let accuracy = app.domain().show_by_id(seeded.show_id).await.unwrap().accuracy.unwrap();
    assert_eq!(accuracy, 75.0);
    assert!(page.contains(&format!("<strong>{accuracy}%</strong>")), "accuracy {accuracy} shown");
    assert!(page.contains("✓ predicted") && page.contains("✓ played"));
    assert!(page.contains("<dl class=\"legend\""), "a legend explains the markers");
    app.stop().await;
}

/// Moves a seeded show's start three hours into the past (its status stays upcoming).
async fn move_into_the_past(app: &TestApp, seeded: &Seeded) {
    let system = CurrentUser { id: 0, email: "system".into(), display_name: "system".into(), role: Role::Admin };
    let input = mysetlist::domain::ShowInput {
        artist_id: seeded.artist_id,
        venue_id: seeded.venue_id,
        starts_at: (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339(),
        ..Default::default()
    };
    app.domain().update_show(&system, seeded.show_id, input).await.unwrap();
}

#[tokio::test]
async fn a_show_nobody_voted_on_has_no_accuracy() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::hours(-3), 6).await;
    let system = CurrentUser { id: 0, email: "system".into(), display_name: "system".into(), role: Role::Admin };
    let entries = ["Song 0", "Song 1", "Song 2"]
        .map(|t| mysetlist::domain::ActualEntryInput { title: t.into(), ..Default::default() })
        .to_vec();
    app.domain().set_actual_setlist(&system, seeded.show_id, entries).await.unwrap();
    assert_eq!(app.domain().show_by_id(seeded.show_id).await.unwrap().accuracy, None);
    let (s, page) = get_html(&app.client(), &app.url(&format!("/shows/{}", seeded.slug))).await;
    assert_eq!(s, 200);
    assert!(!page.contains("% predicted") && !page.contains("<strong>0%"), "no score without votes");
    assert!(page.contains("Nobody voted on this show, so there is no prediction to score."));
    assert!(!page.contains("class=\"hit\""), "no song was predicted");
    app.stop().await;
}

#[tokio::test]
async fn show_pages_and_cards_count_down_to_the_close_of_voting() {
    let app = spawn_app().await;
    let seeded =
        app.seed_show(chrono::Duration::days(2) + chrono::Duration::hours(4) + chrono::Duration::minutes(30), 3).await;
    let (s, page) = get_html(&app.client(), &app.url(&format!("/shows/{}", seeded.slug))).await;
    assert_eq!(s, 200);
    assert!(page.contains(">Voting closes in 2 d 4 h</span>"), "{page}");
    let (_, home) = get_html(&app.client(), &app.url("/")).await;
    assert!(home.contains(">Voting closes in 2 d 4 h</span>"), "the card counts down too");
    // Once it has started, the page says voting has closed (no script needed).
    move_into_the_past(&app, &seeded).await;
    let (_, page) = get_html(&app.client(), &app.url(&format!("/shows/{}", seeded.slug))).await;
    assert!(page.contains("Voting has closed — the setlist will appear here."));
    assert!(!page.contains("Voting closes in") && !page.contains("class=\"vote\""));
    app.stop().await;
}

#[tokio::test]
async fn admin_bans_a_user_through_the_form() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in("admin@example.org", Role::Admin).await;
    let (victim, user) = app.signed_in("troll@example.org", Role::User).await;
    let token = csrf(&admin, &app.url("/admin/users")).await;
    let (_, list) = get_html(&admin, &app.url("/admin/users")).await;
    assert!(list.contains("troll@example.org"));
    // Ban asks first: the list links to a confirmation page that names whom; a ban posted without
    // the confirmation shows that page and changes nothing.
    let confirm_url = format!("/admin/users/{}/ban", user.id);
    assert!(list.contains(&format!("href=\"{confirm_url}\"")), "{list}");
    let (s, confirm) = get_html(&admin, &app.url(&confirm_url)).await;
    assert_eq!(s, 200);
    assert!(confirm.contains("Ban troll@example.org") && confirm.contains("signed out everywhere"), "{confirm}");
    let r = admin.post(app.url(&confirm_url)).form(&[("csrf", token.as_str()), ("banned", "1")]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains(r#"name="confirm" value="yes""#));
    assert!(app.domain().user(user.id).await.unwrap().is_some(), "not banned without confirmation");
    let r = admin
        .post(app.url(&confirm_url))
        .form(&[("csrf", token.as_str()), ("banned", "1"), ("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(app.domain().user(user.id).await.unwrap().is_none(), "a banned user is no longer a current user");
    assert_eq!(victim.get(app.url("/account")).send().await.unwrap().status(), 303, "their session ended");
    let (_, list) = get_html(&admin, &app.url("/admin/users?done=banned")).await;
    assert!(list.contains("User banned") && list.contains("<strong>Banned</strong>"));
    // The audit log page shows the ban.
    let (s, audit) = get_html(&admin, &app.url("/admin/audit")).await;
    assert_eq!(s, 200);
    assert!(audit.contains("user.ban") && audit.contains("admin@example.org"));
    // Unban through the same form.
    let r = admin
        .post(app.url(&format!("/admin/users/{}/ban", user.id)))
        .form(&[("csrf", token.as_str()), ("banned", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(app.domain().user(user.id).await.unwrap().is_some());
    app.stop().await;
}

#[tokio::test]
async fn signed_out_show_page_is_cached_until_a_vote_changes_it() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 6).await;
    let page = app.url(&format!("/shows/{}", seeded.slug));
    let song = seeded.song_ids[2];
    let anon = app.client();
    let (_, before) = get_html(&anon, &page).await;
    assert_eq!(shown_votes(&before, song), Some(0));
    // Keyed by (show, generation, minutes left to vote): any minute counts here.
    let cached = |app: &TestApp| {
        let generation = app.domain().ranking_generation(seeded.show_id);
        app.state.page_cache.iter().any(|(k, _)| k.0 == seeded.show_id && k.1 == generation && k.2.is_some())
    };
    assert!(cached(&app), "the signed-out page is cached");
    let r = anon.get(&page).send().await.unwrap();
    assert!(r.headers().get("set-cookie").is_none(), "a cached page sets no cookie");
    assert_eq!(r.text().await.unwrap(), before, "served from the cache");

    let (fan, _) = app.signed_in("fan@example.org", Role::User).await;
    let r = fan.post(app.url(&format!("/api/v1/shows/{}/songs/{song}/vote", seeded.show_id))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!cached(&app), "the vote moved the generation on");
    let (_, after) = get_html(&anon, &page).await;
    assert_eq!(shown_votes(&after, song), Some(1), "the next signed-out visitor sees the vote");
    // Signed-in visitors never get the shared page: theirs carries their own forms.
    let (_, mine) = get_html(&fan, &page).await;
    assert!(mine.contains("class=\"vote\""));
    app.stop().await;
}

#[tokio::test]
async fn cached_show_pages_follow_edits_of_venues_songs_and_the_show() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 3).await;
    let admin = CurrentUser { id: 0, email: "system".into(), display_name: "system".into(), role: Role::Admin };
    let d = app.domain();
    let page = app.url(&format!("/shows/{}", seeded.slug));
    let anon = app.client();
    let (_, before) = get_html(&anon, &page).await;
    assert!(before.contains("Song 1") && !before.contains("Renamed Hall"));
    let (_, again) = get_html(&anon, &page).await;
    assert_eq!(again, before, "served from the cache");

    let venue = VenueInput {
        name: "Renamed Hall".into(),
        city: "Berlin".into(),
        country: "DE".into(),
        timezone: "Europe/Berlin".into(),
        ..Default::default()
    };
    d.update_venue(&admin, seeded.venue_id, venue).await.unwrap();
    let (_, after) = get_html(&anon, &page).await;
    assert!(after.contains("Renamed Hall"), "a venue rename retires the cached page");

    let song = SongInput { title: "Retitled Song".into(), ..Default::default() };
    d.update_song(&admin, seeded.song_ids[1], song).await.unwrap();
    let (_, after) = get_html(&anon, &page).await;
    assert!(after.contains("Retitled Song") && !after.contains("Song 1<"), "a song edit retires it too");
    let ranking: serde_json::Value = anon
        .get(app.url(&format!("/api/v1/shows/{}/ranking", seeded.show_id)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(ranking.as_array().unwrap().iter().any(|s| s["title"] == "Retitled Song"), "{ranking}");

    d.delete_show(&admin, seeded.show_id).await.unwrap();
    let (status, _) = get_html(&anon, &page).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a deleted show's cached page is never served");
    let r = anon.get(app.url(&format!("/api/v1/shows/{}/ranking", seeded.show_id))).send().await.unwrap();
    assert_eq!(r.status(), 404, "nor its cached ranking");
    app.stop().await;
}

#[tokio::test]
async fn api_reference_page_lists_every_operation_under_the_strict_policy() {
    let app = spawn_app().await;
    let c = app.client();
    let spec: serde_json::Value = c.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let r = c.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self';") && !csp.contains("unsafe-inline"), "{csp}");
    let page = r.text().await.unwrap();
    let mut operations = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let shown = format!("<code>{} {}</code>", method.to_ascii_uppercase(), path);
            assert!(page.contains(&shown), "{shown} is missing from /api/docs");
            operations += 1;
        }
    }
    assert!(operations > 20, "the spec lists the whole API ({operations} operations)");
    assert!(page.contains("<h1>MySetlist API <small>") && !page.contains("API API"), "the heading says API once");
    // An example request per operation, and one that works as given: the sign-up example's body.
    assert_eq!(page.matches(r#"<pre class="example">"#).count(), operations);
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#34;", "\"")
            .replace("&#x27;", "'")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let section = &page[page.find("<code>POST /api/v1/auth/signup</code>").unwrap()..];
    let example = unescape(
        &section[section.find(r#"<pre class="example"><code>"#).unwrap()..section.find("</code></pre>").unwrap()],
    );
    assert!(
        example.contains("curl -X POST \"$BASE/api/v1/auth/signup\"") && example.contains("Origin: $BASE"),
        "{example}"
    );
    let body = example.rsplit("-d '").next().unwrap().trim_end_matches('\'');
    let body: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {example}"));
    let r = c.post(app.url("/api/v1/auth/signup")).header("origin", &app.base).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 202, "the example body is accepted: {body}");
    app.stop().await;
}

#[tokio::test]
async fn browsers_get_an_html_not_found_page_with_a_search_and_json_clients_keep_problem_json() {
    let app = spawn_app().await;
    let c = app.client();
    let browser = |method: reqwest::Method, path: &str| {
        c.request(method, app.url(path)).header("accept", "text/html,application/xhtml+xml,*/*;q=0.8").send()
    };
    for (method, path, status, heading) in [
        (reqwest::Method::GET, "/no-such-page", 404, "Page not found"),
        (reqwest::Method::GET, "/shows/no-such-show", 404, "Not found"),
        (reqwest::Method::PUT, "/", 405, "This page cannot do that"),
    ] {
        let r = browser(method, path).await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("text/html"), "{path}: {content_type}");
        let page = r.text().await.unwrap();
        assert!(page.contains(&format!("<h1>{heading}</h1>")), "{path}: {page}");
        assert!(page.contains("action=\"/search\""), "{path} offers a search");
    }
    // JSON clients, and anything under /api/, keep problem+json.
    problem(c.get(app.url("/no-such-page")).header("accept", "application/json").send().await.unwrap(), 404).await;
    problem(c.get(app.url("/no-such-page")).send().await.unwrap(), 404).await;
    problem(browser(reqwest::Method::GET, "/api/v1/no-such-thing").await.unwrap(), 404).await;
    app.stop().await;
}

#[tokio::test]
async fn the_home_page_lists_a_trending_show_once() {
    let app = spawn_app().await;
    let hot = app.seed_show(chrono::Duration::days(3), 3).await;
    let quiet = app.seed_show(chrono::Duration::days(4), 3).await;
    let fan = app.user("hot@example.org", Role::User).await;
    app.domain().toggle_vote(&Voter::User(fan), hot.show_id, hot.song_ids[0]).await.unwrap();
    let (_, home) = get_html(&app.client(), &app.url("/")).await;
    let trending = home.find("id=\"trending\"").expect("a Trending section");
    let upcoming = home.find("id=\"upcoming\"").expect("an Upcoming section");
    assert!(trending < upcoming);
    let link = |slug: &str| format!("href=\"/shows/{slug}\"");
    assert_eq!(home.matches(&link(&hot.slug)).count(), 1, "the trending show is not repeated under Upcoming");
    assert!(home[trending..upcoming].contains(&link(&hot.slug)));
    assert!(home[upcoming..].contains(&link(&quiet.slug)));
    app.stop().await;
}

#[tokio::test]
async fn my_votes_are_on_the_show_and_the_account_page_with_how_many_i_called() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(1), 5).await;
    let fan = app.user("picker@example.org", Role::User).await;
    for song in [0, 2] {
        app.domain().toggle_vote(&Voter::User(fan.clone()), seeded.show_id, seeded.song_ids[song]).await.unwrap();
    }
    let c = app.session_client(&fan).await;
    let (_, account) = get_html(&c, &app.url("/account")).await;
    assert!(account.contains(&format!("href=\"/shows/{}\"", seeded.slug)), "{account}");
    assert!(account.contains("Your picks: Song 0, Song 2"), "{account}");
    assert!(!account.contains("You called"), "not before the setlist is in");

    move_into_the_past(&app, &seeded).await;
    let system = CurrentUser { id: 0, email: "system".into(), display_name: "system".into(), role: Role::Admin };
    let entries = ["Song 0", "Song 1", "Song 3"]
        .map(|t| mysetlist::domain::ActualEntryInput { title: t.into(), ..Default::default() })
        .to_vec();
    app.domain().set_actual_setlist(&system, seeded.show_id, entries).await.unwrap();
    let (_, show) = get_html(&c, &app.url(&format!("/shows/{}", seeded.slug))).await;
    assert!(show.contains("Your picks: Song 0, Song 2. <strong>You called 1 of 2.</strong>"), "{show}");
    let (_, account) = get_html(&c, &app.url("/account")).await;
    assert!(account.contains("Song 0 ✓, Song 2") && account.contains("You called 1 of 2."), "{account}");
    app.stop().await;
}

#[tokio::test]
async fn the_home_page_leads_with_a_fans_artists_and_the_shows_they_voted_on() {
    let app = spawn_app().await;
    let followed = app.seed_show(chrono::Duration::days(4), 3).await;
    let voted = app.seed_show(chrono::Duration::days(6), 3).await;
    let elsewhere = app.seed_show(chrono::Duration::days(8), 3).await;
    let (c, fan) = app.signed_in("home@example.org", Role::User).await;
    let d = app.domain();
    d.set_follow(fan.id, followed.artist_id, true).await.unwrap();
    let voter = Voter::User(fan.clone());
    d.vote(&voter, voted.show_id, voted.song_ids[0], mysetlist::domain::VoteAction::Set).await.unwrap();

    let (_, home) = get_html(&c, &app.url("/")).await;
    let section = |id: &str| {
        let start =
            home.find(&format!("aria-labelledby=\"{id}\"")).unwrap_or_else(|| panic!("no {id} section: {home}"));
        home[start..start + home[start..].find("</section>").unwrap()].to_owned()
    };
    let (mine, picks) = (section("followed"), section("voted"));
    assert!(mine.contains(&followed.slug) && !mine.contains(&elsewhere.slug), "{mine}");
    assert!(picks.contains(&voted.slug) && !picks.contains(&elsewhere.slug), "{picks}");
    assert!(home.find("id=\"followed\"").unwrap() < home.find("id=\"upcoming\"").unwrap(), "it leads");
    // Signed out: neither section.
    let (_, anon) = get_html(&app.client(), &app.url("/")).await;
    assert!(!anon.contains("id=\"followed\"") && !anon.contains("id=\"voted\""));
    app.stop().await;
}

#[tokio::test]
async fn the_admin_dashboard_lists_shows_that_ended_without_a_setlist() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in("todo@example.org", Role::Admin).await;
    let (_, calm) = get_html(&admin, &app.url("/admin")).await;
    assert!(calm.contains("Nothing: every show that ended has its setlist"), "{calm}");
    let ended = app.seed_show(chrono::Duration::hours(-6), 3).await;
    let running = app.seed_show(chrono::Duration::hours(-1), 3).await;
    let (_, todo) = get_html(&admin, &app.url("/admin")).await;
    assert!(todo.contains("1 show ended without a setlist"), "{todo}");
    assert!(todo.contains(&ended.slug) && !todo.contains(&running.slug), "a show still on is not over: {todo}");
    // The status pages carry the admin navigation too.
    for path in ["/admin/status", "/admin/status/technical"] {
        let (_, page) = get_html(&admin, &app.url(path)).await;
        assert!(page.contains(r#"<nav class="subnav" aria-label="Admin">"#), "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn creating_an_artist_or_venue_that_exists_warns_first() {
    let app = spawn_app().await;
    let (moderator, _) = app.signed_in("dupes@example.org", Role::Moderator).await;
    let token = csrf(&moderator, &app.url("/admin/artists")).await;
    let post = |path: &'static str, fields: Vec<(&'static str, &'static str)>| {
        let (c, url, token) = (moderator.clone(), app.url(path), token.clone());
        async move {
            let mut form = vec![("csrf", token.as_str().to_owned())];
            form.extend(fields.into_iter().map(|(k, v)| (k, v.to_owned())));
            c.post(url).form(&form).send().await.unwrap()
        }
    };
    assert_eq!(post("/admin/artists", vec![("name", "Echo Valley")]).await.status(), 303);
    let r = post("/admin/artists", vec![("name", "  echo valley "), ("genres", "kept")]).await;
    assert_eq!(r.status(), 409);
    let body = r.text().await.unwrap();
    assert!(body.contains("an artist named “Echo Valley” exists already (/artists/echo-valley)"), "{body}");
    assert!(body.contains(r#"name="create_anyway""#) && body.contains(r#"value="kept""#), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM artists", []), 1, "nothing created on the warning");
    let r = post("/admin/artists", vec![("name", "Echo Valley"), ("create_anyway", "1")]).await;
    assert_eq!(r.status(), 303, "a different artist of the same name, on purpose");
    assert_eq!(app.count("SELECT count(*) FROM artists", []), 2);

    let venue = vec![("name", "Docks"), ("city", "Hamburg"), ("country", "DE"), ("timezone", "Europe/Berlin")];
    assert_eq!(post("/admin/venues", venue.clone()).await.status(), 303);
    let r = post("/admin/venues", venue.clone()).await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("a venue named “Docks” in Hamburg exists already"));
    let elsewhere = vec![("name", "Docks"), ("city", "Bremen"), ("country", "DE"), ("timezone", "Europe/Berlin")];
    assert_eq!(post("/admin/venues", elsewhere).await.status(), 303, "the same name in another city is no duplicate");
    app.stop().await;
}

#[tokio::test]
async fn an_artist_page_shows_what_was_played_lately_and_what_fans_want() {
    let app = spawn_app().await;
    let admin = CurrentUser { id: 0, email: "system".into(), display_name: "system".into(), role: Role::Admin };
    let d = app.domain();
    let first = app.seed_show(chrono::Duration::days(-9), 4).await;
    let show_at = |days: i64| mysetlist::domain::ShowInput {
        artist_id: first.artist_id,
        venue_id: first.venue_id,
        starts_at: (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339(),
        ..Default::default()
    };
    let second = d.create_show(&admin, show_at(-2)).await.unwrap();
    let upcoming = d.create_show(&admin, show_at(5)).await.unwrap();
    let entry = |song: usize| mysetlist::domain::ActualEntryInput {
        title: format!("Song {song}"),
        song_id: Some(first.song_ids[song]),
        ..Default::default()
    };
    d.set_actual_setlist(&admin, first.show_id, vec![entry(0), entry(1)]).await.unwrap();
    d.set_actual_setlist(&admin, second, vec![entry(0)]).await.unwrap();
    let fan = app.user("wants@example.org", Role::User).await;
    d.vote(&Voter::User(fan), upcoming, first.song_ids[2], mysetlist::domain::VoteAction::Set).await.unwrap();

    let slug = d.show_by_id(first.show_id).await.unwrap().artist_slug;
    let (_, page) = get_html(&app.client(), &app.url(&format!("/artists/{slug}"))).await;
    assert!(page.contains("Song 0 <span class=\"muted\">played at 2 of the last 2 shows"), "{page}");
    assert!(page.contains("Song 1 <span class=\"muted\">played at 1 of the last 2 shows"), "{page}");
    assert!(page.contains("Song 2 <span class=\"muted\">1 vote for the coming shows"), "{page}");
    app.stop().await;
}
