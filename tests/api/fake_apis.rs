//! A local stand-in for MusicBrainz (ws/2) and setlist.fm (rest/1.0): a poem server on a loopback port
//! serving recorded responses of the documented shapes from tests/fixtures, checking the API key, and
//! logging every request with its arrival time so tests can check rate limits and retries.
//!
//! Overload is simulated the way the real services do it: the first request for the second page of
//! recordings gets `503` + `Retry-After: 1` (MusicBrainz), the first request for page 2 of an artist's
//! setlists gets `429` + `Retry-After: 1` (setlist.fm).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Path, Query};
use poem::{EndpointExt, Request, Response, Route, Server, get, handler};

use crate::import::read_fixture;

pub const API_KEY: &str = "test-key";
pub const ARTIST_MBID: &str = "5b11f4ce-a62d-471e-81fc-a69a8278c7da";

#[derive(Debug, Clone)]
pub struct Logged {
    pub path: String,
    pub query: String,
    pub at: Instant,
    pub user_agent: String,
    pub api_key: Option<String>,
    pub status: u16,
}

#[derive(Default)]
pub struct State {
    pub log: Mutex<Vec<Logged>>,
    /// Requests refused once already (by a key naming the overloaded resource).
    refused: Mutex<Vec<&'static str>>,
    /// Dates (dd-MM-yyyy) on which the artist has a setlist.
    pub setlist_dates: Mutex<Vec<String>>,
}

pub struct FakeApis {
    pub base: String,
    pub state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeApis {
    pub fn musicbrainz_url(&self) -> String {
        format!("{}/ws/2", self.base)
    }
    pub fn setlistfm_url(&self) -> String {
        format!("{}/rest/1.0", self.base)
    }
    /// The settings that point the app at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MYSETLIST_IMPORT__SETLISTFM_API_KEY", API_KEY.to_owned()),
            ("MYSETLIST_IMPORT__SETLISTFM_BASE_URL", self.setlistfm_url()),
            ("MYSETLIST_IMPORT__MUSICBRAINZ_BASE_URL", self.musicbrainz_url()),
            ("MYSETLIST_IMPORT__USER_AGENT", "MySetlist-test/1.0 (+https://mysetlist.invalid/contact)".to_owned()),
        ]
    }
    pub fn requests(&self, prefix: &str) -> Vec<Logged> {
        self.state.log.lock().iter().filter(|l| l.path.starts_with(prefix)).cloned().collect()
    }
}

impl Drop for FakeApis {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn json(status: StatusCode, body: String) -> Response {
    Response::builder().status(status).content_type("application/json;charset=UTF-8").body(body)
}

fn overloaded(status: StatusCode) -> Response {
    Response::builder()
        .status(status)
        .header("retry-after", "1")
        .content_type("application/json")
        .body(r#"{"error":"Your requests are exceeding the allowable rate limit."}"#)
}

fn log(state: &State, req: &Request, status: u16) {
    state.log.lock().push(Logged {
        path: req.uri().path().to_owned(),
        query: req.uri().query().unwrap_or_default().to_owned(),
        at: Instant::now(),
        user_agent: req.header("user-agent").unwrap_or_default().to_owned(),
        api_key: req.header("x-api-key").map(str::to_owned),
        status,
    });
}

/// Refuses the first request for `key` with `status` + Retry-After, answers later ones.
fn refuse_once(state: &State, key: &'static str) -> bool {
    let mut refused = state.refused.lock();
    if refused.contains(&key) {
        false
    } else {
        refused.push(key);
        true
    }
}

#[handler]
fn mb_artist(req: &Request, Data(state): Data<&Arc<State>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let query = q.get("query").cloned().unwrap_or_default();
    let resp = if q.get("fmt").map(String::as_str) != Some("json") {
        json(StatusCode::BAD_REQUEST, r#"{"error":"fmt=json expected"}"#.into())
    } else if query.to_lowercase().contains("northern static") {
        json(StatusCode::OK, read_fixture("musicbrainz/artist_search.json"))
    } else {
        json(StatusCode::OK, r#"{"created":"2024-07-01T10:00:00.000Z","count":0,"offset":0,"artists":[]}"#.into())
    };
    log(state, req, resp.status().as_u16());
    resp
}

#[handler]
fn mb_recordings(req: &Request, Data(state): Data<&Arc<State>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let offset = q.get("offset").cloned().unwrap_or_default();
    let resp = if q.get("artist").map(String::as_str) != Some(ARTIST_MBID) {
        json(StatusCode::OK, r#"{"recording-count":0,"recording-offset":0,"recordings":[]}"#.into())
    } else if offset == "0" {
        json(StatusCode::OK, read_fixture("musicbrainz/recordings_offset_0.json"))
    } else if offset == "100" {
        if refuse_once(state, "recordings-100") {
            overloaded(StatusCode::SERVICE_UNAVAILABLE)
        } else {
            json(StatusCode::OK, read_fixture("musicbrainz/recordings_offset_100.json"))
        }
    } else {
        json(StatusCode::OK, r#"{"recording-count":112,"recording-offset":200,"recordings":[]}"#.into())
    };
    log(state, req, resp.status().as_u16());
    resp
}

fn authorised(req: &Request) -> bool {
    req.header("x-api-key") == Some(API_KEY)
}

const NOT_FOUND: &str =
    r#"{"code":404,"status":"Not Found","message":"not found","timestamp":"2024-07-01T10:00:00.000+0000"}"#;

#[handler]
fn sfm_artist_setlists(
    req: &Request,
    Data(state): Data<&Arc<State>>,
    Path(mbid): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let page = q.get("p").cloned().unwrap_or_else(|| "1".into());
    let resp = if !authorised(req) {
        json(StatusCode::FORBIDDEN, r#"{"code":403,"status":"Forbidden","message":"Forbidden"}"#.into())
    } else if mbid != ARTIST_MBID {
        json(StatusCode::NOT_FOUND, NOT_FOUND.into())
    } else if page == "1" {
        json(StatusCode::OK, read_fixture("setlistfm/artist_setlists_p1.json"))
    } else if page == "2" {
        if refuse_once(state, "setlists-p2") {
            overloaded(StatusCode::TOO_MANY_REQUESTS)
        } else {
            json(StatusCode::OK, read_fixture("setlistfm/artist_setlists_p2.json"))
        }
    } else {
        json(StatusCode::NOT_FOUND, NOT_FOUND.into())
    };
    log(state, req, resp.status().as_u16());
    resp
}

#[handler]
fn sfm_search(req: &Request, Data(state): Data<&Arc<State>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let date = q.get("date").cloned().unwrap_or_default();
    let known = state.setlist_dates.lock().contains(&date);
    let resp = if !authorised(req) {
        json(StatusCode::FORBIDDEN, r#"{"code":403,"status":"Forbidden","message":"Forbidden"}"#.into())
    } else if q.get("artistMbid").map(String::as_str) == Some(ARTIST_MBID) && known {
        let id = format!("7{}", date.replace('-', ""));
        json(
            StatusCode::OK,
            read_fixture("setlistfm/search_on_date.json").replace("EVENT_ID", &id).replace("EVENT_DATE", &date),
        )
    } else {
        json(StatusCode::NOT_FOUND, NOT_FOUND.into())
    };
    log(state, req, resp.status().as_u16());
    resp
}

pub async fn start() -> FakeApis {
    let state = Arc::new(State::default());
    let app = Route::new()
        .at("/ws/2/artist", get(mb_artist))
        .at("/ws/2/recording", get(mb_recordings))
        .at("/rest/1.0/artist/:mbid/setlists", get(sfm_artist_setlists))
        .at("/rest/1.0/search/setlists", get(sfm_search))
        .data(state.clone());
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("bind the fake APIs");
    let addr = acceptor.local_addr()[0].as_socket_addr().copied().expect("a TCP address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                app,
                async move {
                    let _ = stopped.await;
                },
                None,
            )
            .await;
    });
    FakeApis { base: format!("http://{addr}"), state, stop: Some(stop) }
}
