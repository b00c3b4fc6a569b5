//! Optional error tracking (a Sentry DSN) and request traces (OTLP over HTTP), with the real binary
//! (the global log subscriber is per process) against a local receiver on 127.0.0.1: a poem server
//! that records every request. The real services cannot run here; the receiver checks what is sent
//! where, in which format, and that nothing personal is in it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use poem::listener::{Acceptor, Listener};

use crate::helpers::*;
use crate::server_process::{self, ServerProcess};

#[derive(Clone, Debug)]
struct Captured {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Records every POST, answers 200 with an empty body (enough for both protocols), or what
/// [`Capture::start_answering`] says.
struct Capture {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Captured>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Capture {
    async fn start() -> Capture {
        Capture::start_answering(poem::http::StatusCode::OK, None).await
    }

    async fn start_answering(status: poem::http::StatusCode, header: Option<(&'static str, &'static str)>) -> Capture {
        let seen: Arc<Mutex<Vec<Captured>>> = Arc::default();
        let sink = seen.clone();
        let ep = poem::endpoint::make(move |mut req: poem::Request| {
            let sink = sink.clone();
            async move {
                let body = req.take_body().into_vec().await.unwrap_or_default();
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                sink.lock().push(Captured { path: req.uri().path().to_owned(), headers, body });
                let mut answer = poem::Response::builder().status(status);
                if let Some((name, value)) = header {
                    answer = answer.header(name, value);
                }
                answer.finish()
            }
        });
        let acceptor = poem::listener::TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
        let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
        let route = poem::Route::new().at("/*path", poem::post(ep));
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(route).await;
        });
        Capture { addr, seen, task }
    }

    fn at(&self, path: &str) -> Vec<Captured> {
        self.seen.lock().iter().filter(|c| c.path == path).cloned().collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_errors_reach_sentry_without_personal_data_and_requests_become_otlp_spans() {
    let receiver = Capture::start().await;
    let dir = database_whose_searches_fail();
    let server = ServerProcess::start({
        let mut cmd = server_process::command(server_process::binary(), dir.path());
        cmd.arg("serve")
            .env("MYSETLIST_TELEMETRY__SENTRY_DSN", format!("http://public-key@{}/42", receiver.addr))
            .env("MYSETLIST_TELEMETRY__ENVIRONMENT", "test")
            .env("MYSETLIST_TELEMETRY__OTLP_ENDPOINT", format!("http://{}", receiver.addr))
            .env("MYSETLIST_TELEMETRY__SERVICE_NAME", "mysetlist-under-test");
        cmd
    });
    let c = reqwest::Client::new();
    let r = c
        .get(server.url("/api/v1/search?q=band&token=query-secret-1"))
        .header("cookie", "session=cookie-secret-2")
        .header("authorization", "Bearer bearer-secret-3")
        .header("x-forwarded-for", "203.0.113.77")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let shown = r.text().await.unwrap();
    assert!(!shown.contains("search_index"), "internal errors are logged, never shown: {shown}");
    assert_eq!(c.get(server.url("/livez")).send().await.unwrap().status(), 200);

    // The error report goes out at once, to the DSN's envelope endpoint with the DSN's key.
    let reports = wait_for(Duration::from_secs(20), || async {
        let r = receiver.at("/api/42/envelope/");
        (!r.is_empty()).then_some(r)
    })
    .await
    .unwrap_or_else(|| panic!("no error report arrived:\n{}", server.lines().join("\n")));
    let report = &reports[0];
    assert!(report.header("x-sentry-auth").is_some_and(|a| a.contains("sentry_key=public-key")), "{report:?}");
    assert_eq!(report.header("content-type"), Some("application/x-sentry-envelope"));
    let text = report.text();
    assert!(text.contains("internal error") && text.contains("search_index"), "{text}");
    assert!(text.contains("\"environment\":\"test\""), "{text}");

    // Stopping flushes the batched spans.
    let lines = server.stop();
    let reports = receiver.at("/api/42/envelope/");
    for r in &reports {
        let text = r.text();
        for secret in ["query-secret-1", "cookie-secret-2", "bearer-secret-3", "203.0.113.77", "ip_address"] {
            assert!(!text.contains(secret), "`{secret}` was sent to Sentry: {text}");
        }
        assert!(!text.contains("latency_ms"), "the request log line is no error report of its own: {text}");
    }
    assert_eq!(reports.iter().filter(|r| r.text().contains("internal error")).count(), 1, "one report per error");

    let traces = receiver.at("/v1/traces");
    assert!(!traces.is_empty(), "no spans arrived:\n{}", lines.join("\n"));
    assert!(traces.iter().all(|t| t.header("content-type") == Some("application/x-protobuf")));
    let all: Vec<u8> = traces.iter().flat_map(|t| t.body.clone()).collect();
    let all = String::from_utf8_lossy(&all);
    for expected in
        ["mysetlist-under-test", "GET /api/v1/search", "http.route", "http.response.status_code", "GET /livez"]
    {
        assert!(
            all.contains(expected),
            "no `{expected}` in the exported spans: {}",
            all.replace(|c: char| c.is_control(), " ")
        );
    }
    for secret in ["query-secret-1", "cookie-secret-2", "bearer-secret-3", "203.0.113.77"] {
        assert!(!all.contains(secret), "`{secret}` was exported in a span");
    }
}

/// A Sentry server that answers 429 with `Retry-After` gets nothing more until the limit ends: the
/// second internal error is not sent (shutdown flushes the queue, so its count is final).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_sentry_server_gets_no_reports_until_the_limit_ends() {
    let receiver =
        Capture::start_answering(poem::http::StatusCode::TOO_MANY_REQUESTS, Some(("retry-after", "3600"))).await;
    let dir = database_whose_searches_fail();
    let server = ServerProcess::start({
        let mut cmd = server_process::command(server_process::binary(), dir.path());
        cmd.arg("serve").env("MYSETLIST_TELEMETRY__SENTRY_DSN", format!("http://public-key@{}/42", receiver.addr));
        cmd
    });
    let c = reqwest::Client::new();
    assert_eq!(c.get(server.url("/api/v1/search?q=first")).send().await.unwrap().status(), 500);
    wait_for(Duration::from_secs(20), || async { (!receiver.at("/api/42/envelope/").is_empty()).then_some(()) })
        .await
        .unwrap_or_else(|| panic!("no error report arrived:\n{}", server.lines().join("\n")));
    assert_eq!(c.get(server.url("/api/v1/search?q=second")).send().await.unwrap().status(), 500);
    let lines = server.stop();
    let reports = receiver.at("/api/42/envelope/");
    assert_eq!(reports.len(), 1, "reports were sent while rate limited:\n{}", lines.join("\n"));
    assert!(reports[0].text().contains("internal error"), "{}", reports[0].text());
}

/// Off unless configured (both settings default to empty); bad values are refused at start with the
/// key's name, and a bad DSN is not echoed.
#[tokio::test]
async fn telemetry_is_off_by_default_and_a_bad_dsn_is_refused() {
    let c = mysetlist::config::load_from(None, &[]).unwrap();
    assert!(c.settings.telemetry.sentry_dsn.is_empty() && c.settings.telemetry.otlp_endpoint.is_empty());
    let env = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    let err =
        mysetlist::config::load_from(None, &env("MYSETLIST_TELEMETRY__SENTRY_DSN", "not-a-dsn-secret")).unwrap_err();
    assert!(err.to_string().contains("telemetry.sentry_dsn") && !err.to_string().contains("not-a-dsn-secret"), "{err}");
    let err = mysetlist::config::load_from(None, &env("MYSETLIST_TELEMETRY__OTLP_ENDPOINT", "ftp://x")).unwrap_err();
    assert!(err.to_string().contains("telemetry.otlp_endpoint"), "{err}");
    let err = mysetlist::config::load_from(None, &env("MYSETLIST_TELEMETRY__TRACE_SAMPLE_RATIO", "1.5")).unwrap_err();
    assert!(err.to_string().contains("telemetry.trace_sample_ratio"), "{err}");
    let err = mysetlist::config::load_from(None, &env("MYSETLIST_TELEMETRY__NOPE", "1")).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

/// A migrated data dir whose database lacks its search index: every search is an internal error.
fn database_whose_searches_fail() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let migrated = server_process::command(server_process::binary(), dir.path()).arg("migrate").status().unwrap();
    assert!(migrated.success());
    rusqlite::Connection::open(dir.path().join("mysetlist.db"))
        .unwrap()
        .execute_batch("DROP TABLE search_index")
        .unwrap();
    dir
}
