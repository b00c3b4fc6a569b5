//! Artist pictures (uploaded by moderators, resized, stored in the database, served from our origin
//! with immutable caching), the short bio and the external links.

use std::io::Cursor;

use image::{ImageFormat, Rgba, RgbaImage};
use mysetlist::domain::Role;

use crate::helpers::{TestApp, csrf, get_html, location, spawn_app, spawn_app_with};

const ORIGIN: &str = "https://vote.example.org";

/// A PNG of one colour, made in memory.
fn png(w: u32, h: u32, colour: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    RgbaImage::from_pixel(w, h, Rgba(colour)).write_to(&mut Cursor::new(&mut out), ImageFormat::Png).unwrap();
    out
}

/// The admin edit page's picture form as a browser sends it: `multipart/form-data`, token and file.
fn multipart(csrf: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----mysetlist-test-5f0c2b";
    let mut body = Vec::new();
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n").as_bytes());
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"band.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend(file);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(app: &TestApp, c: &reqwest::Client, artist: i64, file: &[u8]) -> reqwest::Response {
    let token = csrf(c, &app.url(&format!("/admin/artists/{artist}"))).await;
    let (content_type, body) = multipart(&token, file);
    c.post(app.url(&format!("/admin/artists/{artist}/picture")))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The artist's stored picture and thumbnail names.
fn stored(app: &TestApp, artist: i64) -> (Option<String>, Option<String>) {
    app.db()
        .query_row("SELECT image, thumb FROM artists WHERE id = ?1", [artist], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
}

async fn moderator(app: &TestApp) -> reqwest::Client {
    let m = app.user("mod@example.org", Role::Moderator).await;
    app.session_client(&m).await
}

fn og_image(html: &str) -> Option<&str> {
    let marker = "<meta property=\"og:image\" content=\"";
    let start = html.find(marker)? + marker.len();
    Some(&html[start..start + html[start..].find('"')?])
}

#[tokio::test]
async fn an_uploaded_picture_is_resized_stored_served_forever_and_shown_on_artist_card_and_show_pages() {
    let app = spawn_app_with(&[("MYSETLIST_PUBLIC_URL", ORIGIN)]).await;
    let seeded = app.seed_show(chrono::Duration::days(3), 2).await;
    let c = moderator(&app).await;
    let (artist_slug, name): (String, String) = app
        .db()
        .query_row("SELECT slug, name FROM artists WHERE id = ?1", [seeded.artist_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();

    // Before: no picture anywhere, and pages look as they did.
    let (_, page) = get_html(&app.client(), &app.url(&format!("/artists/{artist_slug}"))).await;
    assert!(!page.contains("/media/"), "{page}");

    let r = upload(&app, &c, seeded.artist_id, &png(900, 600, [200, 30, 30, 255])).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert!(location(&r).starts_with(&format!("/admin/artists/{}?done=saved", seeded.artist_id)));
    let (Some(image), Some(thumb)) = stored(&app, seeded.artist_id) else { panic!("no picture stored") };

    // Served from our origin, re-encoded, at the documented sizes, cached forever.
    for (name, side) in [(&image, 480), (&thumb, 160)] {
        let r = app.client().get(app.url(&format!("/media/{name}"))).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let header = |h: &str| r.headers().get(h).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert_eq!(header("content-type"), "image/jpeg");
        assert_eq!(header("cache-control"), "public, max-age=31536000, immutable");
        assert_eq!(header("x-content-type-options"), "nosniff");
        let bytes = r.bytes().await.unwrap();
        let img = image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg).expect("a JPEG");
        assert_eq!((img.width(), img.height()), (side, side), "{name}");
    }
    // A signed-in browser (a session cookie) gets the same shared, immutable caching.
    let r = c.get(app.url(&format!("/media/{thumb}"))).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "public, max-age=31536000, immutable");
    let unknown = format!("/media/{}.jpg", "0".repeat(64));
    for path in [unknown.as_str(), "/media/not-a-hash.jpg", "/media/..%2Fmysetlist.db"] {
        assert_eq!(app.client().get(app.url(path)).send().await.unwrap().status(), 404, "{path}");
    }

    // Shown: the artist page header, the show cards (lazy thumbnails with their size), the show page.
    let (_, page) = get_html(&app.client(), &app.url(&format!("/artists/{artist_slug}"))).await;
    assert!(
        page.contains(&format!("<img src=\"/media/{image}\" width=\"480\" height=\"480\" alt=\"{name}\"")),
        "{page}"
    );
    assert!(
        page.contains(&format!("<img src=\"/media/{thumb}\" width=\"160\" height=\"160\" alt=\"\" loading=\"lazy\"")),
        "{page}"
    );
    assert_eq!(og_image(&page), Some(format!("{ORIGIN}/media/{image}").as_str()));
    let (_, page) = get_html(&app.client(), &app.url(&format!("/shows/{}", seeded.slug))).await;
    assert!(
        page.contains(&format!("<img src=\"/media/{thumb}\" width=\"160\" height=\"160\" alt=\"{name}\"")),
        "{page}"
    );
    assert_eq!(og_image(&page), Some(format!("{ORIGIN}/media/{image}").as_str()));
    app.stop().await;
}

#[tokio::test]
async fn replacing_or_removing_a_picture_drops_the_old_files() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 1).await;
    let c = moderator(&app).await;
    assert_eq!(upload(&app, &c, seeded.artist_id, &png(300, 300, [10, 10, 200, 255])).await.status(), 303);
    let (Some(old), Some(old_thumb)) = stored(&app, seeded.artist_id) else { panic!("no picture stored") };
    assert_eq!(upload(&app, &c, seeded.artist_id, &png(300, 300, [10, 200, 10, 255])).await.status(), 303);
    let (Some(new), Some(_)) = stored(&app, seeded.artist_id) else { panic!("no picture stored") };
    assert_ne!(old, new);
    for gone in [&old, &old_thumb] {
        assert_eq!(app.client().get(app.url(&format!("/media/{gone}"))).send().await.unwrap().status(), 404);
    }
    assert_eq!(app.count("SELECT count(*) FROM media", []), 2, "the new picture and its thumbnail only");

    let token = csrf(&c, &app.url(&format!("/admin/artists/{}", seeded.artist_id))).await;
    let r = c
        .post(app.url(&format!("/admin/artists/{}/picture/delete", seeded.artist_id)))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(stored(&app, seeded.artist_id), (None, None));
    assert_eq!(app.count("SELECT count(*) FROM media", []), 0);
    let (_, page) = get_html(&app.client(), &app.url(&format!("/shows/{}", seeded.slug))).await;
    assert!(!page.contains("/media/"), "{page}");

    // Deleting the artist deletes its picture too.
    assert_eq!(upload(&app, &c, seeded.artist_id, &png(300, 300, [10, 10, 200, 255])).await.status(), 303);
    let admin = app.user("admin@example.org", Role::Admin).await;
    app.domain().delete_artist(&admin, seeded.artist_id).await.unwrap();
    assert_eq!(app.count("SELECT count(*) FROM media", []), 0);
    app.stop().await;
}

#[tokio::test]
async fn uploads_that_are_not_small_png_jpeg_or_webp_pictures_are_refused_with_the_reason() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 1).await;
    let c = moderator(&app).await;

    // A PNG header that claims 60000 × 60000 pixels in a file of a few dozen bytes.
    let mut bomb = png(1, 1, [0, 0, 0, 255]);
    bomb[16..20].copy_from_slice(&60_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&60_000u32.to_be_bytes());
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let mut oversized = png(4, 4, [0, 0, 0, 255]);
    oversized.resize((5 << 20) + 1, 0);
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "text",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(),
            "must be a PNG, JPEG or WebP picture",
        ),
        ("gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(), "must be a PNG, JPEG or WebP picture"),
        ("bomb", bomb, "is 60000 × 60000 pixels; at most 5000 × 5000 are accepted"),
        ("over 5 MiB", oversized, "is larger than 5 MiB"),
        ("a truncated PNG", png(50, 50, [1, 2, 3, 255])[..40].to_vec(), "could not be read"),
    ];
    for (what, file, message) in cases {
        let r = upload(&app, &c, seeded.artist_id, &file).await;
        assert_eq!(r.status(), 422, "{what}");
        let html = r.text().await.unwrap();
        assert!(html.contains(message), "{what}: {html}");
    }
    // Far over the limit: refused before the body is read.
    let huge = vec![0u8; 8 << 20];
    assert_eq!(upload(&app, &c, seeded.artist_id, &huge).await.status(), 413);
    // A forged form (no valid token) is refused.
    let (content_type, body) = multipart("forged", &png(10, 10, [0, 0, 0, 255]));
    let r = c
        .post(app.url(&format!("/admin/artists/{}/picture", seeded.artist_id)))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(stored(&app, seeded.artist_id), (None, None));
    assert_eq!(app.count("SELECT count(*) FROM media", []), 0);
    app.stop().await;
}

#[tokio::test]
async fn a_plain_user_cannot_upload_a_picture() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 1).await;
    let u = app.user("fan@example.org", Role::User).await;
    let c = app.session_client(&u).await;
    let token = csrf(&c, &app.url("/account")).await;
    let (content_type, body) = multipart(&token, &png(10, 10, [0, 0, 0, 255]));
    let r = c
        .post(app.url(&format!("/admin/artists/{}/picture", seeded.artist_id)))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(stored(&app, seeded.artist_id), (None, None));
    assert_eq!(app.count("SELECT count(*) FROM media", []), 0);
    app.stop().await;
}

#[tokio::test]
async fn the_bio_and_links_are_checked_and_shown_escaped_with_the_musicbrainz_page() {
    let app = spawn_app().await;
    let seeded = app.seed_show(chrono::Duration::days(3), 1).await;
    let c = moderator(&app).await;
    let edit = app.url(&format!("/admin/artists/{}", seeded.artist_id));
    let name: String =
        app.db().query_row("SELECT name FROM artists WHERE id = ?1", [seeded.artist_id], |r| r.get(0)).unwrap();
    let mbid = "a74b1b7f-71a5-4011-9441-d0b5e4122711";
    let save = async |bio: &str, links: &str| {
        let token = csrf(&c, &edit).await;
        c.post(&edit)
            .form(&[("csrf", token.as_str()), ("name", &name), ("mbid", mbid), ("bio", bio), ("links", links)])
            .send()
            .await
            .unwrap()
    };
    for bad in ["Evil javascript:alert(1)", "data:text/html,<b>x</b>", "Site ftp://example.org"] {
        let r = save("", bad).await;
        assert_eq!(r.status(), 422, "{bad}");
        assert!(r.text().await.unwrap().contains("must be an http(s) URL"), "{bad}");
    }
    let six = (0..6).map(|i| format!("L{i} https://example.org/{i}")).collect::<Vec<_>>().join("\n");
    assert!(save("", &six).await.text().await.unwrap().contains("at most 5 links"));
    assert!(save(&"x".repeat(1001), "").await.text().await.unwrap().contains("at most 1000 characters"));

    let r = save(
        "Formed in <b>Leeds</b>.\r\nLoud & proud.",
        "Official site https://band.example/?a=1&b=2\nhttps://label.example/band",
    )
    .await;
    assert_eq!(r.status(), 303);
    let slug: String =
        app.db().query_row("SELECT slug FROM artists WHERE id = ?1", [seeded.artist_id], |r| r.get(0)).unwrap();
    let (_, page) = get_html(&app.client(), &app.url(&format!("/artists/{slug}"))).await;
    assert!(page.contains("<p class=\"bio\">Formed in &#60;b&#62;Leeds&#60;/b&#62;.\nLoud &#38; proud.</p>"), "{page}");
    for link in [
        format!("<a href=\"https://musicbrainz.org/artist/{mbid}\" rel=\"noopener noreferrer\">MusicBrainz</a>"),
        "<a href=\"https://band.example/?a=1&#38;b=2\" rel=\"noopener noreferrer\">Official site</a>".into(),
        "<a href=\"https://label.example/band\" rel=\"noopener noreferrer\">label.example</a>".into(),
    ] {
        assert!(page.contains(&link), "{link} in {page}");
    }
    // The JSON API's artist update leaves the bio and links alone.
    let system =
        mysetlist::domain::CurrentUser { id: 0, email: "s".into(), display_name: "s".into(), role: Role::Admin };
    let input = mysetlist::domain::ArtistInput { name: name.clone(), ..Default::default() };
    app.domain().update_artist(&system, seeded.artist_id, input).await.unwrap();
    let (bio, links): (String, String) = app
        .db()
        .query_row("SELECT bio, links FROM artists WHERE id = ?1", [seeded.artist_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert!(bio.starts_with("Formed in") && links.lines().count() == 2, "{bio:?} {links:?}");
    app.stop().await;
}
