//! Alert notifications over a webhook (`alerts.webhook_url`) in one of four shapes
//! (`alerts.webhook_format`):
//!
//! - `generic`: one JSON object per notification (fields below, see [`generic_body`]).
//! - `slack`: `{"text": "..."}` for a Slack (or Mattermost, Rocket.Chat) incoming webhook.
//! - `ntfy`: a plain-text body with `Title`, `Priority` and `Tags` headers, POSTed to a topic URL.
//! - `alertmanager`: a JSON array of alerts for Alertmanager's `POST /api/v2/alerts`. Alertmanager
//!   resolves an alert that is not refreshed, so firing alerts are re-posted every
//!   [`ALERTMANAGER_REFRESH_SECS`] with `endsAt` a little beyond the next refresh; its own grouping
//!   and `repeat_interval` decide what reaches people.
//!
//! The URL may embed a secret (Slack's does), so it is never logged, and errors are logged without it.

use std::time::Duration;

use serde_json::json;

use super::alerts::Severity;
use crate::config::WebhookFormat;

pub const ALERTMANAGER_REFRESH_SECS: i64 = 240;
const ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub status: Status,
    pub alert: String,
    pub labels: Vec<(String, String)>,
    pub severity: Severity,
    pub summary: String,
    pub description: String,
    pub value: f64,
    pub starts_at: i64,
    pub ends_at: Option<i64>,
}

/// Where the alert came from and where to look.
#[derive(Debug, Clone)]
pub struct Origin {
    /// Node name (failover.node_id or the host name).
    pub instance: String,
    /// Link to the technical status page, when the public URL is known.
    pub link: Option<String>,
}

/// An HTTP request to make: content type, extra headers, body.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn title(n: &Notification, origin: &Origin) -> String {
    let label_text: Vec<String> = n.labels.iter().map(|(_, v)| v.clone()).collect();
    let extra = if label_text.is_empty() { String::new() } else { format!(" ({})", label_text.join(", ")) };
    format!("[{}] {}{} on {}", n.status.as_str().to_uppercase(), n.alert, extra, origin.instance)
}

/// `{"source":"mysetlist","status":"firing|resolved","alert":..,"severity":..,"summary":..,
/// "description":..,"labels":{..},"value":..,"instance":..,"starts_at":RFC3339,"ends_at":RFC3339|null,
/// "url":..|null}`
pub fn generic_body(n: &Notification, origin: &Origin) -> serde_json::Value {
    let labels: serde_json::Map<String, serde_json::Value> =
        n.labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    json!({
        "source": "mysetlist",
        "status": n.status.as_str(),
        "alert": n.alert,
        "severity": n.severity,
        "summary": n.summary,
        "description": n.description,
        "labels": labels,
        "value": n.value,
        "instance": origin.instance,
        "starts_at": rfc3339(n.starts_at),
        "ends_at": n.ends_at.map(rfc3339),
        "url": origin.link,
    })
}

pub fn payload(format: WebhookFormat, n: &Notification, origin: &Origin, now: i64) -> Payload {
    match format {
        WebhookFormat::Generic => {
            Payload { content_type: "application/json", headers: vec![], body: generic_body(n, origin).to_string() }
        }
        WebhookFormat::Slack => {
            let icon = match n.status {
                Status::Firing => ":rotating_light:",
                Status::Resolved => ":white_check_mark:",
            };
            let link = origin.link.as_ref().map(|l| format!("\n<{l}|Status page>")).unwrap_or_default();
            let text = format!("{icon} *{}*\n{}\n{}{link}", title(n, origin), n.summary, n.description);
            Payload { content_type: "application/json", headers: vec![], body: json!({ "text": text }).to_string() }
        }
        WebhookFormat::Ntfy => {
            let (priority, tags) = match (n.status, n.severity) {
                (Status::Resolved, _) => ("3", "white_check_mark"),
                (Status::Firing, Severity::Critical) => ("5", "rotating_light"),
                (Status::Firing, Severity::Warning) => ("4", "warning"),
            };
            let mut headers = vec![("Title", title(n, origin)), ("Priority", priority.into()), ("Tags", tags.into())];
            if let Some(link) = &origin.link {
                headers.push(("Click", link.clone()));
            }
            Payload {
                content_type: "text/plain; charset=utf-8",
                headers,
                body: format!("{}\n{}", n.summary, n.description),
            }
        }
        WebhookFormat::Alertmanager => {
            let mut labels = serde_json::Map::new();
            labels.insert("alertname".into(), json!(n.alert));
            labels.insert("severity".into(), json!(n.severity));
            labels.insert("instance".into(), json!(origin.instance));
            labels.insert("job".into(), json!("mysetlist"));
            for (k, v) in &n.labels {
                labels.insert(k.clone(), json!(v));
            }
            // Firing: valid a little beyond the next refresh, so a dead node's alerts lapse on their own.
            let ends_at = n.ends_at.unwrap_or(now + 3 * ALERTMANAGER_REFRESH_SECS);
            let mut alert = json!({
                "labels": labels,
                "annotations": { "summary": n.summary, "description": n.description },
                "startsAt": rfc3339(n.starts_at),
                "endsAt": rfc3339(ends_at),
            });
            if let Some(link) = &origin.link {
                alert["generatorURL"] = json!(link);
            }
            Payload { content_type: "application/json", headers: vec![], body: json!([alert]).to_string() }
        }
    }
}

/// Why a notification did not reach the webhook (or the client could not be built).
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("cannot build the webhook client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("the webhook refused the notification: HTTP {0}")]
    Refused(reqwest::StatusCode),
    #[error("gave up after {ATTEMPTS} attempts: {last}")]
    GaveUp { last: String },
}

/// Posts notifications to the configured webhook.
pub struct Notifier {
    client: reqwest::Client,
    url: String,
    format: WebhookFormat,
    origin: Origin,
}

impl Notifier {
    pub fn new(url: &str, format: WebhookFormat, origin: Origin) -> Result<Self, WebhookError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("mysetlist/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(WebhookError::Client)?;
        Ok(Self { client, url: url.to_owned(), format, origin })
    }

    /// How often a firing alert must be re-sent (None: once).
    pub fn refresh_every(&self) -> Option<i64> {
        (self.format == WebhookFormat::Alertmanager).then_some(ALERTMANAGER_REFRESH_SECS)
    }

    /// Posts one notification, retrying transient failures a few times with a short backoff.
    pub async fn send(&self, n: &Notification) -> Result<(), WebhookError> {
        let p = payload(self.format, n, &self.origin, crate::db::now());
        let mut last_error = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
            }
            let mut req = self.client.post(&self.url).header("content-type", p.content_type).body(p.body.clone());
            for (k, v) in &p.headers {
                req = req.header(*k, v);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if r.status().is_client_error() && r.status().as_u16() != 429 => {
                    return Err(WebhookError::Refused(r.status()));
                }
                Ok(r) => last_error = format!("HTTP {}", r.status()),
                Err(e) => last_error = e.without_url().to_string(),
            }
        }
        Err(WebhookError::GaveUp { last: last_error })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(status: Status) -> Notification {
        Notification {
            status,
            alert: "MySetlistCertificateExpiresSoon".into(),
            labels: vec![("domain".into(), "fans.example".into())],
            severity: Severity::Warning,
            summary: "the certificate for fans.example expires in 5days".into(),
            description: "Renewal has not succeeded.".into(),
            value: 432_000.0,
            starts_at: 1_700_000_000,
            ends_at: (status == Status::Resolved).then_some(1_700_000_600),
        }
    }

    fn origin() -> Origin {
        Origin { instance: "node-a".into(), link: Some("https://fans.example/admin/status/technical".into()) }
    }

    #[test]
    fn generic_is_one_json_object() {
        let p = payload(WebhookFormat::Generic, &sample(Status::Resolved), &origin(), 0);
        let v: serde_json::Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!(v["status"], "resolved");
        assert_eq!(v["alert"], "MySetlistCertificateExpiresSoon");
        assert_eq!(v["severity"], "warning");
        assert_eq!(v["labels"]["domain"], "fans.example");
        assert_eq!(v["starts_at"], "2023-11-14T22:13:20Z");
        assert_eq!(v["ends_at"], "2023-11-14T22:23:20Z");
        assert_eq!(v["instance"], "node-a");
    }

    #[test]
    fn slack_has_text() {
        let p = payload(WebhookFormat::Slack, &sample(Status::Firing), &origin(), 0);
        let v: serde_json::Value = serde_json::from_str(&p.body).unwrap();
        let text = v["text"].as_str().unwrap();
        assert!(text.contains("[FIRING] MySetlistCertificateExpiresSoon (fans.example) on node-a"), "{text}");
    }

    #[test]
    fn ntfy_uses_headers() {
        let p = payload(WebhookFormat::Ntfy, &sample(Status::Firing), &origin(), 0);
        assert!(p.content_type.starts_with("text/plain"));
        assert!(p.headers.contains(&("Priority", "4".into())));
        assert!(p.headers.iter().any(|(k, v)| *k == "Title" && v.starts_with("[FIRING]")));
        assert!(p.body.starts_with("the certificate"));
    }

    #[test]
    fn alertmanager_is_an_array_with_labels_and_times() {
        let firing = payload(WebhookFormat::Alertmanager, &sample(Status::Firing), &origin(), 1_700_000_100);
        let v: serde_json::Value = serde_json::from_str(&firing.body).unwrap();
        assert_eq!(v[0]["labels"]["alertname"], "MySetlistCertificateExpiresSoon");
        assert_eq!(v[0]["labels"]["domain"], "fans.example");
        assert_eq!(v[0]["startsAt"], "2023-11-14T22:13:20Z");
        assert_eq!(v[0]["endsAt"], rfc3339(1_700_000_100 + 3 * ALERTMANAGER_REFRESH_SECS));
        let resolved = payload(WebhookFormat::Alertmanager, &sample(Status::Resolved), &origin(), 1_700_000_900);
        let v: serde_json::Value = serde_json::from_str(&resolved.body).unwrap();
        assert_eq!(v[0]["endsAt"], "2023-11-14T22:23:20Z");
    }
}
