//! HTTP for the online imports. Every request carries our User-Agent, waits for a client-side rate
//! limiter (one per API: setlist.fm asks for at most ~2 requests/s, MusicBrainz for 1/s), and a 429 or
//! 503 answer makes the whole client pause for its Retry-After (both APIs signal overload that way)
//! before a bounded number of retries. Request bodies and keys never reach the logs.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use super::ImportError;

/// Attempts per request (the first plus retries after 429/503/5xx or a network error).
const ATTEMPTS: u32 = 5;
/// Longest Retry-After we honour; a server asking for more fails the request instead of hanging the job.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// Larger answers are refused: the biggest documented page (100 recordings, 20 setlists) is far below.
pub const MAX_ANSWER_BYTES: usize = 16 << 20;
/// Wait before a retry when the server gave no Retry-After: 1 s, 2 s, 4 s, ...
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ApiClient {
    /// For messages: "setlist.fm", "MusicBrainz".
    name: &'static str,
    http: reqwest::Client,
    limiter: DefaultDirectRateLimiter,
    /// Set by a 429/503 with Retry-After: no request of this client starts before it.
    paused_until: parking_lot::Mutex<Option<Instant>>,
}

impl ApiClient {
    /// A client allowing one request per `period`.
    pub fn new(name: &'static str, user_agent: &str, period: Duration) -> Result<Self, ImportError> {
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ImportError::NotConfigured(format!("cannot create the {name} HTTP client: {e}")))?;
        let quota = Quota::with_period(period)
            .ok_or_else(|| ImportError::NotConfigured(format!("{name}: the rate limit period must not be zero")))?
            .allow_burst(NonZeroU32::MIN);
        Ok(Self { name, http, limiter: RateLimiter::direct(quota), paused_until: parking_lot::Mutex::new(None) })
    }

    /// GETs `url` with `headers` and decodes JSON. `Ok(None)` for 404 (both APIs answer an empty
    /// search with 404).
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<Option<T>, ImportError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.wait_turn().await;
            let mut req = self.http.get(url).header("accept", "application/json");
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let retry_in = match req.send().await {
                Ok(mut resp) if resp.status().is_success() => {
                    let too_big = || self.remote(format!("answer is larger than {MAX_ANSWER_BYTES} bytes"));
                    if resp.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
                        return Err(too_big());
                    }
                    let mut body = Vec::new();
                    while let Some(chunk) =
                        resp.chunk().await.map_err(|e| self.remote(format!("reading the answer failed: {e}")))?
                    {
                        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                            return Err(too_big());
                        }
                        body.extend_from_slice(&chunk);
                    }
                    return serde_json::from_slice(&body)
                        .map(Some)
                        .map_err(|e| self.remote(format!("unexpected answer (not the documented JSON): {e}")));
                }
                Ok(resp) if resp.status() == StatusCode::NOT_FOUND => return Ok(None),
                Ok(resp)
                    if matches!(resp.status(), StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) =>
                {
                    let wait = retry_after(resp.headers()).unwrap_or_else(|| backoff(attempt));
                    if wait > MAX_RETRY_AFTER {
                        return Err(self.remote(format!("asks to wait {}s before retrying; try later", wait.as_secs())));
                    }
                    tracing::info!(
                        api = self.name,
                        status = resp.status().as_u16(),
                        wait_ms = wait.as_millis() as u64,
                        "rate limited by the API; pausing"
                    );
                    self.pause_for(wait);
                    if attempt >= ATTEMPTS {
                        return Err(self.remote(format!("still answers {} after {ATTEMPTS} attempts", resp.status())));
                    }
                    continue;
                }
                Ok(resp) if resp.status().is_server_error() => {
                    if attempt >= ATTEMPTS {
                        return Err(self.remote(format!("answered {} {ATTEMPTS} times", resp.status())));
                    }
                    backoff(attempt)
                }
                Ok(resp) => {
                    let status = resp.status();
                    let hint = match status {
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => " (check the API key setting)",
                        _ => "",
                    };
                    return Err(self.remote(format!("refused the request: {status}{hint}")));
                }
                Err(e) => {
                    if attempt >= ATTEMPTS {
                        return Err(self.remote(format!("unreachable: {}", without_url(&e))));
                    }
                    backoff(attempt)
                }
            };
            tokio::time::sleep(retry_in).await;
        }
    }

    fn remote(&self, message: String) -> ImportError {
        ImportError::Remote(format!("{}: {message}", self.name))
    }

    fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut p = self.paused_until.lock();
        if p.is_none_or(|t| t < until) {
            *p = Some(until);
        }
    }

    /// Waits out a server-requested pause, then for the rate limiter.
    async fn wait_turn(&self) {
        let pause = *self.paused_until.lock();
        if let Some(until) = pause {
            tokio::time::sleep_until(until.into()).await;
        }
        self.limiter.until_ready().await;
    }
}

fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF * 2u32.pow(attempt.saturating_sub(1).min(6))
}

/// Retry-After as seconds or as an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = (at.timestamp() - chrono::Utc::now().timestamp()).max(0);
    Some(Duration::from_secs(secs as u64))
}

/// A reqwest error without its URL (query strings may hold search terms; keep messages short).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), "…");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert("retry-after", later.parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d <= Duration::from_secs(30) && d >= Duration::from_secs(28), "{d:?}");
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(4));
    }
}
