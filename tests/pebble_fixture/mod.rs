//! A real ACME CA for tests: Debian's `pebble` plus `pebble-challtestsrv` as its DNS
//! (every name resolves to 127.0.0.1), on loopback ports picked per fixture.
//!
//! pebble validates challenges on fixed ports (HTTP-01: 5002, TLS-ALPN-01: 5001), so tests
//! that answer challenges take [`challenge_ports_lock`] first: it is a file lock and so also
//! serialises separate test binaries.
#![allow(dead_code)] // each test binary uses a different part

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TLS_ALPN_PORT: u16 = 5001;
pub const HTTP01_PORT: u16 = 5002;

/// Held while a test uses ports 5001/5002; released on drop.
pub struct ChallengePortsLock(File);

pub fn challenge_ports_lock() -> ChallengePortsLock {
    let path = std::env::temp_dir().join("mysetlist-acme-challenge-ports.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .expect("open the challenge ports lock file");
    file.lock().expect("lock the challenge ports");
    ChallengePortsLock(file)
}

#[derive(Debug, Clone, Default)]
pub struct PebbleConfig {
    /// Lifetime of issued certificates in seconds (pebble's default is years; set it to
    /// test renewals).
    pub certificate_validity_seconds: Option<u64>,
    /// Names pebble refuses to issue for (`rejectedIdentifier`).
    pub domain_blocklist: Vec<String>,
}

pub struct Pebble {
    dir: tempfile::TempDir,
    /// Root that signs pebble's own HTTPS listener: the `acme.ca_file` of the app.
    pub ca_file: PathBuf,
    pub listen_port: u16,
    pub management_port: u16,
    dns_port: u16,
    challtest_management_port: u16,
    pebble: Option<Child>,
    challtestsrv: Option<Child>,
    starts: u32,
}

impl Pebble {
    /// Picks ports and writes certificates and configuration; starts nothing.
    pub fn prepare(config: PebbleConfig) -> Self {
        assert!(
            Path::new("/usr/bin/pebble").exists() && Path::new("/usr/bin/pebble-challtestsrv").exists(),
            "pebble is missing: run scripts/install-test-deps.sh"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let (ca_pem, cert_pem, key_pem) = listener_certificates();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_pem).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert_pem).unwrap();
        std::fs::write(dir.path().join("key.pem"), key_pem).unwrap();

        let listen_port = free_tcp_port();
        let management_port = free_tcp_port();
        let dns_port = free_udp_and_tcp_port();
        let challtest_management_port = free_tcp_port();
        let mut pebble = serde_json::json!({
            "listenAddress": format!("127.0.0.1:{listen_port}"),
            "managementListenAddress": format!("127.0.0.1:{management_port}"),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": HTTP01_PORT,
            "tlsPort": TLS_ALPN_PORT,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            "domainBlocklist": config.domain_blocklist,
        });
        if let Some(seconds) = config.certificate_validity_seconds {
            pebble["certificateValidityPeriod"] = seconds.into();
        }
        let config_json = serde_json::json!({ "pebble": pebble });
        std::fs::write(dir.path().join("pebble.json"), config_json.to_string()).unwrap();
        Self {
            dir,
            ca_file,
            listen_port,
            management_port,
            dns_port,
            challtest_management_port,
            pebble: None,
            challtestsrv: None,
            starts: 0,
        }
    }

    pub fn start_new(config: PebbleConfig) -> Self {
        let mut pebble = Self::prepare(config);
        pebble.start();
        pebble
    }

    pub fn directory_url(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.listen_port)
    }

    /// Starts the mock DNS and pebble and waits (bounded) until the directory answers.
    pub fn start(&mut self) {
        assert!(self.pebble.is_none(), "pebble already running");
        self.starts += 1;
        if self.challtestsrv.is_none() {
            let log = self.log_file(&format!("challtestsrv-{}.log", self.starts));
            let child = Command::new("/usr/bin/pebble-challtestsrv")
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
                .args(["-dns01", &format!("127.0.0.1:{}", self.dns_port)])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .args(["-management", &format!("127.0.0.1:{}", self.challtest_management_port)])
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start pebble-challtestsrv");
            self.challtestsrv = Some(child);
            wait_for_tcp(self.challtest_management_port, "pebble-challtestsrv");
        }
        let log = self.log_file(&format!("pebble-{}.log", self.starts));
        let child = Command::new("/usr/bin/pebble")
            .arg("-config")
            .arg(self.dir.path().join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{}", self.dns_port)])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start pebble");
        self.pebble = Some(child);
        wait_for_tcp(self.listen_port, "pebble");
        wait_for_tcp(self.management_port, "pebble management");
    }

    /// Stops pebble (its state, accounts included, is lost, as in a real CA outage + reset).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.pebble.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_file(&self, name: &str) -> File {
        File::create(self.dir.path().join(name)).expect("create log file")
    }

    /// The root that signs issued certificates (pebble makes a new one at each start).
    pub async fn issuing_root_pem(&self) -> String {
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(&self.ca_file).unwrap()).unwrap())
            .build()
            .unwrap();
        let url = format!("https://127.0.0.1:{}/roots/0", self.management_port);
        let response = client.get(url).send().await.expect("pebble management API");
        assert!(response.status().is_success(), "{}", response.status());
        response.text().await.unwrap()
    }

    /// How many certificates pebble issued during its current run (from its log).
    pub fn issued_count(&self) -> usize {
        let log = self.dir.path().join(format!("pebble-{}.log", self.starts));
        let Ok(file) = File::open(log) else { return 0 };
        BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter(|line| line.contains("Issued certificate serial"))
            .count()
    }

    /// Points every name at `ip` in pebble's DNS (as a DNS failover would): validations go there.
    pub async fn resolve_all_to(&self, ip: &str) {
        let url = format!("http://127.0.0.1:{}/set-default-ipv4", self.challtest_management_port);
        let r = reqwest::Client::new().post(url).json(&serde_json::json!({ "ip": ip })).send().await;
        assert!(r.is_ok_and(|r| r.status().is_success()), "pebble-challtestsrv did not take the new address");
    }

    /// pebble's log of the current run, for assertion messages.
    pub fn log(&self) -> String {
        let log = self.dir.path().join(format!("pebble-{}.log", self.starts));
        std::fs::read_to_string(log).unwrap_or_default()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.stop();
        if let Some(mut child) = self.challtestsrv.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A CA and a certificate for `localhost`/127.0.0.1 signed by it, for pebble's listener.
fn listener_certificates() -> (String, String, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "pebble listener test CA");
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();

    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// A CA that signed nothing pebble uses: the "wrong acme.ca_file".
pub fn unrelated_ca_pem() -> String {
    listener_certificates().0
}

pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A port free for both UDP and TCP (the mock DNS listens on both).
fn free_udp_and_tcp_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP");
}

fn wait_for_tcp(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 20 s");
}
