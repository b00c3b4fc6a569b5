//! The whole application with a domain, against the real pebble ACME server: it obtains a
//! certificate by itself, serves pages over HTTPS with HSTS and `__Host-` cookies, redirects plain
//! HTTP with 308, reports readiness only once a certificate exists, and reuses the stored
//! certificate after a restart (no new order).

mod pebble_fixture;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mysetlist::config;
use mysetlist::startup::Application;
use pebble_fixture::{Pebble, PebbleConfig, TLS_ALPN_PORT, challenge_ports_lock};

const DOMAIN: &str = "vote.test";

struct Running {
    http_addr: SocketAddr,
    shutdown: std::sync::Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
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
    let shutdown = app.shutdown_handle();
    let task = tokio::spawn(app.run_until_stopped());
    Running { http_addr, shutdown, task }
}

impl Running {
    async fn stop(self) {
        self.shutdown.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

fn https_client(root_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root_pem.as_bytes()).unwrap())
        .resolve(DOMAIN, SocketAddr::from(([127, 0, 0, 1], TLS_ALPN_PORT)))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
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
