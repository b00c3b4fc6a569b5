//! File imports (setlist.fm JSON, catalog CSV/JSON) through the domain and through the real CLI binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use mysetlist::db::{self, DbError};
use mysetlist::domain::{ArtistInput, CurrentUser, Role, ShowInput, SongInput, VenueInput};
use mysetlist::import::catalog::{self, Format};
use mysetlist::import::{Kind, Outcome, Report, Silent, setlistfm};

use crate::helpers::*;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture exists")
}

pub async fn count(app: &TestApp, sql: &'static str) -> i64 {
    app.database().read(move |c| c.query_row(sql, [], |r| r.get(0)).map_err(DbError::from)).await.unwrap()
}

fn system() -> CurrentUser {
    CurrentUser { id: 0, email: "system".into(), display_name: "system".into(), role: Role::Admin }
}

async fn show_by_setlistfm(app: &TestApp, id: &'static str) -> db::shows::Show {
    app.database().read(move |c| db::shows::by_setlistfm_id(c, id)).await.unwrap().expect("show linked to setlist.fm")
}

fn n(r: &Report, kind: Kind, outcome: Outcome) -> usize {
    r.count(kind, outcome)
}

#[tokio::test]
async fn setlistfm_search_page_creates_shows_with_actual_setlists_and_is_idempotent() {
    let app = spawn_app().await;
    let text = read_fixture("setlistfm/search_page.json");
    let report = setlistfm::import_json(app.domain(), &text, None, &Silent).await.unwrap();

    assert_eq!(n(&report, Kind::Setlist, Outcome::Created), 3, "{}", report.render_text());
    assert_eq!(n(&report, Kind::Artist, Outcome::Created), 1);
    assert_eq!(n(&report, Kind::Venue, Outcome::Created), 3);
    assert_eq!(n(&report, Kind::Show, Outcome::Created), 3);
    // Songs performed (not tape entries) are added to the catalog once each.
    assert_eq!(n(&report, Kind::Song, Outcome::Created), 7);
    let skipped: Vec<_> = report.skipped().collect();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].detail.as_deref().unwrap().contains("eventDate `2024-06-18`"), "{skipped:?}");
    assert!(skipped[0].at.as_deref().unwrap().starts_with("line "), "{skipped:?}");

    let artist = app.database().read(|c| db::artists::by_name(c, "Northern Static")).await.unwrap().unwrap();
    assert_eq!(artist.mbid.as_deref(), Some("5b11f4ce-a62d-471e-81fc-a69a8278c7da"));
    let catalog = app.domain().catalog(artist.id).await.unwrap();
    assert!(catalog.iter().all(|s| !s.is_live));
    assert!(!catalog.iter().any(|s| s.title == "Harbour Lullaby"), "tape entries are not songs of the artist");
    // Popularity follows the number of setlists a song was played in.
    let plays = |t: &str| catalog.iter().find(|s| s.title == t).map(|s| s.popularity);
    assert_eq!((plays("Night Ferry"), plays("Heroes")), (Some(2), Some(1)));

    // The past show: completed, linked to setlist.fm, its actual setlist in order with sets and notes.
    let paradiso = show_by_setlistfm(&app, "63de4613").await;
    assert_eq!(paradiso.status.as_str(), "completed");
    assert_eq!(paradiso.venue_name, "Paradiso");
    assert_eq!(paradiso.venue_timezone, "Europe/Amsterdam");
    assert_eq!(paradiso.title, "Night Ferry Tour 2024");
    assert!(paradiso.setlistfm_url.as_deref().unwrap().contains("63de4613"));
    // 20:00 in Amsterdam (CEST) is 18:00 UTC.
    assert_eq!(
        chrono::DateTime::from_timestamp(paradiso.starts_at, 0).unwrap().to_rfc3339(),
        "2024-06-14T18:00:00+00:00"
    );
    // Nobody could vote on a show imported after the fact: no seeded prediction, no accuracy.
    assert_eq!(paradiso.accuracy, None);
    assert!(app.domain().ranking(paradiso.id).await.unwrap().is_empty());
    let actual = app.domain().actual_setlist(paradiso.id).await.unwrap();
    let rows: Vec<(&str, i64, bool)> = actual.iter().map(|e| (e.title.as_str(), e.encore, e.is_tape)).collect();
    assert_eq!(
        rows,
        [
            ("", 0, true),
            ("Glass Coast", 0, false),
            ("Undertow", 0, false),
            ("Heroes", 0, false),
            ("Static Bloom", 0, false),
            ("Night Ferry", 1, false),
            ("Glass Coast", 1, false),
            ("Last Crossing", 2, false),
            ("Harbour Lullaby", 2, true),
        ]
    );
    assert_eq!(actual[3].cover_artist, "David Bowie");
    assert_eq!(actual[4].info, "with Ada Lind");
    assert_eq!(actual[6].info, "reprise");
    assert!(actual.iter().filter(|e| !e.is_tape).all(|e| e.song_id.is_some()));

    // The bare `set` shape works too; the future show is upcoming without a setlist.
    let roundhouse = show_by_setlistfm(&app, "2bd6d8ba").await;
    assert_eq!(app.domain().actual_setlist(roundhouse.id).await.unwrap().len(), 3);
    assert_eq!(roundhouse.venue_timezone, "Europe/London");
    let berlin = show_by_setlistfm(&app, "4bd7e3a2").await;
    assert_eq!(berlin.status.as_str(), "upcoming");
    assert!(app.domain().actual_setlist(berlin.id).await.unwrap().is_empty());

    // The show page links back to setlist.fm (attribution).
    let page = app.client().get(app.url(&format!("/shows/{}", paradiso.slug))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(paradiso.setlistfm_url.as_deref().unwrap()), "no setlist.fm link on the show page");

    // Importing the same file again changes nothing.
    let before = (
        count(&app, "SELECT count(*) FROM shows").await,
        count(&app, "SELECT count(*) FROM songs").await,
        count(&app, "SELECT count(*) FROM setlist_entries").await,
        count(&app, "SELECT count(*) FROM audit_log").await,
    );
    let again = setlistfm::import_json(app.domain(), &text, None, &Silent).await.unwrap();
    assert!(!again.changed(), "{}", again.render_text());
    assert_eq!(n(&again, Kind::Setlist, Outcome::Unchanged), 3);
    let after = (
        count(&app, "SELECT count(*) FROM shows").await,
        count(&app, "SELECT count(*) FROM songs").await,
        count(&app, "SELECT count(*) FROM setlist_entries").await,
        count(&app, "SELECT count(*) FROM audit_log").await,
    );
    assert_eq!(before, after);
    app.stop().await;
}

#[tokio::test]
async fn setlistfm_import_matches_existing_artist_show_and_scores_the_prediction() {
    let app = spawn_app().await;
    let d = app.domain();
    let admin = system();
    // The artist exists without a MusicBrainz id; the show exists on the same day with votes.
    let artist_id =
        d.create_artist(&admin, ArtistInput { name: "northern static".into(), ..Default::default() }).await.unwrap();
    for (title, popularity) in
        [("Glass Coast", 100), ("Undertow", 90), ("Night Ferry", 80), ("Paper Moons", 70), ("Tidal Hymn", 60)]
    {
        d.create_song(&admin, artist_id, SongInput { title: title.into(), popularity, ..Default::default() })
            .await
            .unwrap();
    }
    let venue_id = d
        .create_venue(
            &admin,
            VenueInput {
                name: "Paradiso".into(),
                city: "Amsterdam".into(),
                country: "NL".into(),
                timezone: "Europe/Amsterdam".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let show_id = d
        .create_show(
            &admin,
            ShowInput { artist_id, venue_id, starts_at: "2024-06-14T19:30:00Z".into(), ..Default::default() },
        )
        .await
        .unwrap();
    // Votes cast before the show (written directly: voting on a past show is closed).
    let catalog = d.catalog(artist_id).await.unwrap();
    let id_of = |t: &str| catalog.iter().find(|s| s.title == t).unwrap().id;
    let (tidal, paper) = (id_of("Tidal Hymn"), id_of("Paper Moons"));
    app.database()
        .write(move |c| {
            for (song, voters) in [(tidal, 3), (paper, 2)] {
                for v in 0..voters {
                    let voter = format!("dvoter{v}");
                    let vote =
                        db::votes::Vote { show_id, song_id: song, voter: &voter, user_id: None, ip_hash: None, at: 1 };
                    db::votes::toggle(c, &vote)?;
                }
            }
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();

    let text = read_fixture("setlistfm/search_page.json");
    let report = setlistfm::import_json(d, &text, None, &Silent).await.unwrap();
    assert_eq!(n(&report, Kind::Artist, Outcome::Updated), 1, "{}", report.render_text());
    assert_eq!(n(&report, Kind::Artist, Outcome::Created), 0);
    let show = show_by_setlistfm(&app, "63de4613").await;
    assert_eq!(show.id, show_id, "matched by artist + date, not created");
    assert_eq!(show.status.as_str(), "completed");
    // The fans' picks (songs with votes): Tidal Hymn, Paper Moons. Performed (7 non-tape entries):
    // Glass Coast, Undertow, Heroes, Static Bloom, Night Ferry, Glass Coast, Last Crossing. None of the
    // picks was played -> 0/7 (the seeded songs nobody voted for predict nothing).
    assert_eq!(show.accuracy, Some(0.0));
    let artist = app.database().read(move |c| db::artists::by_id(c, artist_id)).await.unwrap().unwrap();
    assert_eq!(artist.mbid.as_deref(), Some("5b11f4ce-a62d-471e-81fc-a69a8278c7da"));
    let songs: Vec<String> = d.catalog(artist_id).await.unwrap().into_iter().map(|s| s.title).collect();
    for new in ["Heroes", "Static Bloom", "Last Crossing"] {
        assert!(songs.contains(&new.to_owned()), "{new} missing from {songs:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_single_setlist_document_with_old_quirks_imports() {
    let app = spawn_app().await;
    let text = read_fixture("setlistfm/single_setlist.json");
    let report = setlistfm::import_json(app.domain(), &text, None, &Silent).await.unwrap();
    assert_eq!(n(&report, Kind::Setlist, Outcome::Created), 1, "{}", report.render_text());
    let show = show_by_setlistfm(&app, "53e4a7b9").await;
    assert_eq!(show.artist_name, "Velvet Harbour");
    assert_eq!(show.venue_timezone, "UTC", "the US has several zones");
    let venue = app.database().read(move |c| db::venues::by_id(c, show.venue_id)).await.unwrap().unwrap();
    assert_eq!(venue.latitude, Some(37.7749295));
    assert_eq!(app.domain().actual_setlist(show.id).await.unwrap().len(), 3);

    let err = setlistfm::import_json(app.domain(), "{\"artists\": []}", None, &Silent).await.unwrap_err();
    assert!(err.to_string().contains("not setlist.fm data"), "{err}");
    app.stop().await;
}

#[tokio::test]
async fn catalog_csv_imports_reports_bad_rows_by_line_and_is_idempotent() {
    let app = spawn_app().await;
    let text = read_fixture("catalog/catalog.csv");
    let report = catalog::import(app.domain(), &text, Format::Csv, None, &Silent).await.unwrap();
    let text_report = report.render_text();
    assert_eq!(n(&report, Kind::Artist, Outcome::Created), 2, "{text_report}");
    assert_eq!(n(&report, Kind::Venue, Outcome::Created), 2, "{text_report}");
    assert_eq!(n(&report, Kind::Song, Outcome::Created), 4, "{text_report}");
    assert_eq!(n(&report, Kind::Show, Outcome::Created), 2, "{text_report}");
    let skipped: Vec<(String, String)> =
        report.skipped().map(|e| (e.at.clone().unwrap(), e.detail.clone().unwrap())).collect();
    assert_eq!(skipped.len(), 4, "{text_report}");
    assert_eq!(skipped[0].0, "line 17");
    assert!(skipped[0].1.contains("column `city` does not apply to artist rows"), "{skipped:?}");
    let by_line = |l: &str| skipped.iter().find(|(at, _)| at == l).map(|(_, d)| d.clone()).unwrap_or_default();
    assert!(by_line("line 14").contains("no artist `Nobody`"), "{skipped:?}");
    assert!(by_line("line 15").starts_with("country:"), "{skipped:?}");
    assert!(by_line("line 16").starts_with("starts_at:"), "{skipped:?}");

    // Local start times are in the venue's zone; a venue without a zone gets its country's.
    let shows = app.domain().upcoming_shows(10).await.unwrap();
    let toronto = shows.iter().find(|s| s.venue_name == "Massey Hall").unwrap();
    assert_eq!(
        chrono::DateTime::from_timestamp(toronto.starts_at, 0).unwrap().to_rfc3339(),
        "2031-05-03T00:00:00+00:00"
    );
    let berlin = shows.iter().find(|s| s.venue_name == "Columbiahalle").unwrap();
    assert_eq!(berlin.venue_timezone, "Europe/Berlin");
    assert_eq!(berlin.title, "High Tension Tour");
    let kestrel = app.database().read(|c| db::artists::by_slug(c, "kestrel-drive")).await.unwrap().unwrap();
    let songs = app.domain().catalog(kestrel.id).await.unwrap();
    assert!(songs.iter().any(|s| s.title == "Live Wire (Live)" && s.is_live));
    // New shows are seeded from the catalog (the live song is left out).
    let ranking = app.domain().ranking(berlin.id).await.unwrap();
    assert_eq!(ranking.iter().map(|r| r.title.as_str()).collect::<Vec<_>>(), ["Overpass"]);

    let again = catalog::import(app.domain(), &text, Format::Csv, None, &Silent).await.unwrap();
    assert!(!again.changed(), "{}", again.render_text());
    assert_eq!(again.skipped_count(), 4);

    // A changed cell updates just that field.
    let edited = text.replace("Hollow Pines,River Mouth,Cedar Smoke,198", "Hollow Pines,River Mouth,Quiet Acres,198");
    let third = catalog::import(app.domain(), &edited, Format::Csv, None, &Silent).await.unwrap();
    let updated: Vec<_> = third.entries.iter().filter(|e| e.outcome == Outcome::Updated).collect();
    assert_eq!(updated.len(), 1, "{}", third.render_text());
    assert_eq!(updated[0].detail.as_deref(), Some("changed: album"));
    app.stop().await;
}

#[tokio::test]
async fn catalog_json_imports_with_lines_for_bad_elements() {
    let app = spawn_app().await;
    let text = read_fixture("catalog/catalog.json");
    let report = catalog::import(app.domain(), &text, Format::Json, None, &Silent).await.unwrap();
    let summary = report.render_text();
    assert_eq!(n(&report, Kind::Artist, Outcome::Created), 1, "{summary}");
    assert_eq!(n(&report, Kind::Song, Outcome::Created), 2, "{summary}");
    assert_eq!(n(&report, Kind::Show, Outcome::Created), 1, "{summary}");
    let skipped: Vec<_> = report.skipped().collect();
    assert_eq!(skipped.len(), 2, "{summary}");
    assert!(skipped[0].detail.as_deref().unwrap().contains("unknown field `colour`"));
    assert!(skipped[1].detail.as_deref().unwrap().contains("with `city`"));
    let line = |e: &mysetlist::import::Entry| e.at.clone().unwrap();
    // Lines of the offending objects in the pretty-printed file.
    let lines: Vec<&str> = text.lines().collect();
    let colour_line = lines.iter().position(|l| l.contains("\"colour\"")).unwrap();
    let at: usize = line(skipped[0]).trim_start_matches("line ").parse().unwrap();
    assert!(at <= colour_line + 1 && at >= colour_line - 3, "{at} vs {colour_line}");
    let again = catalog::import(app.domain(), &text, Format::Json, None, &Silent).await.unwrap();
    assert!(!again.changed());
    app.stop().await;
}

/// Runs the command line in-process (the test binary cannot rely on a freshly linked `mysetlist`
/// executable when several checkouts share one target directory).
async fn cli(config: &std::path::Path, args: &[&str]) -> std::process::ExitCode {
    let mut argv = vec!["mysetlist", "--config", config.to_str().unwrap()];
    argv.extend_from_slice(args);
    mysetlist::cli::run(mysetlist::cli::Cli::try_parse_from(argv).expect("arguments parse")).await
}

#[tokio::test]
async fn cli_import_commands_exit_3_on_skipped_items_and_name_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mysetlist.toml");
    std::fs::write(&config, format!("data_dir = \"{}\"\n", dir.path().join("data").display())).unwrap();
    let skipped = std::process::ExitCode::from(mysetlist::cli::import::EXIT_SKIPPED);

    let page = fixture("setlistfm/search_page.json");
    assert_eq!(cli(&config, &["import", "setlistfm", "--file", page.to_str().unwrap()]).await, skipped);
    let single = fixture("setlistfm/single_setlist.json");
    assert_eq!(cli(&config, &["import", "setlistfm", "--file", single.to_str().unwrap()]).await, ExitCode::SUCCESS);
    let csv = fixture("catalog/catalog.csv");
    assert_eq!(cli(&config, &["import", "catalog", "--file", csv.to_str().unwrap()]).await, skipped);

    // What the commands wrote is in the database the config names.
    let c = mysetlist::config::load(Some(&config)).unwrap();
    let db = mysetlist::db::Database::open(&mysetlist::db::DbOptions::from_config(&c)).unwrap();
    let shows: i64 =
        db.read(|c| c.query_row("SELECT count(*) FROM shows", [], |r| r.get(0)).map_err(DbError::from)).await.unwrap();
    assert_eq!(shows, 3 + 1 + 2);
    let audited: i64 = db
        .read(|c| {
            c.query_row("SELECT count(*) FROM audit_log WHERE action LIKE 'import.%'", [], |r| r.get(0))
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(audited, 3, "one audit entry per import that changed something");
    db.close().await;

    let wrong = dir.path().join("catalog.txt");
    std::fs::write(&wrong, "x").unwrap();
    assert_eq!(cli(&config, &["import", "catalog", "--file", wrong.to_str().unwrap()]).await, ExitCode::FAILURE);
    let err = mysetlist::cli::import::catalog_file(c.clone(), &wrong).await.unwrap_err();
    assert!(err.to_string().contains(".csv or .json"), "{err}");
    let err = mysetlist::cli::import::setlistfm_file(c, std::path::Path::new("/nonexistent/x.json")).await.unwrap_err();
    assert!(err.to_string().contains("cannot read /nonexistent/x.json"), "{err}");
}

/// Polls the JSON progress of an import job until it is no longer running.
async fn wait_for_job(app: &TestApp, client: &reqwest::Client, id: &str) -> serde_json::Value {
    let url = app.url(&format!("/admin/import/jobs/{id}/progress"));
    wait_for(std::time::Duration::from_secs(60), || async {
        let p: serde_json::Value = client.get(&url).send().await.ok()?.json().await.ok()?;
        (p["state"] != "running").then_some(p)
    })
    .await
    .expect("the import finishes within a minute")
}

fn gaps(requests: &[crate::fake_apis::Logged]) -> Vec<std::time::Duration> {
    requests.windows(2).map(|w| w[1].at.duration_since(w[0].at)).collect()
}

#[tokio::test]
async fn admin_imports_an_artist_online_with_progress_rate_limits_and_retries() {
    let apis = crate::fake_apis::start().await;
    let env = apis.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&env).await;
    let (admin, _) = app.signed_in("admin@example.org", Role::Admin).await;

    let page = admin.get(app.url("/admin/import")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let csrf = form_value(&html, "csrf").expect("the form carries a CSRF token");
    assert!(!html.contains("No setlist.fm API key"), "the key is configured");

    // A form without the CSRF token is refused.
    let forged = admin
        .post(app.url("/admin/import"))
        .form(&[("csrf", "x"), ("artist", "Northern Static")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    let started = admin
        .post(app.url("/admin/import"))
        .form(&[("csrf", csrf.as_str()), ("artist", "Northern Static")])
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 303);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let id = location.strip_prefix("/admin/import/jobs/").expect("redirect to the job page").to_owned();

    // While it runs, the job page renders and a second import is refused.
    let job_page = admin.get(app.url(&location)).send().await.unwrap();
    assert_eq!(job_page.status(), 200);
    assert!(job_page.text().await.unwrap().contains("/admin/import/jobs/"));

    let done = wait_for_job(&app, &admin, &id).await;
    assert_eq!(done["state"], "done", "{done}");
    let count = |kind: &str, what: &str| -> u64 {
        done["summary"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == kind)
            .map(|r| r[what].as_u64().unwrap())
            .unwrap_or(0)
    };
    // 20 studio songs + 2 newer ones + a remix + a live-only track; "Heroes" (a cover) from a setlist.
    assert_eq!(count("songs", "created"), 25, "{done}");
    assert_eq!(count("artists", "created"), 1, "{done}");
    assert_eq!(count("setlists", "created"), 3, "{done}");
    assert_eq!(count("setlists", "skipped"), 0, "{done}");
    assert!(
        done["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains(crate::fake_apis::ARTIST_MBID))
    );

    let d = app.domain();
    let artist =
        app.database().read(|c| db::artists::by_mbid(c, crate::fake_apis::ARTIST_MBID)).await.unwrap().unwrap();
    assert_eq!(artist.name, "Northern Static");
    assert_eq!(artist.genres, "indie rock, dream pop, dutch");
    let catalog = d.catalog(artist.id).await.unwrap();
    let song = |t: &str| catalog.iter().find(|s| s.title == t).unwrap_or_else(|| panic!("{t} missing")).clone();
    assert!(!song("Glass Coast").is_live, "the studio version wins over live recordings");
    assert!(matches!(song("Glass Coast").duration_s, Some(241 | 242)), "the studio length (241.x s), not a live one");
    assert!(song("Night Ferry (Kite remix)").is_remix);
    assert!(song("Fog Horn Intro").is_live);
    // Popularity follows how often a song was played in the imported setlists.
    assert_eq!(song("Night Ferry").popularity, 2);
    assert_eq!(song("Weather Vane").popularity, 0);
    let paradiso = show_by_setlistfm(&app, "63de4613").await;
    assert_eq!(paradiso.status.as_str(), "completed");
    assert_eq!(d.actual_setlist(paradiso.id).await.unwrap().len(), 9);
    let berlin = show_by_setlistfm(&app, "4bd7e3a2").await;
    assert_eq!(berlin.status.as_str(), "upcoming");
    // A new upcoming show is seeded with what the artist plays most.
    let seeded: Vec<String> = d.ranking(berlin.id).await.unwrap().iter().map(|r| r.title.clone()).collect();
    assert!(seeded.contains(&"Night Ferry".to_owned()), "{seeded:?}");

    // The finished job page shows the report.
    let html = admin.get(app.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("done") && html.contains("setlists"), "{html}");

    // What the APIs saw: our User-Agent everywhere, the key only on setlist.fm, the rate limits
    // (MusicBrainz 1/s, setlist.fm 2/s) and a pause for each Retry-After.
    let mb = apis.requests("/ws/2/");
    let sfm = apis.requests("/rest/1.0/");
    assert_eq!(mb.len(), 4, "search, recordings page 1, page 2 refused with 503, page 2: {mb:?}");
    assert_eq!(sfm.len(), 3, "page 1, page 2 refused with 429, page 2: {sfm:?}");
    assert!(mb.iter().chain(&sfm).all(|r| r.user_agent.starts_with("MySetlist-test/1.0")));
    assert!(mb.iter().all(|r| r.api_key.is_none()), "the setlist.fm key never goes to MusicBrainz");
    assert!(sfm.iter().all(|r| r.api_key.as_deref() == Some(crate::fake_apis::API_KEY)));
    for g in gaps(&mb) {
        assert!(g >= std::time::Duration::from_millis(950), "MusicBrainz requests {g:?} apart: {mb:?}");
    }
    for g in gaps(&sfm) {
        assert!(g >= std::time::Duration::from_millis(450), "setlist.fm requests {g:?} apart");
    }
    assert_eq!((mb[2].status, sfm[1].status), (503, 429));
    assert!(mb[0].query.contains("fmt=json") && mb[3].query.contains("offset=100"), "{mb:?}");
    assert!(sfm[2].query.contains("p=2"), "{sfm:?}");
    assert!(mb[3].at.duration_since(mb[2].at) >= std::time::Duration::from_millis(990), "Retry-After honoured");
    assert!(sfm[2].at.duration_since(sfm[1].at) >= std::time::Duration::from_millis(990), "Retry-After honoured");

    // Importing again adds nothing.
    let html = admin.get(app.url("/admin/import")).send().await.unwrap().text().await.unwrap();
    let csrf = form_value(&html, "csrf").unwrap();
    let again = admin
        .post(app.url("/admin/import"))
        .form(&[("csrf", csrf.as_str()), ("artist", "northern static")])
        .send()
        .await
        .unwrap();
    let id = again.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let second = wait_for_job(&app, &admin, &id).await;
    assert_eq!(second["state"], "done", "{second}");
    for row in second["summary"].as_array().unwrap() {
        assert_eq!((row["created"].as_u64(), row["updated"].as_u64()), (Some(0), Some(0)), "{second}");
    }
    app.stop().await;
}

#[tokio::test]
async fn import_pages_are_for_admins_and_unknown_artists_fail_clearly() {
    let apis = crate::fake_apis::start().await;
    let env = apis.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&env).await;

    let anonymous = app.client();
    let to_login = anonymous.get(app.url("/admin/import")).send().await.unwrap();
    assert_eq!(to_login.status(), 303, "signed-out visitors are sent to sign in");
    assert_eq!(to_login.headers()["location"], "/login?next=%2Fadmin%2Fimport");
    let progress = anonymous.get(app.url("/admin/import/jobs/1/progress")).send().await.unwrap();
    assert_eq!(progress.status(), 401);
    assert_eq!(progress.headers()["content-type"], "application/problem+json");
    let (moderator, _) = app.signed_in("mod@example.org", Role::Moderator).await;
    assert_eq!(moderator.get(app.url("/admin/import")).send().await.unwrap().status(), 403);
    assert_eq!(moderator.get(app.url("/admin/import/jobs/1/progress")).send().await.unwrap().status(), 403);

    let (admin, _) = app.signed_in("admin@example.org", Role::Admin).await;
    assert_eq!(admin.get(app.url("/admin/import/jobs/99")).send().await.unwrap().status(), 404);
    let html = admin.get(app.url("/admin/import")).send().await.unwrap().text().await.unwrap();
    let csrf = form_value(&html, "csrf").unwrap();
    let empty =
        admin.post(app.url("/admin/import")).form(&[("csrf", csrf.as_str()), ("artist", "  ")]).send().await.unwrap();
    assert_eq!(empty.status(), 422);
    assert!(empty.text().await.unwrap().contains("artist: must not be empty"));

    let started = admin
        .post(app.url("/admin/import"))
        .form(&[("csrf", csrf.as_str()), ("artist", "Nobody Anyone Knows")])
        .send()
        .await
        .unwrap();
    let id = started.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let failed = wait_for_job(&app, &admin, &id).await;
    assert_eq!(failed["state"], "failed");
    assert!(
        failed["error"].as_str().unwrap().contains("MusicBrainz has no artist named Nobody Anyone Knows"),
        "{failed}"
    );
    app.stop().await;
}
