//! Watching the appliance: log format, the metrics endpoint, alert webhooks and telemetry.

use serde::{Deserialize, Serialize};

use super::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Json,
    Pretty,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}
impl Default for LogSettings {
    fn default() -> Self {
        Self { format: LogFormat::Auto, level: "info".into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    pub allow: Vec<String>,
    pub token: Secret,
    pub listen: String,
}
impl Default for MetricsSettings {
    fn default() -> Self {
        Self { allow: vec!["127.0.0.1/32".into(), "::1/128".into()], token: Secret::default(), listen: String::new() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    pub webhook_url: Secret,
    pub webhook_format: WebhookFormat,
}
impl Default for AlertSettings {
    fn default() -> Self {
        Self { webhook_url: Secret::default(), webhook_format: WebhookFormat::Generic }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    Generic,
    Slack,
    Ntfy,
    Alertmanager,
}

/// Optional error tracking (a Sentry-compatible DSN) and request traces (OTLP over HTTP); both off
/// unless set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// `https://<key>@<host>/<project>`: internal errors (and panics) are sent there. A secret.
    pub sentry_dsn: Secret,
    /// Sentry's `environment` tag (e.g. `production`); empty leaves it out.
    pub environment: String,
    /// Base URL of an OTLP/HTTP collector (`http://collector:4318`); spans go to `<url>/v1/traces`.
    pub otlp_endpoint: String,
    pub service_name: String,
    /// Share of requests traced, 0.0 to 1.0.
    pub trace_sample_ratio: f64,
}
impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            sentry_dsn: Secret::default(),
            environment: String::new(),
            otlp_endpoint: String::new(),
            service_name: "mysetlist".into(),
            trace_sample_ratio: 1.0,
        }
    }
}
