//! Asking a running server over HTTP: `mysetlist health` (is it alive?) and the wait for `/readyz`
//! after a promotion.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::config::Config;

/// The local server's plain-HTTP base URL, from `listen` (an unspecified address as loopback).
pub fn local_base(c: &Config) -> String {
    let mut addr = c.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{addr}")
}

fn client() -> Option<reqwest::Client> {
    reqwest::Client::builder().timeout(Duration::from_secs(3)).build().ok()
}

/// GET /livez: exit 0 when it answers 200, 1 otherwise (for container health checks).
pub async fn live(base: &str) -> ExitCode {
    let Some(client) = client() else { return ExitCode::FAILURE };
    match client.get(format!("{base}/livez")).send().await {
        Ok(r) if r.status().is_success() => ExitCode::SUCCESS,
        Ok(r) => {
            eprintln!("unhealthy: {}", r.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Polls GET /readyz until it answers 200 or the deadline passes.
pub async fn wait_ready(base: &str, deadline: Instant) -> bool {
    let Some(client) = client() else { return false };
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
