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
    ok_json(m.put(&url).json(&show_body(a, v, None)).send().await.unwrap()).await;
    assert_eq!(ok_json(app.client().get(&url).send().await.unwrap()).await["show"]["ticket_url"], link);
    ok_json(m.put(&url).json(&show_body(a, v, Some(""))).send().await.unwrap()).await;
    assert!(ok_json(app.client().get(&url).send().await.unwrap()).await["show"]["ticket_url"].is_null());
    let (_, html) = get_html(&app.client(), &app.url(&format!("/shows/{slug}"))).await;
    assert!(!html.contains(">Tickets</a>"));
    app.stop().await;
}
