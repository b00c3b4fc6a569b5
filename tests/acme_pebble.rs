//! Automatic HTTPS against a real ACME CA (pebble) on loopback: issuance by TLS-ALPN-01 and
//! HTTP-01, the served chain, reuse after restart, renewal without restart, the HTTP
//! listener's redirect, and clear errors when the CA is down, untrusted or refuses.

mod pebble_fixture;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use mysetlist::tls::{
    AcmeOptions, CERTIFICATE_KEY, CertManager, CertManagerHandle, CertStatus, CertStore, Challenge, HttpsRedirect,
    MemoryCertStore, StoreError, TlsAcceptor, TlsError, server_config,
};
use parking_lot::Mutex;
use pebble_fixture::{HTTP01_PORT, Pebble, PebbleConfig, TLS_ALPN_PORT, challenge_ports_lock, unrelated_ca_pem};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Route, Server, handler};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

const DOMAINS: [&str; 2] = ["vote.test", "www.vote.test"];
const ISSUE_TIMEOUT: Duration = Duration::from_secs(90);

fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The application's store in miniature: keeps values and counts saves per key.
#[derive(Clone, Default)]
struct CountingStore {
    inner: MemoryCertStore,
    saves: Arc<Mutex<HashMap<String, usize>>>,
}

impl CountingStore {
    fn saves_of(&self, prefix: &str) -> usize {
        self.saves.lock().iter().filter(|(key, _)| key.starts_with(prefix)).map(|(_, n)| n).sum()
    }
}

impl CertStore for CountingStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        self.inner.load(key)
    }

    fn save<'a>(&'a self, key: &'a str, value: Vec<u8>) -> BoxFuture<'a, Result<(), StoreError>> {
        *self.saves.lock().entry(key.to_owned()).or_default() += 1;
        self.inner.save(key, value)
    }
}

fn options(pebble: &Pebble, domains: &[&str], challenge: Challenge) -> AcmeOptions {
    AcmeOptions {
        domains: domains.iter().map(|d| d.to_string()).collect(),
        email: "ops@vote.test".into(),
        directory_url: pebble.directory_url(),
        ca_file: Some(pebble.ca_file.clone()),
        challenge,
        retry_base: Duration::from_millis(500),
        retry_max: Duration::from_secs(2),
    }
}

async fn wait_for(handle: &CertManagerHandle, what: &str, condition: impl FnMut(&CertStatus) -> bool) -> CertStatus {
    match handle.wait_until(ISSUE_TIMEOUT, condition).await {
        Ok(status) => status,
        Err(last) => panic!("timed out waiting for {what}; last status: {last:#?}"),
    }
}

#[handler]
fn hello() -> &'static str {
    "hello over https"
}

/// A poem server bound to a fixed port; stopping it waits until the port is released.
struct RunningServer(JoinHandle<std::io::Result<()>>);

impl RunningServer {
    async fn stop(self) {
        self.0.abort();
        let _ = self.0.await;
    }
}

/// Binds a fixed port, retrying briefly: a previous test's socket may still be closing.
async fn bind(port: u16) -> poem::listener::TcpAcceptor {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(format!("127.0.0.1:{port}")).into_acceptor().await {
            Ok(acceptor) => return acceptor,
            Err(err) if tokio::time::Instant::now() < deadline => {
                eprintln!("port {port} busy ({err}), retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("cannot bind 127.0.0.1:{port}: {err}"),
        }
    }
}

/// The HTTPS listener as `app` wires it: our acceptor, our ServerConfig (the app's own headers,
/// HSTS included, are checked in tests/app_https.rs).
async fn serve_https(handle: &CertManagerHandle) -> RunningServer {
    let tcp = bind(TLS_ALPN_PORT).await;
    let acceptor = TlsAcceptor::new(tcp, Arc::new(server_config(handle.resolver())));
    assert!(!acceptor.local_addr().is_empty());
    let app = Route::new().at("/", hello);
    RunningServer(tokio::spawn(Server::new_with_acceptor(acceptor).run(app)))
}

/// The HTTP listener: HTTP-01 answers and redirects to the HTTPS port.
async fn serve_http(handle: &CertManagerHandle) -> RunningServer {
    let tcp = bind(HTTP01_PORT).await;
    let redirect = HttpsRedirect::new(handle.domains().to_vec(), TLS_ALPN_PORT, handle.http01());
    RunningServer(tokio::spawn(Server::new_with_acceptor(tcp).run(redirect)))
}

struct Fetched {
    status: reqwest::StatusCode,
    version: reqwest::Version,
    serial: String,
    body: String,
}

/// A client that trusts only pebble's issuing root and resolves our names to loopback.
fn https_client(root_pem: &str, http1_only: bool) -> reqwest::Client {
    let addr = SocketAddr::from(([127, 0, 0, 1], TLS_ALPN_PORT));
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root_pem.as_bytes()).unwrap())
        .tls_info(true)
        .timeout(Duration::from_secs(10));
    for domain in DOMAINS {
        builder = builder.resolve(domain, addr);
    }
    if http1_only {
        builder = builder.http1_only();
    }
    builder.build().unwrap()
}

async fn fetch(client: &reqwest::Client, host: &str) -> Fetched {
    let url = format!("https://{host}:{TLS_ALPN_PORT}/");
    let response = client.get(&url).send().await.unwrap_or_else(|err| panic!("GET {url}: {err:?}"));
    let tls = response.extensions().get::<reqwest::tls::TlsInfo>().expect("TLS info");
    let leaf = tls.peer_certificate().expect("peer certificate").to_vec();
    let (_, parsed) = x509_parser::parse_x509_certificate(&leaf).unwrap();
    Fetched {
        status: response.status(),
        version: response.version(),
        serial: hex::encode(parsed.tbs_certificate.raw_serial()),
        body: response.text().await.unwrap(),
    }
}

#[tokio::test]
async fn tls_alpn01_certificate_is_issued_and_served_over_h2_and_http11() {
    install_crypto_provider();
    let _ports = challenge_ports_lock();
    let pebble = Pebble::start_new(PebbleConfig::default());
    let store = CountingStore::default();
    let handle =
        CertManager::start(options(&pebble, &DOMAINS, Challenge::TlsAlpn01), Arc::new(store.clone())).await.unwrap();
    assert!(!handle.status().has_certificate);
    let server = serve_https(&handle).await;

    let status = wait_for(&handle, "a certificate", |s| s.has_certificate).await;
    assert_eq!(status.last_error, None);
    assert_eq!(status.issued_total, 1);
    assert!(status.seconds_to_expiry.unwrap() > 0);
    assert!(status.next_renewal_at.unwrap() > chrono::Utc::now());
    assert!(status.next_renewal_at.unwrap() < status.not_after.unwrap());

    // A junk connection and a client that rejects our certificate must not stop the
    // accept loop.
    let mut junk = tokio::net::TcpStream::connect(("127.0.0.1", TLS_ALPN_PORT)).await.unwrap();
    junk.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    drop(junk);
    let distrustful = reqwest::Client::builder()
        .use_rustls_tls()
        .resolve("vote.test", SocketAddr::from(([127, 0, 0, 1], TLS_ALPN_PORT)))
        .build()
        .unwrap();
    let refused = distrustful.get(format!("https://vote.test:{TLS_ALPN_PORT}/")).send().await;
    assert!(refused.is_err(), "a client without pebble's root must refuse");

    // The chain verifies against pebble's issuing root only, for every name, on h2 and 1.1.
    let root = pebble.issuing_root_pem().await;
    for domain in DOMAINS {
        let fetched = fetch(&https_client(&root, false), domain).await;
        assert_eq!(fetched.status, reqwest::StatusCode::OK);
        assert_eq!(fetched.version, reqwest::Version::HTTP_2, "ALPN h2 for {domain}");
        assert_eq!(fetched.body, "hello over https");
        assert_eq!(Some(fetched.serial), status.serial);
    }
    let fetched = fetch(&https_client(&root, true), "vote.test").await;
    assert_eq!(fetched.version, reqwest::Version::HTTP_11);

    assert_eq!(store.saves_of(CERTIFICATE_KEY), 1);
    assert_eq!(store.saves_of("acme/account/"), 1);
    assert_eq!(pebble.issued_count(), 1, "{}", pebble.log());
    handle.stop();
    server.stop().await;
}

#[tokio::test]
async fn http01_certificate_is_issued_and_http_listener_redirects_to_https() {
    install_crypto_provider();
    let _ports = challenge_ports_lock();
    let pebble = Pebble::start_new(PebbleConfig::default());
    let handle =
        CertManager::start(options(&pebble, &["vote.test"], Challenge::Http01), Arc::new(MemoryCertStore::new()))
            .await
            .unwrap();
    let http = serve_http(&handle).await;
    let https = serve_https(&handle).await;

    let status = wait_for(&handle, "a certificate", |s| s.has_certificate).await;
    assert_eq!(status.last_error, None);
    let root = pebble.issuing_root_pem().await;
    let fetched = fetch(&https_client(&root, false), "vote.test").await;
    assert_eq!(fetched.status, reqwest::StatusCode::OK);
    assert_eq!(Some(fetched.serial), status.serial);

    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("vote.test", SocketAddr::from(([127, 0, 0, 1], HTTP01_PORT)))
        .build()
        .unwrap();
    let response =
        plain.post(format!("http://vote.test:{HTTP01_PORT}/shows/abc?sort=top&x=1")).body("vote").send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        response.headers()["location"],
        format!("https://vote.test:{TLS_ALPN_PORT}/shows/abc?sort=top&x=1").as_str()
    );
    // Challenge answers exist only while an order is pending.
    let response = plain
        .get(format!("http://vote.test:{HTTP01_PORT}/.well-known/acme-challenge/unknown-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::NOT_FOUND);
    handle.stop();
    https.stop().await;
    http.stop().await;
}

#[tokio::test]
async fn restart_with_the_same_store_reuses_certificate_and_account() {
    install_crypto_provider();
    let _ports = challenge_ports_lock();
    let mut pebble = Pebble::start_new(PebbleConfig::default());
    let store = CountingStore::default();
    let opts = options(&pebble, &DOMAINS, Challenge::TlsAlpn01);
    let first = CertManager::start(opts.clone(), Arc::new(store.clone())).await.unwrap();
    let server = serve_https(&first).await;
    let issued = wait_for(&first, "a certificate", |s| s.has_certificate).await;
    let root = pebble.issuing_root_pem().await;
    first.stop();
    server.stop().await;
    // The CA goes away entirely: the restart must not need it.
    pebble.stop();

    let second = CertManager::start(opts, Arc::new(store.clone())).await.unwrap();
    let status = second.status();
    assert!(status.has_certificate, "stored certificate served at once");
    assert_eq!(status.serial, issued.serial);
    assert_eq!(status.not_after, issued.not_after);
    assert_eq!(status.issued_total, 0);
    assert!(status.next_renewal_at.unwrap() > chrono::Utc::now() + chrono::TimeDelta::days(1));
    let server = serve_https(&second).await;
    let fetched = fetch(&https_client(&root, false), "vote.test").await;
    assert_eq!(Some(fetched.serial), issued.serial);
    // One certificate and one account were ever saved: no new order, no new account.
    assert_eq!(store.saves_of(CERTIFICATE_KEY), 1);
    assert_eq!(store.saves_of("acme/account/"), 1);
    second.stop();
    server.stop().await;
}

#[tokio::test]
async fn short_lived_certificate_is_renewed_before_expiry_and_swapped_live() {
    install_crypto_provider();
    let _ports = challenge_ports_lock();
    let pebble = Pebble::start_new(PebbleConfig { certificate_validity_seconds: Some(30), ..PebbleConfig::default() });
    let handle = CertManager::start(options(&pebble, &DOMAINS, Challenge::TlsAlpn01), Arc::new(MemoryCertStore::new()))
        .await
        .unwrap();
    let server = serve_https(&handle).await;
    let first = wait_for(&handle, "a certificate", |s| s.has_certificate).await;
    let first_serial = first.serial.clone().unwrap();
    let first_not_after = first.not_after.unwrap();
    // Half of a 30 s lifetime: renewal is planned 15 s before expiry.
    let planned = first.next_renewal_at.unwrap();
    assert!(planned < first_not_after, "{planned} vs {first_not_after}");

    let root = pebble.issuing_root_pem().await;
    let kept_open = https_client(&root, false);
    assert_eq!(fetch(&kept_open, "vote.test").await.serial, first_serial);

    let renewed =
        wait_for(&handle, "a renewal", |s| s.serial.as_deref().is_some_and(|serial| serial != first_serial)).await;
    let renewed_seen_at = chrono::Utc::now();
    assert!(
        renewed_seen_at < first_not_after,
        "renewed at {renewed_seen_at}, after the old certificate expired at {first_not_after}"
    );
    assert!(renewed.not_after.unwrap() > first_not_after);
    assert_eq!(renewed.last_error, None);
    assert!(renewed.issued_total >= 2);

    // New handshakes get the new certificate; the open HTTP/2 connection keeps its own.
    let fresh = fetch(&https_client(&root, false), "vote.test").await;
    assert_eq!(Some(fresh.serial.clone()), renewed.serial);
    let old_connection = fetch(&kept_open, "vote.test").await;
    assert_eq!(old_connection.serial, first_serial);
    assert_eq!(old_connection.status, reqwest::StatusCode::OK);
    handle.stop();
    server.stop().await;
}

#[tokio::test]
async fn directory_down_at_start_is_retried_until_it_comes_back() {
    install_crypto_provider();
    let _ports = challenge_ports_lock();
    let mut pebble = Pebble::prepare(PebbleConfig::default());
    let handle =
        CertManager::start(options(&pebble, &["vote.test"], Challenge::TlsAlpn01), Arc::new(MemoryCertStore::new()))
            .await
            .expect("an unreachable directory is no reason to refuse to start");
    let server = serve_https(&handle).await;

    let failing = wait_for(&handle, "two failed attempts", |s| s.consecutive_failures >= 2).await;
    let error = failing.last_error.unwrap();
    assert!(error.contains("unreachable"), "{error}");
    assert!(error.contains(&pebble.directory_url()), "{error}");
    assert!(!failing.has_certificate);

    pebble.start();
    let status = wait_for(&handle, "a certificate", |s| s.has_certificate).await;
    assert_eq!(status.last_error, None);
    assert_eq!(status.consecutive_failures, 0);
    assert!(status.failures_total >= 2);
    handle.stop();
    server.stop().await;
}

#[tokio::test]
async fn failed_validation_names_the_domain() {
    install_crypto_provider();
    let _ports = challenge_ports_lock();
    let pebble = Pebble::start_new(PebbleConfig::default());
    // No HTTPS listener: pebble's TLS-ALPN-01 connection to port 5001 is refused.
    let handle =
        CertManager::start(options(&pebble, &["vote.test"], Challenge::TlsAlpn01), Arc::new(MemoryCertStore::new()))
            .await
            .unwrap();
    let status = wait_for(&handle, "a failure", |s| s.last_error.is_some()).await;
    let error = status.last_error.unwrap();
    assert!(error.contains("the CA refused domain vote.test"), "{error}");
    handle.stop();
}

#[tokio::test]
async fn refused_domain_is_named() {
    install_crypto_provider();
    let pebble =
        Pebble::start_new(PebbleConfig { domain_blocklist: vec!["blocked.test".into()], ..PebbleConfig::default() });
    let handle =
        CertManager::start(options(&pebble, &["blocked.test"], Challenge::TlsAlpn01), Arc::new(MemoryCertStore::new()))
            .await
            .unwrap();
    let status = wait_for(&handle, "a failure", |s| s.last_error.is_some()).await;
    let error = status.last_error.unwrap();
    assert!(error.contains("refused domain blocked.test"), "{error}");
    handle.stop();
}

#[tokio::test]
async fn wrong_ca_file_gives_a_clear_error() {
    install_crypto_provider();
    let pebble = Pebble::start_new(PebbleConfig::default());
    assert!(CertManager::probe_directory(options(&pebble, &["vote.test"], Challenge::TlsAlpn01)).await.is_ok());

    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("other-ca.pem");
    std::fs::write(&wrong, unrelated_ca_pem()).unwrap();
    let mut opts = options(&pebble, &["vote.test"], Challenge::TlsAlpn01);
    opts.ca_file = Some(wrong.clone());

    let err = CertManager::probe_directory(opts.clone()).await.unwrap_err();
    assert!(matches!(err, TlsError::DirectoryNotTrusted { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("not trusted"), "{text}");
    assert!(text.contains(&wrong.display().to_string()), "{text}");

    let handle = CertManager::start(opts.clone(), Arc::new(MemoryCertStore::new())).await.unwrap();
    let status = wait_for(&handle, "a failure", |s| s.last_error.is_some()).await;
    let error = status.last_error.unwrap();
    assert!(error.contains("not trusted") && error.contains("acme.ca_file"), "{error}");
    handle.stop();

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    opts.ca_file = Some(garbage.clone());
    let err = CertManager::start(opts, Arc::new(MemoryCertStore::new())).await.unwrap_err().to_string();
    assert!(err.contains(&garbage.display().to_string()) && err.contains("no PEM certificate"), "{err}");
}
