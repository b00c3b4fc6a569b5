//! Queries per page: each page costs a fixed number of SQL statements whatever the size of the data
//! (no N+1). Counted with `db::count_statements` around the domain calls a page handler makes.

use mysetlist::db::count_statements;
use mysetlist::domain::{Role, Voter};

use crate::helpers::*;

/// Statements run for (show page with a cold ranking, the same with a warm ranking, home, artist,
/// venue), for a show with `songs` songs that a signed-in fan voted for.
async fn page_statements(app: &TestApp, user: &mysetlist::domain::CurrentUser, songs: usize) -> [u64; 5] {
    let d = app.domain();
    let show = app.seed_show(chrono::Duration::days(2), songs).await;
    let voter = Voter::User(user.clone());
    for &song in &show.song_ids {
        d.add_song_to_show(user, show.show_id, song).await.expect("add song");
        d.toggle_vote(&voter, show.show_id, song).await.expect("vote");
    }
    let show_page = || async {
        let s = d.show_by_slug(&show.slug).await.expect("show");
        let page = d.show_page(s, Some(&voter)).await.expect("page");
        assert_eq!(page.ranking.len(), songs);
        assert_eq!(page.my_votes.len(), songs);
    };
    let (_, cold) = count_statements(show_page()).await;
    let (_, warm) = count_statements(show_page()).await;
    let (_, home) = count_statements(async { d.home_page().await.expect("home") }).await;
    let s = d.show_by_id(show.show_id).await.unwrap();
    let (_, artist) =
        count_statements(async { d.artist_page(&s.artist_slug, Some(user.id)).await.expect("artist") }).await;
    let (_, venue) = count_statements(async { d.venue_page(&s.venue_slug).await.expect("venue") }).await;
    [cold, warm, home, artist, venue]
}

#[tokio::test]
async fn pages_cost_a_fixed_number_of_queries() {
    let app = spawn_app().await;
    let user = app.user("counter@example.org", Role::User).await;
    let small = page_statements(&app, &user, 3).await;
    let large = page_statements(&app, &user, 40).await;
    assert_eq!(small, large, "statements per page grow with the data: 3 songs {small:?}, 40 songs {large:?}");
    // show by slug + ranking + (addable songs, actual setlist, the fan's votes) when the ranking
    // is not cached; without the ranking read when it is.
    assert_eq!(small[0], 5, "show page, cold ranking: {small:?}");
    assert_eq!(small[1], 4, "show page, cached ranking: {small:?}");
}
