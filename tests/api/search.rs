//! Search that forgives: a misspelt word finds what its closest known spelling finds (and the page
//! says so), song hits name their artist, and artists and venues found bring their upcoming shows.

use mysetlist::domain::{ArtistInput, CurrentUser, Role, ShowInput, SongInput, VenueInput};

use crate::helpers::*;

struct Catalog {
    artist_slug: String,
    show_slug: String,
}

async fn seed(app: &TestApp) -> Catalog {
    let admin = CurrentUser { id: 0, email: "system".into(), display_name: "system".into(), role: Role::Admin };
    let d = app.domain();
    let artist = ArtistInput { name: "The Paper Lanterns".into(), genres: "indie folk".into(), ..Default::default() };
    let artist_id = d.create_artist(&admin, artist).await.unwrap();
    let song = SongInput { title: "Harbour Light".into(), album: "Tidewater".into(), ..Default::default() };
    d.create_song(&admin, artist_id, song).await.unwrap();
    let venue = VenueInput {
        name: "Fabrik".into(),
        city: "Hamburg".into(),
        country: "DE".into(),
        timezone: "Europe/Berlin".into(),
        ..Default::default()
    };
    let venue_id = d.create_venue(&admin, venue).await.unwrap();
    let starts_at = (chrono::Utc::now() + chrono::Duration::days(9)).to_rfc3339();
    let show_id =
        d.create_show(&admin, ShowInput { artist_id, venue_id, starts_at, ..Default::default() }).await.unwrap();
    let show = d.show_by_id(show_id).await.unwrap();
    Catalog { artist_slug: show.artist_slug, show_slug: show.slug }
}

#[tokio::test]
async fn a_misspelt_search_shows_the_results_of_the_closest_spelling_and_says_so() {
    let app = spawn_app().await;
    let catalog = seed(&app).await;
    let c = app.client();
    let (status, page) = get_html(&c, &app.url("/search?q=lantren")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("No results for “lantren”. Showing 1 result for <strong>“lanterns”</strong> instead."),
        "{page}"
    );
    assert!(page.contains(&format!("href=\"/artists/{}\"", catalog.artist_slug)), "{page}");
    // Its upcoming show comes with it.
    assert!(page.contains("id=\"r-shows\"") && page.contains(&format!("/shows/{}", catalog.show_slug)), "{page}");
    // Two words, one misspelt; a word that matches as typed is not "corrected".
    let (_, page) = get_html(&c, &app.url("/search?q=paper+lantrens")).await;
    assert!(page.contains("“paper lanterns”"), "{page}");
    let (_, exact) = get_html(&c, &app.url("/search?q=lanterns")).await;
    assert!(exact.contains("1 result for “lanterns”") && !exact.contains("instead"), "{exact}");
    app.stop().await;
}

#[tokio::test]
async fn song_hits_name_their_artist_and_a_city_brings_its_upcoming_shows() {
    let app = spawn_app().await;
    let catalog = seed(&app).await;
    let c = app.client();
    let (_, songs) = get_html(&c, &app.url("/search?q=harbour")).await;
    assert!(songs.contains("by The Paper Lanterns · Tidewater"), "{songs}");
    let (_, city) = get_html(&c, &app.url("/search?q=hamburg")).await;
    assert!(city.contains("id=\"r-venues\"") && city.contains("Fabrik"), "{city}");
    assert!(city.contains(&format!("/shows/{}", catalog.show_slug)), "the show in that city is listed: {city}");
    app.stop().await;
}

#[tokio::test]
async fn a_new_artist_is_suggested_at_once() {
    let app = spawn_app().await;
    seed(&app).await;
    let c = app.client();
    // The suggestion vocabulary is built by this search...
    let (_, before) = get_html(&c, &app.url("/search?q=quixotik")).await;
    assert!(before.contains("No results for “quixotik”. Try"), "{before}");
    // ...and forgotten when the catalog changes.
    let admin = app.user("curator@example.org", Role::Admin).await;
    let artist = ArtistInput { name: "Quixotic Zebras".into(), ..Default::default() };
    app.domain().create_artist(&admin, artist).await.unwrap();
    let (_, after) = get_html(&c, &app.url("/search?q=quixotik")).await;
    assert!(after.contains("“quixotic”") && after.contains("Quixotic Zebras"), "{after}");
    app.stop().await;
}
