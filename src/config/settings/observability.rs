//! Watching the appliance: log format, the metrics endpoint, alert webhooks and telemetry.

use serde::{Deserialize, Serialize};

use super::redacted;

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

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    pub allow: Vec<String>,
    pub token: String,
    pub listen: String,
}
impl Default for MetricsSettings {
    fn default() -> Self {
        Self { allow: vec!["127.0.0.1/32".into(), "::1/128".into()], token: String::new(), listen: String::new() }
    }
}
impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("allow", &self.allow)
            .field("token", &redacted(&self.token))
            .field("listen", &self.listen)
            .finish()
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    pub webhook_url: String,
    pub webhook_format: WebhookFormat,
}
impl Default for AlertSettings {
    fn default() -> Self {
        Self { webhook_url: String::new(), webhook_format: WebhookFormat::Generic }
    }
}
impl std::fmt::Debug for AlertSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSettings")
            .field("webhook_url", &redacted(&self.webhook_url))
            .field("webhook_format", &self.webhook_format)
            .finish()
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
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// `https://<key>@<host>/<project>`: internal errors (and panics) are sent there. A secret.
    pub sentry_dsn: String,
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
            sentry_dsn: String::new(),
            environment: String::new(),
            otlp_endpoint: String::new(),
            service_name: "mysetlist".into(),
            trace_sample_ratio: 1.0,
        }
    }
}
impl std::fmt::Debug for TelemetrySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetrySettings")
            .field("sentry_dsn", &redacted(&self.sentry_dsn))
            .field("environment", &self.environment)
            .field("otlp_endpoint", &self.otlp_endpoint)
            .field("service_name", &self.service_name)
            .field("trace_sample_ratio", &self.trace_sample_ratio)
            .finish()
    }
}
