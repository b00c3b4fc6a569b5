//! The whole application with a domain, against the real pebble ACME server: it obtains a
//! certificate by itself, serves pages over HTTPS with HSTS and `__Host-` cookies, redirects plain
//! HTTP with 308, reports readiness only once a certificate exists, and reuses the stored
//! certificate after a restart (no new order). In a two-node failover cluster only the leader
//! orders and renews, the follower serves what the leader stored, and a takeover resumes renewal.

mod pebble_fixture;
#[path = "replicate_support/mod.rs"]
mod replicate_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mysetlist::app::Application;
use mysetlist::config;
use pebble_fixture::{Pebble, PebbleConfig, TLS_ALPN_PORT, challenge_ports_lock};

const DOMAIN: &str = "vote.test";

struct Running {
    http_addr: SocketAddr,
    shutdown: std::sync::Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A shutdown future for `Application::run_until`: completes once `notify` is notified.
async fn stopped_by(notify: std::sync::Arc<tokio::sync::Notify>) {
    notify.notified().await
}

async fn start_app(pebble: &Pebble, data_dir: &std::path::Path) -> Running {
    let env: Vec<(String, String)> = [
        ("MYSETLIST_DATA_DIR", data_dir.display().to_string()),
        ("MYSETLIST_DOMAIN", DOMAIN.to_string()),
        ("MYSETLIST_ACME__EMAIL", "ops@vote.test".to_string()),
        ("MYSETLIST_ACME__DIRECTORY_URL", pebble.directory_url()),
        ("MYSETLIST_ACME__CA_FILE", pebble.ca_file.display().to_string()),
        ("MYSETLIST_HTTPS_LISTEN", format!("127.0.0.1:{TLS_ALPN_PORT}")),
        ("MYSETLIST_HTTP_LISTEN", "127.0.0.1:0".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let c = config::load_from(None, &env).unwrap();
    let app = Application::build(c, false).await.unwrap();
    let http_addr = app.http_redirect_addr().expect("a domain gives an HTTP listener");
    assert_eq!(app.local_addr().port(), TLS_ALPN_PORT);
    let shutdown = std::sync::Arc::new(tokio::sync::Notify::new());
    let task = tokio::spawn(app.run_until(stopped_by(shutdown.clone())));
    Running { http_addr, shutdown, task }
}

impl Running {
    async fn stop(self) {
        self.shutdown.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

fn https_client(root_pem: &str) -> reqwest::Client {
    https_client_builder(root_pem).build().unwrap()
}

fn https_client_builder(root_pem: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root_pem.as_bytes()).unwrap())
        .resolve(DOMAIN, SocketAddr::from(([127, 0, 0, 1], TLS_ALPN_PORT)))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_obtains_serves_and_reuses_its_certificate() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ports = challenge_ports_lock();
    let pebble = Pebble::start_new(PebbleConfig::default());
    let data = tempfile::tempdir().unwrap();
    let app = start_app(&pebble, data.path()).await;
    let root = pebble.issuing_root_pem().await;
    let client = https_client(&root);
    let url = |p: &str| format!("https://{DOMAIN}:{TLS_ALPN_PORT}{p}");

    // Ready once the certificate is served (bounded wait; no sleeps as synchronisation).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(url("/readyz")).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "no certificate within 60 s:\n{}", pebble.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pebble.issued_count(), 1);

    // The certificate's expiry and the order are on /metrics (scraped from loopback; reported by a
    // once-a-second poll of the certificate manager).
    let expiry_series = format!("mysetlist_tls_certificate_expiry_timestamp_seconds{{domain=\"{DOMAIN}\"}} ");
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = client.get(url("/metrics")).send().await.unwrap().text().await.unwrap();
        if text.contains(&expiry_series) && text.contains("mysetlist_tls_certificate_renewals_total 1\n") {
            break text;
        }
        assert!(Instant::now() < deadline, "the certificate never showed on /metrics:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let expiry: i64 =
        text.lines().find_map(|l| l.strip_prefix(&expiry_series)).and_then(|v| v.trim().parse::<f64>().ok()).unwrap()
            as i64;
    let now = chrono::Utc::now().timestamp();
    assert!(expiry > now + 86_400, "expiry {expiry} should be days ahead of {now}");
    assert!(text.contains("mysetlist_tls_certificate_renewal_failures_total 0\n"), "{text}");

    let home = client.get(url("/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    let hsts = home.headers().get("strict-transport-security").expect("HSTS on HTTPS").to_str().unwrap().to_owned();
    assert!(hsts.starts_with("max-age=31536000"), "{hsts}");
    let cookies: Vec<String> =
        home.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(cookies.iter().all(|c| c.starts_with("__Host-") && c.contains("Secure")), "{cookies:?}");
    assert_eq!(home.version(), reqwest::Version::HTTP_2, "ALPN offers HTTP/2");

    // A same-origin JSON write over HTTP/2, where the host arrives as :authority, not Host.
    let origin = format!("https://{DOMAIN}:{TLS_ALPN_PORT}");
    let body = serde_json::json!({"email": "h2@example.org", "password": "a long and decent passphrase", "display_name": "h2"});
    let r = client.post(url("/api/v1/auth/signup")).header("origin", &origin).json(&body).send().await.unwrap();
    assert_eq!((r.version(), r.status().as_u16()), (reqwest::Version::HTTP_2, 202));
    let foreign = client
        .post(url("/api/v1/auth/signup"))
        .header("origin", "https://evil.example")
        .json(&serde_json::json!({"email": "evil@example.org", "password": "a long and decent passphrase", "display_name": "e"}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403, "a foreign Origin is refused over HTTP/2 too");

    // HTTP/1.1 over TLS: a live-stream request is the lean writer's (app/stream_response.rs), here
    // a whole 404 (no show 1) with the security headers, written through the TLS stream, and the
    // connection closed cleanly after it; the next request on a new connection is hyper's.
    let h1 = https_client_builder(&root).http1_only().build().unwrap();
    let live = h1.get(url("/shows/1/live")).send().await.unwrap();
    assert_eq!((live.version(), live.status().as_u16()), (reqwest::Version::HTTP_11, 404));
    assert_eq!(live.headers()["connection"], "close");
    assert!(live.headers().contains_key("strict-transport-security"), "{:?}", live.headers());
    let problem: serde_json::Value = live.json().await.expect("the whole body, then a clean close");
    assert_eq!(problem["status"], 404, "{problem}");
    let page = h1.get(url("/")).send().await.unwrap();
    assert_eq!((page.version(), page.status().as_u16()), (reqwest::Version::HTTP_11, 200));

    // Plain HTTP: 308 to the same path and query on HTTPS.
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = plain.post(format!("http://{}/shows/x?y=1", app.http_addr)).header("host", DOMAIN).send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], format!("https://{DOMAIN}:{TLS_ALPN_PORT}/shows/x?y=1").as_str());
    app.stop().await;

    // Restart with the same data dir: the stored certificate is served at once, no new order.
    let app = start_app(&pebble, data.path()).await;
    let r = client.get(url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the stored certificate must be served immediately after a restart");
    assert_eq!(pebble.issued_count(), 1, "a restart must not order a new certificate");
    // The stored certificate is reported at start, without counting an order.
    let text = client.get(url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains(&format!("{expiry_series}{expiry}")), "{text}");
    assert!(text.contains("mysetlist_tls_certificate_renewals_total 0\n"), "{text}");
    app.stop().await;
}

/// A node of a two-node cluster in this process, with HTTPS on its own loopback address (port
/// 5001, where pebble validates): pebble's DNS decides which node the CA reaches.
struct ClusterNode {
    ip: &'static str,
    certs: mysetlist::tls::CertManagerHandle,
    running: Running,
    _data: tempfile::TempDir,
}

async fn start_node(pebble: &Pebble, s3: &replicate_support::S3Server, ip: &'static str, role: &str) -> ClusterNode {
    let data = tempfile::tempdir().unwrap();
    let env: Vec<(String, String)> = [
        ("MYSETLIST_DATA_DIR", data.path().display().to_string()),
        ("MYSETLIST_DOMAIN", DOMAIN.to_string()),
        ("MYSETLIST_ACME__EMAIL", "ops@vote.test".to_string()),
        ("MYSETLIST_ACME__DIRECTORY_URL", pebble.directory_url()),
        ("MYSETLIST_ACME__CA_FILE", pebble.ca_file.display().to_string()),
        ("MYSETLIST_HTTPS_LISTEN", format!("{ip}:{TLS_ALPN_PORT}")),
        ("MYSETLIST_HTTP_LISTEN", format!("{ip}:0")),
        ("MYSETLIST_ROLE", role.to_string()),
        ("MYSETLIST_REPLICATION__URL", "s3://certs/db".to_string()),
        ("MYSETLIST_REPLICATION__ENDPOINT", s3.endpoint()),
        ("MYSETLIST_REPLICATION__FORCE_PATH_STYLE", "true".to_string()),
        ("MYSETLIST_REPLICATION__ACCESS_KEY_ID", "test".to_string()),
        ("MYSETLIST_REPLICATION__SECRET_ACCESS_KEY", "test".to_string()),
        ("MYSETLIST_REPLICATION__SYNC_INTERVAL", "100ms".to_string()),
        ("MYSETLIST_FAILOVER__LEASE_TTL", "3s".to_string()),
        ("MYSETLIST_FAILOVER__NODE_ID", ip.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let app = Application::build(config::load_from(None, &env).unwrap(), false).await.unwrap();
    let certs = app.certificates().expect("a domain starts the certificate manager");
    let shutdown = std::sync::Arc::new(tokio::sync::Notify::new());
    let http_addr = app.http_redirect_addr().unwrap();
    let task = tokio::spawn(app.run_until(stopped_by(shutdown.clone())));
    ClusterNode { ip, certs, running: Running { http_addr, shutdown, task }, _data: data }
}

impl ClusterNode {
    /// The serial of the certificate a new TLS handshake with this node gets (None: no handshake).
    async fn served_serial(&self, root_pem: &str) -> Option<String> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(root_pem.as_bytes()).unwrap())
            .resolve(DOMAIN, format!("{}:{TLS_ALPN_PORT}", self.ip).parse().unwrap())
            .tls_info(true)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let r = client.get(format!("https://{DOMAIN}:{TLS_ALPN_PORT}/healthz")).send().await.ok()?;
        let leaf = r.extensions().get::<reqwest::tls::TlsInfo>()?.peer_certificate()?.to_vec();
        let (_, parsed) = x509_parser::parse_x509_certificate(&leaf).ok()?;
        Some(hex::encode(parsed.tbs_certificate.raw_serial()))
    }

    /// Waits (bounded) until a new handshake gets a certificate `accept`ed, and returns its serial.
    async fn wait_for_serial(&self, root_pem: &str, what: &str, accept: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(serial) = self.served_serial(root_pem).await
                && accept(&serial)
            {
                return serial;
            }
            assert!(Instant::now() < deadline, "{}: {what} within 60 s; status {:#?}", self.ip, self.certs.status());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_only_the_leader_orders_the_follower_serves_its_renewals_and_a_takeover_renews() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ports = challenge_ports_lock();
    // 30 s certificates: renewed about halfway through their life.
    let pebble = Pebble::start_new(PebbleConfig { certificate_validity_seconds: Some(30), ..PebbleConfig::default() });
    let s3 = replicate_support::S3Server::start();
    s3.bucket("certs");
    let (p_ip, s_ip) = ("127.0.0.2", "127.0.0.3");
    pebble.resolve_all_to(p_ip).await;
    let p = start_node(&pebble, &s3, p_ip, "primary").await;
    // A new node with nothing stored waits for the leader's certificate instead of ordering one.
    let s = start_node(&pebble, &s3, s_ip, "standby").await;
    let root = pebble.issuing_root_pem().await;

    let first = p.wait_for_serial(&root, "the leader's first certificate", |_| true).await;
    s.wait_for_serial(&root, "the follower serving the leader's certificate", |serial| serial == first).await;
    let renewed = p.wait_for_serial(&root, "the leader's renewal", |serial| serial != first).await;
    s.wait_for_serial(&root, "the follower serving the renewal", |serial| serial == renewed).await;
    let follower = s.certs.status();
    assert!(!follower.orders && follower.next_renewal_at.is_none(), "{follower:#?}");
    assert_eq!((follower.issued_total, follower.failures_total), (0, 0), "the follower never ordered");
    assert!(p.certs.status().orders);
    let issued_by_leader = p.certs.status().issued_total;
    assert_eq!(pebble.issued_count() as u64, issued_by_leader, "every certificate was ordered by the leader");

    // The leader stops (handing over its lease); DNS follows the new leader, which renews.
    p.running.stop().await;
    pebble.resolve_all_to(s_ip).await;
    let after_takeover = s.wait_for_serial(&root, "a renewal by the new leader", |serial| serial != renewed).await;
    let leader = s.certs.status();
    assert!(leader.orders && leader.issued_total >= 1, "{leader:#?}");
    assert_eq!(leader.serial.as_deref(), Some(after_takeover.as_str()));
    s.running.stop().await;
}
