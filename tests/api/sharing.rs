//! Sharing and calendars: ticket links, link previews (Open Graph), a show's `.ics`, and the secret
//! calendar feed of a user's followed artists.

use mysetlist::domain::Role;
use serde_json::json;

use crate::helpers::*;

fn show_body(artist_id: i64, venue_id: i64, ticket_url: Option<&str>) -> serde_json::Value {
    let mut b = json!({"artist_id": artist_id, "venue_id": venue_id, "starts_at": "2031-06-01T20:00:00Z"});
    if let Some(t) = ticket_url {
        b["ticket_url"] = json!(t);
    }
    b
}

#[tokio::test]
async fn a_ticket_link_must_be_http_or_https_and_shows_on_the_page_and_in_the_json() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 2).await;
    let (m, _) = app.signed_in("mod@example.org", Role::Moderator).await;
    let (a, v) = (seeded.artist_id, seeded.venue_id);

    for bad in ["javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://tickets.example/x"] {
        let r = m.post(app.url("/api/v1/shows")).json(&show_body(a, v, Some(bad))).send().await.unwrap();
        let p = problem(r, 422).await;
        assert_eq!(p["field"], "ticket_url", "{bad}: {p}");
        let url = app.url(&format!("/api/v1/shows/{}", seeded.show_id));
        let p = problem(m.put(&url).json(&show_body(a, v, Some(bad))).send().await.unwrap(), 422).await;
        assert_eq!(p["field"], "ticket_url", "{bad}: {p}");
    }
    assert_eq!(app.count("SELECT count(*) FROM shows WHERE ticket_url IS NOT NULL", []), 0);

    let link = "https://tickets.example/buy?show=1&seat=\"a\"";
    let id =
        ok_json(m.post(app.url("/api/v1/shows")).json(&show_body(a, v, Some(link))).send().await.unwrap()).await["id"]
            .as_i64()
            .unwrap();
    let show = ok_json(app.client().get(app.url(&format!("/api/v1/shows/{id}"))).send().await.unwrap()).await;
    assert_eq!(show["show"]["ticket_url"], link);
    let slug = show["show"]["slug"].as_str().unwrap().to_owned();
    let (status, html) = get_html(&app.client(), &app.url(&format!("/shows/{slug}"))).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(
            r#"<a href="https://tickets.example/buy?show=1&#38;seat=&#34;a&#34;" rel="noopener">Tickets</a>"#
        ),
        "{html}"
    );

    // An update without the link keeps it; an empty one removes it.
    let url = app.url(&format!("/api/v1/shows/{id}"));
    no_content(m.put(&url).json(&show_body(a, v, None)).send().await.unwrap()).await;
    assert_eq!(ok_json(app.client().get(&url).send().await.unwrap()).await["show"]["ticket_url"], link);
    no_content(m.put(&url).json(&show_body(a, v, Some(""))).send().await.unwrap()).await;
    assert!(ok_json(app.client().get(&url).send().await.unwrap()).await["show"]["ticket_url"].is_null());
    let (_, html) = get_html(&app.client(), &app.url(&format!("/shows/{slug}"))).await;
    assert!(!html.contains(">Tickets</a>"));
    app.stop().await;
}

/// The calendar lines with folding undone (RFC 5545 3.1), after checking CRLF and 75 octets.
fn ics_lines(body: &str) -> Vec<String> {
    assert!(body.ends_with("\r\n"), "{body}");
    assert!(!body.replace("\r\n", "").contains('\n'), "bare LF in {body}");
    for l in body.split_terminator("\r\n") {
        assert!(l.len() <= 75, "{} octets: {l}", l.len());
    }
    body.replace("\r\n ", "").split_terminator("\r\n").map(str::to_owned).collect()
}

#[tokio::test]
async fn a_shows_calendar_file_is_one_escaped_event_in_utc_with_a_stable_uid() {
    let app = spawn_app_with(&[("MYSETLIST_PUBLIC_URL", "https://vote.example.org")]).await;
    let seeded = app.seed_show(chrono::Duration::days(3), 2).await;
    app.db_write("UPDATE venues SET name = 'Bar; Grill, \\ Club' WHERE id = ?1", [seeded.venue_id]);
    app.db_write("UPDATE shows SET starts_at = 1780336800 WHERE id = ?1", [seeded.show_id]);
    let c = app.client();
    let (_, html) = get_html(&c, &app.url(&format!("/shows/{}", seeded.slug))).await;
    let link = format!("/shows/{}/calendar.ics", seeded.slug);
    assert!(html.contains(&format!(r#"<a href="{link}">Add to calendar</a>"#)), "{html}");

    let r = c.get(app.url(&link)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/calendar; charset=utf-8");
    let disposition = r.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert_eq!(disposition, format!("attachment; filename=\"{}.ics\"", seeded.slug));
    let lines = ics_lines(&r.text().await.unwrap());
    assert_eq!(lines.first().unwrap(), "BEGIN:VCALENDAR");
    assert_eq!(lines.last().unwrap(), "END:VCALENDAR");
    assert_eq!(lines.iter().filter(|l| *l == "BEGIN:VEVENT").count(), 1);
    let uid = format!("UID:show-{}@vote.example.org", seeded.show_id);
    let url = format!("https://vote.example.org/shows/{}", seeded.slug);
    for want in [
        uid.clone(),
        "DTSTART:20260601T180000Z".into(),
        "DTEND:20260601T210000Z".into(),
        "LOCATION:Bar\\; Grill\\, \\\\ Club\\, Berlin".into(),
        format!("URL:{url}"),
        format!("DESCRIPTION:Vote on the songs you want to hear: {url}"),
    ] {
        assert!(lines.contains(&want), "{want} in {lines:#?}");
    }
    let summary = lines.iter().find(|l| l.starts_with("SUMMARY:")).unwrap();
    assert!(summary.ends_with(" at Bar\\; Grill\\, \\\\ Club"), "{summary}");
    assert!(lines.iter().any(|l| l.starts_with("DTSTAMP:") && l.ends_with('Z') && l.len() == 24), "{lines:?}");
    // The UID stays the same in every download.
    let again = ics_lines(&c.get(app.url(&link)).send().await.unwrap().text().await.unwrap());
    assert!(again.contains(&uid));

    let r = c.get(app.url("/shows/no-such-show/calendar.ics")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn without_a_public_url_the_calendar_file_names_no_host_and_no_url() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 1).await;
    let r = app.client().get(app.url(&format!("/shows/{}/calendar.ics", seeded.slug))).send().await.unwrap();
    let lines = ics_lines(&r.text().await.unwrap());
    assert!(lines.contains(&format!("UID:show-{}@mysetlist", seeded.show_id)), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("URL:")), "{lines:?}");
    app.stop().await;
}

/// The feed address on the account page after pressing "New link" (shown once).
async fn new_feed_link(app: &TestApp, c: &reqwest::Client) -> String {
    let token = csrf(c, &app.url("/account")).await;
    let r = c.post(app.url("/account/calendar")).form(&[("csrf", token.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    let html = r.text().await.unwrap();
    let marker = r#"id="calendar-url" class="feed-url" readonly value=""#;
    let start = html.find(marker).unwrap_or_else(|| panic!("no feed address in {html}")) + marker.len();
    let url = html[start..start + html[start..].find('"').unwrap()].to_owned();
    assert!(url.starts_with(&format!("{}/calendar/", app.base)) && url.ends_with(".ics"), "{url}");
    url
}

#[tokio::test]
async fn the_calendar_feed_lists_followed_artists_shows_at_a_secret_address_that_a_new_link_replaces() {
    let app = spawn_app().await;
    let followed = app.seed_show(chrono::Duration::days(3), 1).await;
    let other = app.seed_show(chrono::Duration::days(4), 1).await;
    let fan = app.user("fan@example.org", Role::User).await;
    let c = app.session_client(&fan).await;
    app.domain().set_follow(fan.id, followed.artist_id, true).await.unwrap();
    // A show of the followed artist from 40 days ago is too old for the feed; 10 days ago is in.
    let system = mysetlist::domain::CurrentUser {
        id: 0,
        email: "system".into(),
        display_name: "system".into(),
        role: Role::Admin,
    };
    let mut ids = Vec::new();
    for days_ago in [10, 40] {
        let input = mysetlist::domain::ShowInput {
            artist_id: followed.artist_id,
            venue_id: followed.venue_id,
            starts_at: (chrono::Utc::now() - chrono::Duration::days(days_ago)).to_rfc3339(),
            status: "locked".into(),
            ..Default::default()
        };
        ids.push(app.domain().create_show(&system, input).await.unwrap());
    }

    let (_, html) = get_html(&c, &app.url("/account")).await;
    assert!(html.contains("You have no feed address yet."), "{html}");
    let url = new_feed_link(&app, &c).await;
    assert_eq!(app.count("SELECT count(*) FROM calendar_feeds WHERE user_id = ?1", [fan.id]), 1);
    let token = url.rsplit('/').next().unwrap().trim_end_matches(".ics").to_owned();
    let stored: Vec<u8> = app.db().query_row("SELECT token_hash FROM calendar_feeds", [], |r| r.get(0)).unwrap();
    assert_eq!(stored.len(), 32, "only the SHA-256 is stored");
    assert!(!String::from_utf8_lossy(&stored).contains(&token));

    // A calendar app: no cookies.
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/calendar; charset=utf-8");
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    let lines = ics_lines(&r.text().await.unwrap());
    let uids: Vec<&String> = lines.iter().filter(|l| l.starts_with("UID:")).collect();
    assert_eq!(uids.len(), 2, "{lines:#?}");
    assert!(lines.contains(&format!("UID:show-{}@mysetlist", ids[0])));
    assert!(lines.contains(&format!("UID:show-{}@mysetlist", followed.show_id)));
    assert!(!lines.contains(&format!("UID:show-{}@mysetlist", ids[1])), "older than 30 days");
    assert!(!lines.contains(&format!("UID:show-{}@mysetlist", other.show_id)), "not followed");
    assert!(lines.contains(&"X-WR-CALNAME:MySetlist: followed artists".to_owned()));

    // The account page no longer shows the address, only that one exists.
    let (_, html) = get_html(&c, &app.url("/account")).await;
    assert!(!html.contains(&token));
    assert!(html.contains("You have a feed address, made on"), "{html}");

    // Unknown tokens and other file names are 404.
    for bad in ["/calendar/nope.ics", &format!("/calendar/{token}"), &format!("/calendar/{token}x.ics")] {
        assert_eq!(reqwest::get(app.url(bad)).await.unwrap().status(), 404, "{bad}");
    }

    // A new link replaces the old one.
    let newer = new_feed_link(&app, &c).await;
    assert_ne!(newer, url);
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 404);
    assert_eq!(reqwest::get(&newer).await.unwrap().status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM calendar_feeds", []), 1);
    let export = ok_json(c.get(app.url("/api/v1/me/export")).send().await.unwrap()).await;
    assert!(export["calendar_feed"]["created_at"].is_i64(), "{export}");
    app.stop().await;
}

#[tokio::test]
async fn the_calendar_feed_needs_the_form_token_and_ends_with_erasure() {
    let app = spawn_app().await;
    let (c, fan) = app.signed_in("erase@example.org", Role::User).await;
    let r = c.post(app.url("/account/calendar")).form(&[("csrf", "wrong")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.count("SELECT count(*) FROM calendar_feeds", []), 0);

    let url = new_feed_link(&app, &c).await;
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    let token = csrf(&c, &app.url("/account")).await;
    let r = c
        .post(app.url("/account/delete"))
        .form(&[("csrf", token.as_str()), ("password", "correct horse battery")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/account/deleted");
    assert_eq!(app.count("SELECT count(*) FROM calendar_feeds WHERE user_id = ?1", [fan.id]), 0);
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 404);
    app.stop().await;
}

/// The `content` of `<meta property|name="{key}">`, if the page has it.
fn meta<'a>(html: &'a str, key: &str) -> Option<&'a str> {
    let attr = if key.starts_with("og:") { "property" } else { "name" };
    let marker = format!(r#"<meta {attr}="{key}" content=""#);
    let start = html.find(&marker)? + marker.len();
    Some(&html[start..start + html[start..].find('"')?])
}

#[tokio::test]
async fn show_and_artist_pages_carry_escaped_link_previews_with_the_fans_top_picks() {
    let app = spawn_app_with(&[("MYSETLIST_PUBLIC_URL", "https://vote.example.org")]).await;
    let seeded = app.seed_show(chrono::Duration::days(3), 4).await;
    app.db_write("UPDATE artists SET name = 'The \"Quotes\" & <Tags>' WHERE id = ?1", [seeded.artist_id]);
    app.db_write("UPDATE songs SET title = 'Song <b>0</b>' WHERE id = ?1", [seeded.song_ids[0]]);
    app.db_write("UPDATE shows SET starts_at = 1938276000 WHERE id = ?1", [seeded.show_id]);
    let show_url = app.url(&format!("/shows/{}", seeded.slug));
    let c = app.client();

    // Before any vote: who, where and when (in the venue's zone: 20:00 in Berlin), no picks.
    let (_, html) = get_html(&c, &show_url).await;
    let title = "The &#34;Quotes&#34; &#38; &#60;Tags&#62; at Hall";
    assert!(meta(&html, "og:title").unwrap().starts_with(title), "{html}");
    let description = meta(&html, "og:description").unwrap();
    assert!(description.starts_with(title), "{description}");
    assert!(description.contains(", Berlin · Tue 3 Jun 2031, 20:00 CEST."), "{description}");
    assert!(!description.contains("top picks"), "{description}");
    assert_eq!(meta(&html, "og:url"), Some(format!("https://vote.example.org/shows/{}", seeded.slug).as_str()));
    assert_eq!(meta(&html, "og:type"), Some("website"));
    assert_eq!(meta(&html, "twitter:card"), Some("summary"));
    assert_eq!(meta(&html, "og:image"), None, "the artist has no picture");
    assert!(!html.contains("<Tags>") && !html.contains("<b>0</b>"), "nothing unescaped");

    // Votes: the top three, most votes first.
    let mut voters = Vec::new();
    for (i, song) in [(0, 3), (1, 2), (2, 1), (3, 0)].iter().flat_map(|&(s, n)| (0..n).map(move |i| (i, s))) {
        let email = format!("v{song}-{i}@example.org");
        voters.push((app.user(&email, Role::User).await, seeded.song_ids[song]));
    }
    for (user, song) in &voters {
        let voter = mysetlist::domain::Voter::User(user.clone());
        app.domain().toggle_vote(&voter, seeded.show_id, *song).await.unwrap();
    }
    let (_, html) = get_html(&c, &show_url).await;
    let description = meta(&html, "og:description").unwrap();
    assert!(
        description.ends_with(" Fans&#39; top picks: Song &#60;b&#62;0&#60;/b&#62;, Song 1, Song 2."),
        "{description}"
    );

    // An https picture is used; anything else is left out.
    let system = mysetlist::domain::CurrentUser {
        id: 0,
        email: "system".into(),
        display_name: "system".into(),
        role: Role::Admin,
    };
    let artist = mysetlist::domain::ArtistInput {
        name: "The \"Quotes\" & <Tags>".into(),
        image_url: "https://img.example/band.jpg".into(),
        ..Default::default()
    };
    app.domain().update_artist(&system, seeded.artist_id, artist).await.unwrap();
    let (_, html) = get_html(&c, &show_url).await;
    assert_eq!(meta(&html, "og:image"), Some("https://img.example/band.jpg"));
    let artist_slug: String =
        app.db().query_row("SELECT slug FROM artists WHERE id = ?1", [seeded.artist_id], |r| r.get(0)).unwrap();
    let (_, html) = get_html(&c, &app.url(&format!("/artists/{artist_slug}"))).await;
    assert_eq!(meta(&html, "og:title"), Some("The &#34;Quotes&#34; &#38; &#60;Tags&#62;"));
    let description = meta(&html, "og:description").unwrap();
    assert!(description.starts_with("Next show: Hall "), "{description}");
    assert!(description.contains(", Berlin · Tue 3 Jun 2031, 20:00 CEST."), "{description}");
    assert_eq!(meta(&html, "og:url"), Some(format!("https://vote.example.org/artists/{artist_slug}").as_str()));
    assert_eq!(meta(&html, "og:image"), Some("https://img.example/band.jpg"));
    app.db_write("UPDATE artists SET image_url = 'http://img.example/band.jpg' WHERE id = ?1", [seeded.artist_id]);
    let (_, html) = get_html(&c, &app.url(&format!("/artists/{artist_slug}"))).await;
    assert_eq!(meta(&html, "og:image"), None);
    app.stop().await;
}

#[tokio::test]
async fn without_a_public_url_previews_name_no_address_and_the_share_link_works_without_script() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 1).await;
    let (_, html) = get_html(&app.client(), &app.url(&format!("/shows/{}", seeded.slug))).await;
    assert!(meta(&html, "og:title").is_some());
    assert_eq!(meta(&html, "og:url"), None);
    // Without JavaScript: a plain link; the share button stays hidden until the script shows it.
    assert!(html.contains(&format!(r#"<a href="/shows/{}" id="share-link">Link to this show</a>"#, seeded.slug)));
    assert!(html.contains(r#"<button type="button" class="link" id="share" hidden>"#), "{html}");
    assert!(html.contains(r#"id="share-status" class="toast" role="status" aria-live="polite""#));
    // Pages without previews have none.
    let (_, html) = get_html(&app.client(), &app.url("/privacy")).await;
    assert_eq!(meta(&html, "og:title"), None);
    app.stop().await;
}
