//! The test harness: start the real application on port 0 with a temp data dir (zero2prod's
//! spawn_app), plus helpers to seed data and act as fans and admins over HTTP.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysetlist::app::Application;
use mysetlist::config::{self, Config};
use mysetlist::db::Database;
use mysetlist::domain::{ArtistInput, CurrentUser, Domain, Role, ShowInput, SongInput, VenueInput};
use mysetlist::http::AppState;

pub struct TestApp {
    pub addr: SocketAddr,
    /// The separate /metrics listener (`metrics.listen`), when configured.
    pub metrics_addr: Option<SocketAddr>,
    pub base: String,
    pub state: Arc<AppState>,
    database: Database,
    pub dir: tempfile::TempDir,
    pub shutdown: Arc<tokio::sync::Notify>,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub fn test_config(dir: &std::path::Path, extra: &[(&str, &str)]) -> Config {
    let mut env: Vec<(String, String)> = vec![
        ("MYSETLIST_DATA_DIR".into(), dir.display().to_string()),
        ("MYSETLIST_LISTEN".into(), "127.0.0.1:0".into()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    config::load_from(None, &env).expect("test config is valid")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn_app_in(tempfile::tempdir().expect("temp dir"), extra).await
}

/// Starts the app on an existing data directory (e.g. one the CLI prepared).
pub async fn spawn_app_in(dir: tempfile::TempDir, extra: &[(&str, &str)]) -> TestApp {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = test_config(dir.path(), extra);
    let app = Application::build(config, false).await.expect("app builds");
    TestApp::serve(app, dir)
}

/// A shutdown future for [`Application::run_until`]: completes once `notify` is notified.
pub async fn stopped_by(notify: Arc<tokio::sync::Notify>) {
    notify.notified().await
}

impl TestApp {
    /// Runs a built application in the background; `dir` lives as long as the returned app.
    pub fn serve(app: Application, dir: tempfile::TempDir) -> TestApp {
        let addr = app.local_addr();
        let metrics_addr = app.metrics_addr();
        let state = app.state();
        let database = app.database().clone();
        let shutdown = Arc::new(tokio::sync::Notify::new());
        let task = tokio::spawn(app.run_until(stopped_by(shutdown.clone())));
        TestApp { base: format!("http://{addr}"), addr, metrics_addr, state, database, dir, shutdown, task }
    }

    pub fn domain(&self) -> &Arc<Domain> {
        &self.state.domain
    }

    /// The app's database, for tests that seed or inspect storage below the domain.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// A client with its own cookie jar: one browser.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Creates a user directly (not via HTTP) and returns it.
    pub async fn user(&self, email: &str, role: Role) -> CurrentUser {
        let id = self.domain().sign_up(email, "correct horse battery", "", role).await.expect("sign up");
        self.domain().user(id).await.unwrap().unwrap()
    }

    /// A client signed in as a new user with the role.
    pub async fn signed_in(&self, email: &str, role: Role) -> (reqwest::Client, CurrentUser) {
        let user = self.user(email, role).await;
        let c = self.client();
        let r = c
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"email": email, "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login failed: {}", r.text().await.unwrap_or_default());
        (c, user)
    }

    /// Seeds an artist with `songs` songs, a venue and a show starting `starts_in` from now.
    pub async fn seed_show(&self, starts_in: chrono::Duration, songs: usize) -> Seeded {
        let admin = CurrentUser { id: 0, email: "system".into(), display_name: "system".into(), role: Role::Admin };
        let d = self.domain();
        let n: u32 = rand::random();
        let artist_id =
            d.create_artist(&admin, ArtistInput { name: format!("Band {n}"), ..Default::default() }).await.unwrap();
        let mut song_ids = Vec::new();
        for i in 0..songs {
            let s = SongInput { title: format!("Song {i}"), popularity: (100 - i) as i64, ..Default::default() };
            song_ids.push(d.create_song(&admin, artist_id, s).await.unwrap());
        }
        let venue_id = d
            .create_venue(
                &admin,
                VenueInput {
                    name: format!("Hall {n}"),
                    city: "Berlin".into(),
                    country: "DE".into(),
                    timezone: "Europe/Berlin".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let starts_at = (chrono::Utc::now() + starts_in).to_rfc3339();
        let show_id =
            d.create_show(&admin, ShowInput { artist_id, venue_id, starts_at, ..Default::default() }).await.unwrap();
        let slug = d.show_by_id(show_id).await.unwrap().slug;
        Seeded { artist_id, venue_id, show_id, song_ids, slug }
    }

    /// A client that carries a session created directly by the domain (no password hashing: fast).
    pub async fn session_client(&self, user: &CurrentUser) -> reqwest::Client {
        let s = self.domain().create_session(user).await.expect("session");
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::COOKIE,
            format!("{}={}", mysetlist::http::session_cookie_name(false), s.token).parse().unwrap(),
        );
        reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client")
    }

    /// The database file, opened read-only beside the running app (what a test checks state with).
    pub fn db(&self) -> rusqlite::Connection {
        let path = self.dir.path().join("mysetlist.db");
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open db")
    }

    /// Runs one statement on the database file beside the running app (through SQLite, which
    /// locks it properly): a test that moves a stored time. Returns the rows changed.
    pub fn db_write(&self, sql: &str, params: impl rusqlite::Params) -> usize {
        let c = rusqlite::Connection::open(self.dir.path().join("mysetlist.db")).expect("open db");
        c.busy_timeout(Duration::from_secs(10)).unwrap();
        c.execute(sql, params).expect(sql)
    }

    /// One integer from a query on the database file.
    pub fn count(&self, sql: &str, params: impl rusqlite::Params) -> i64 {
        self.db().query_row(sql, params, |r| r.get(0)).expect(sql)
    }

    pub async fn stop(self) {
        self.shutdown.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }

    /// Stops the app and hands back its data directory (to serve it again, e.g. from a process).
    pub async fn stop_keeping_dir(self) -> tempfile::TempDir {
        self.shutdown.notify_one();
        let stopped = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        assert!(matches!(stopped, Ok(Ok(Ok(())))), "the app stops cleanly: {stopped:?}");
        self.dir
    }
}

pub struct Seeded {
    pub artist_id: i64,
    pub venue_id: i64,
    pub show_id: i64,
    pub song_ids: Vec<i64>,
    pub slug: String,
}

/// Polls `check` until it returns Some or the timeout passes (no sleeps as synchronisation).
pub async fn wait_for<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(v) = check().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Pulls a hidden form field's value out of an HTML page.
pub fn form_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// Asserts that a response is a problem+json document with `status` and returns its body.
pub async fn problem(resp: reqwest::Response, status: u16) -> serde_json::Value {
    let got = resp.status().as_u16();
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(got, status, "unexpected status; body: {text}");
    assert!(content_type.starts_with("application/problem+json"), "content-type {content_type:?} for body {text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert_eq!(body["status"], status, "status member of {body}");
    assert!(body["code"].is_string(), "code member of {body}");
    assert!(body["detail"].is_string(), "detail member of {body}");
    body
}

/// Asserts a 204 No Content answer (updates and deletes).
pub async fn no_content(resp: reqwest::Response) {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(status, 204, "{text}");
    assert!(text.is_empty(), "a 204 has no body: {text}");
}

/// Asserts a 2xx JSON response and returns its body.
pub async fn ok_json(resp: reqwest::Response) -> serde_json::Value {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(status.is_success(), "status {status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// The session cookie's value from a response's Set-Cookie headers.
pub fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let first = c.split(';').next()?;
        let (k, v) = first.split_once('=')?;
        (k.trim() == "session").then(|| v.to_owned())
    })
}

/// GETs a page: its status and HTML (a redirect has no HTML).
pub async fn get_html(c: &reqwest::Client, url: &str) -> (reqwest::StatusCode, String) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status();
    if status != reqwest::StatusCode::SEE_OTHER {
        let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert!(ct.starts_with("text/html"), "{url}: expected HTML, got {ct}");
    }
    (status, r.text().await.unwrap())
}

/// The page's form token (first hidden `csrf` field).
pub async fn csrf(c: &reqwest::Client, url: &str) -> String {
    let (status, html) = get_html(c, url).await;
    assert_eq!(status, 200, "{url}");
    form_value(&html, "csrf").unwrap_or_else(|| panic!("{url} has no csrf field"))
}

/// The Location header of a redirect.
pub fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}
