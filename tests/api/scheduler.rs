//! The scheduler, driven with short intervals against the real database; effects are polled for with
//! bounded timeouts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mysetlist::db::jobs::JobOutcome;
use mysetlist::db::setlist_fetches::LookupOutcome;
use mysetlist::db::{self, DbError};
use mysetlist::domain::{ArtistInput, CurrentUser, Role, ShowInput, VenueInput};
use mysetlist::ops::{Backoff, Intervals, Scheduler};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::helpers::*;

const FAST: Duration = Duration::from_millis(50);
const WAIT: Duration = Duration::from_secs(10);

fn system() -> CurrentUser {
    CurrentUser { id: 0, email: "system".into(), display_name: "system".into(), role: Role::Admin }
}

async fn job_run(app: &TestApp, job: &'static str) -> Option<db::jobs::JobRun> {
    let runs = app.database().read(db::jobs::all).await.unwrap();
    runs.into_iter().find(|r| r.job == job)
}

async fn status(app: &TestApp, show_id: i64) -> String {
    app.domain().show_by_id(show_id).await.unwrap().status.as_str().to_owned()
}

#[tokio::test]
async fn the_server_runs_the_standard_jobs_at_start() {
    let app = spawn_app().await;
    for job in ["lock_shows", "complete_shows", "fetch_setlists", "retention"] {
        let run = wait_for(WAIT, || async { job_run(&app, job).await }).await;
        let run = run.unwrap_or_else(|| panic!("{job} never ran"));
        assert_eq!(run.last_outcome, Some(JobOutcome::Ok), "{run:?}");
        assert!(run.last_finished >= run.last_started);
    }
    assert!(job_run(&app, "backup_verify").await.is_none(), "no verify hook without replication");
    app.stop().await;
}

#[tokio::test]
async fn shows_lock_at_their_start_and_complete_when_over() {
    let app = spawn_app().await;
    let soon = app.seed_show(chrono::Duration::milliseconds(1500), 3).await;
    let over = app.seed_show(chrono::Duration::hours(-5), 3).await;
    let later = app.seed_show(chrono::Duration::days(3), 3).await;
    let scheduler =
        Scheduler::standard(app.database().clone(), app.state.importer.clone(), &Intervals::all(FAST), None);
    let (_primary, primary_rx) = watch::channel(true);
    let handle = scheduler.start(primary_rx);

    // The past show goes upcoming -> locked -> completed; the one starting now gets locked.
    let completed = wait_for(WAIT, || async { (status(&app, over.show_id).await == "completed").then_some(()) }).await;
    assert!(completed.is_some(), "the show that started 5 h ago was not completed");
    let locked = wait_for(WAIT, || async { (status(&app, soon.show_id).await == "locked").then_some(()) }).await;
    assert!(locked.is_some(), "the show that just started was not locked");
    assert_eq!(status(&app, later.show_id).await, "upcoming");

    // The page of the locked show no longer offers voting (its cached page was invalidated).
    let html = app.client().get(app.url(&format!("/shows/{}", soon.slug))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Voting has closed"), "{html}");
    handle.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn retention_purges_old_sessions_network_hashes_and_audit_entries() {
    let app = spawn_app().await;
    let d = app.domain();
    let user = app.user("fan@example.org", Role::User).await;
    let show = app.seed_show(chrono::Duration::days(2), 2).await;
    let (song, song2, uid, show_id) = (show.song_ids[0], show.song_ids[1], user.id, show.show_id);
    let now = d.now();
    let day = 86_400;
    app.database()
        .write(move |c| {
            // Idle for 20 days (idle timeout 14 d), and a fresh one.
            db::sessions::insert(c, b"old-session-hash-000000000000000", uid, "csrf", now - 20 * day, now + 70 * day)?;
            db::sessions::insert(c, b"new-session-hash-000000000000000", uid, "csrf", now, now + 90 * day)?;
            // A vote from 40 days ago (ip data kept 30 d) and one from now.
            let old = Some(&b"net-old"[..]);
            let vote = db::votes::Vote {
                show_id,
                song_id: song,
                voter: "dold",
                user_id: None,
                ip_hash: old,
                at: now - 40 * day,
            };
            db::votes::toggle(c, &vote)?;
            let new = Some(&b"net-new"[..]);
            let vote = db::votes::Vote { show_id, song_id: song2, voter: "dnew", user_id: None, ip_hash: new, at: now };
            db::votes::toggle(c, &vote)?;
            // Audit entries from 400 days ago (kept 365 d) and now.
            db::audit::append(c, None, "test.old", "test", "1", &serde_json::json!({}), now - 400 * day)?;
            db::audit::append(c, None, "test.new", "test", "2", &serde_json::json!({}), now)?;
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    let app_ref = &app;
    let count = |sql: &'static str| crate::import::count(app_ref, sql);

    let handle = Scheduler::standard(app.database().clone(), app.state.importer.clone(), &Intervals::all(FAST), None)
        .start(watch::channel(true).1);
    let purged = wait_for(WAIT, || async {
        (count("SELECT count(*) FROM sessions WHERE token_hash = CAST('old-session-hash-000000000000000' AS BLOB)")
            .await
            == 0
            && count("SELECT count(*) FROM votes WHERE voter = 'dold' AND ip_hash IS NOT NULL").await == 0
            && count("SELECT count(*) FROM audit_log WHERE action = 'test.old'").await == 0)
            .then_some(())
    })
    .await;
    assert!(purged.is_some(), "old data was not purged");
    assert_eq!(count("SELECT count(*) FROM votes WHERE voter = 'dold'").await, 1, "the vote stays, its hash goes");
    assert_eq!(count("SELECT count(*) FROM votes WHERE voter = 'dnew' AND ip_hash IS NOT NULL").await, 1);
    assert_eq!(count("SELECT count(*) FROM sessions").await, 1);
    assert_eq!(count("SELECT count(*) FROM audit_log WHERE action = 'test.new'").await, 1);
    handle.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn a_failing_job_retries_with_backoff_while_the_others_keep_running() {
    let app = spawn_app().await;
    let attempts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let steady = Arc::new(AtomicUsize::new(0));
    let (a, s) = (attempts.clone(), steady.clone());
    let backoff = Backoff { first: Duration::from_millis(100), max: Duration::from_millis(800) };
    let handle = Scheduler::new(app.database().clone())
        .backoff(backoff)
        .job("flaky", Duration::from_millis(20), move || {
            let a = a.clone();
            async move {
                a.lock().push(Instant::now());
                anyhow::bail!("upstream is down")
            }
        })
        .job("steady", Duration::from_millis(20), move || {
            let s = s.clone();
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .start(watch::channel(true).1);

    let enough = wait_for(WAIT, || async { (attempts.lock().len() >= 5).then_some(()) }).await;
    assert!(enough.is_some(), "the failing job was not retried");
    let times = attempts.lock().clone();
    // Delays after failures 1..4: 100, 200, 400, 800 ms (the job's own interval is 20 ms).
    for (i, w) in times.windows(2).take(4).enumerate() {
        let expected = backoff.after(i as u32 + 1);
        let gap = w[1].duration_since(w[0]);
        assert!(gap >= expected.mul_f64(0.9), "retry {} after {gap:?}, expected about {expected:?}", i + 1);
    }
    // Meanwhile the healthy job ran on its own schedule, many times.
    let total = times.last().unwrap().duration_since(times[0]);
    let runs = steady.load(Ordering::SeqCst);
    assert!(runs >= 10, "steady ran only {runs} times in {total:?}: it waited for the failing job");

    let flaky = wait_for(WAIT, || async { job_run(&app, "flaky").await.filter(|r| r.failures >= 4) }).await.unwrap();
    assert_eq!(flaky.last_outcome, Some(JobOutcome::Failed));
    assert_eq!(flaky.last_error.as_deref(), Some("upstream is down"));
    let ok = job_run(&app, "steady").await.unwrap();
    assert_eq!((ok.last_outcome, ok.failures), (Some(JobOutcome::Ok), 0));
    handle.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn jobs_pause_while_the_node_is_not_primary() {
    let app = spawn_app().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let (primary, primary_rx) = watch::channel(false);
    let handle = Scheduler::new(app.database().clone())
        .job("probe", Duration::from_millis(20), move || {
            let r = r.clone();
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .start(primary_rx);

    // A standby runs nothing: observe a window of 15 intervals.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 0, "a job ran while the node was not primary");
    assert!(job_run(&app, "probe").await.is_none());

    primary.send_replace(true);
    let ran = wait_for(WAIT, || async { (runs.load(Ordering::SeqCst) >= 3).then_some(()) }).await;
    assert!(ran.is_some(), "jobs did not start after promotion");

    primary.send_replace(false);
    // At most one run in flight may still finish after demotion; then nothing.
    tokio::time::sleep(Duration::from_millis(60)).await;
    let settled = runs.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs.load(Ordering::SeqCst), settled, "jobs kept running after demotion");
    handle.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn finished_shows_get_their_actual_setlist_from_setlistfm() {
    let apis = crate::fake_apis::start().await;
    let env = apis.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&env).await;
    // The app's own scheduler looks up setlists once at start (then every 30 minutes): let that run
    // finish before the shows exist, so that only the fast scheduler below sees them.
    wait_for(WAIT, || async { job_run(&app, "fetch_setlists").await.and_then(|r| r.last_finished) })
        .await
        .expect("the app's scheduler ran fetch_setlists at start");
    let d = app.domain();
    let admin = system();
    let artist_id = d
        .create_artist(
            &admin,
            ArtistInput {
                name: "Northern Static".into(),
                mbid: crate::fake_apis::ARTIST_MBID.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let venue_id = d
        .create_venue(
            &admin,
            VenueInput {
                name: "The Roundhouse".into(),
                city: "London".into(),
                country: "GB".into(),
                timezone: "Europe/London".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let show = |hours_ago: i64| ShowInput {
        artist_id,
        venue_id,
        starts_at: (chrono::Utc::now() - chrono::Duration::hours(hours_ago)).to_rfc3339(),
        status: "locked".into(),
        ..Default::default()
    };
    let london: chrono_tz::Tz = "Europe/London".parse().unwrap();
    let played_input = show(26);
    let date = chrono::DateTime::parse_from_rfc3339(&played_input.starts_at).unwrap().with_timezone(&london);
    apis.state.setlist_dates.lock().push(date.format("%d-%m-%Y").to_string());
    let played = d.create_show(&admin, played_input).await.unwrap();
    let not_online_yet = d.create_show(&admin, show(50)).await.unwrap();
    let too_recent = d.create_show(&admin, show(1)).await.unwrap();

    let handle = Scheduler::standard(
        app.database().clone(),
        app.state.importer.clone(),
        &Intervals::all(Duration::from_millis(100)),
        None,
    )
    .start(watch::channel(true).1);
    let stored = wait_for(WAIT, || async {
        let entries = d.actual_setlist(played).await.unwrap();
        (!entries.is_empty()).then_some(entries)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "the setlist of the finished show ({}) was not fetched; lookups: {:?}",
            date.format("%d-%m-%Y"),
            apis.requests("/rest/1.0/search/setlists")
        )
    });
    assert_eq!(stored.iter().map(|e| e.title.as_str()).collect::<Vec<_>>(), ["Undertow", "Paper Moons", "Night Ferry"]);
    let show = d.show_by_id(played).await.unwrap();
    assert_eq!(show.status.as_str(), "completed");
    assert_eq!(show.accuracy, None, "nobody voted: nothing to score");
    assert!(show.setlistfm_url.as_deref().unwrap().contains("setlist.fm"));

    // The show without a setlist online is looked up once, then left alone for hours.
    let database = app.database();
    let fetches = |id: i64| async move { database.read(move |c| db::setlist_fetches::get(c, id)).await.unwrap() };
    let missing = wait_for(WAIT, || async { fetches(not_online_yet).await }).await.unwrap();
    assert_eq!(missing.last_outcome, LookupOutcome::NotFound);
    let runs_before = job_run(&app, "fetch_setlists").await.unwrap().last_started;
    wait_for(WAIT, || async {
        job_run(&app, "fetch_setlists").await.filter(|r| r.last_started > runs_before).map(|_| ())
    })
    .await;
    assert_eq!(fetches(not_online_yet).await.unwrap().attempts, 1, "not retried before RETRY_EVERY");
    assert!(fetches(too_recent).await.is_none(), "a show that just started is not over yet");
    assert_eq!(fetches(played).await.unwrap().last_outcome, LookupOutcome::Found);
    let lookups = apis.requests("/rest/1.0/search/setlists");
    assert_eq!(lookups.len(), 2, "{lookups:?}");
    handle.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn the_backup_verify_hook_runs_after_its_first_delay_and_is_recorded() {
    let app = spawn_app().await;
    let calls: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let c = calls.clone();
    let verify: mysetlist::ops::JobFn = Arc::new(move || {
        let c = c.clone();
        Box::pin(async move {
            c.lock().push(Instant::now());
            Ok(())
        })
    });
    let every = Duration::from_millis(300);
    let started = Instant::now();
    let handle =
        Scheduler::standard(app.database().clone(), app.state.importer.clone(), &Intervals::all(every), Some(verify))
            .start(watch::channel(true).1);
    let run = wait_for(WAIT, || async { job_run(&app, "backup_verify").await }).await.expect("the hook ran");
    assert_eq!(run.last_outcome, Some(JobOutcome::Ok));
    let first = calls.lock()[0];
    assert!(first.duration_since(started) >= every.mul_f64(0.9), "the drill does not run at start");
    handle.stop().await;
    app.stop().await;
}
