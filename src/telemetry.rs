//! Logging, and the optional error tracking and traces of `[telemetry]`.
//!
//! - Logs: JSON lines when stderr is not a terminal (or `log.format = "json"`), pretty otherwise.
//!   The server writes them from a background thread (tracing-appender): a request never waits
//!   for a write to stderr (measured: see README "Performance"). If the sink stalls and 64k lines
//!   are queued, further lines are dropped rather than stalling requests, and counted in
//!   `mysetlist_log_lines_dropped_total`. The queue is flushed on shutdown.
//! - Errors (`telemetry.sentry_dsn`): every event logged at level `error` (internal errors: the 5xx
//!   path of `http/error.rs`, failed background work) and panics go to a Sentry-compatible server. The
//!   per-request log line is left out (it is no error of its own: a standby's 503s log it too).
//!   Nothing personal is sent: no default PII, and `scrub` drops user, request, server name and any
//!   field whose name looks like a credential or an address.
//! - Traces (`telemetry.otlp_endpoint`): one span per HTTP request (`http::middleware::RequestLog`)
//!   named `<METHOD> <route template>`, with method, route and status, exported over OTLP/HTTP
//!   (protobuf) to `<endpoint>/v1/traces` in batches. Sampled at `telemetry.trace_sample_ratio`.
//!
//! Both send through the app's own reqwest client (rustls): Sentry through [`SentryTransport`],
//! OTLP through [`OtlpClient`]; neither library brings its own HTTP stack. Both are flushed by
//! [`Telemetry::shutdown`] when the server stops.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use sentry::transports::{RateLimiter, RateLimitingCategory};
use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, TelemetrySettings};

/// Target of the per-request span; only the OTLP layer sees it (logs stay as they were).
pub const TRACE_TARGET: &str = "mysetlist::trace";
/// Target of the per-request log line, which is not sent to Sentry.
const REQUEST_LOG_TARGET: &str = "mysetlist::http::middleware";
/// How long shutdown waits for the last errors and spans to go out.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// Time limit of one upload to Sentry or the OTLP collector.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

static TRACING_ON: AtomicBool = AtomicBool::new(false);
/// The background log writer's count of dropped lines, once the server installed it.
static LOG_DROPS: OnceLock<tracing_appender::non_blocking::ErrorCounter> = OnceLock::new();
/// Lines the background log writer holds before it drops (about 10 MB of request lines).
const LOG_QUEUE_LINES: usize = 64 * 1024;

/// Log lines dropped because the log sink did not keep up (0 when logs are written directly).
pub fn log_lines_dropped() -> u64 {
    LOG_DROPS.get().map_or(0, |c| c.dropped_lines() as u64)
}

/// Whether request spans are exported (the middleware creates none otherwise).
pub fn traces_enabled() -> bool {
    TRACING_ON.load(Ordering::Relaxed)
}

/// Names a request span once the route is known (`otel.name` recorded after the span started is
/// ignored by the exporter).
pub fn name_span(span: &tracing::Span, name: String) {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    span.context().span().update_name(name);
}

/// Installs the global subscriber once (logs only, written directly: the CLI commands exit right
/// after their work, with nothing to flush); later calls (tests) are ignored.
pub fn init(format: LogFormat, level: &str) {
    let _ = install(format, level, &TelemetrySettings::default(), false);
}

/// What [`init_with`] started; call [`Telemetry::shutdown`] before exit to flush.
#[must_use]
pub struct Telemetry {
    sentry: Option<sentry::ClientInitGuard>,
    tracer: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
    /// Dropping it writes out the queued log lines and stops the writer thread.
    log_writer: Option<tracing_appender::non_blocking::WorkerGuard>,
}

impl Telemetry {
    /// Sends what is still queued (bounded by a few seconds) and stops the exporters.
    pub async fn shutdown(self) {
        let Telemetry { sentry, tracer, log_writer } = self;
        // Both block while their uploads run on this runtime: off the async threads.
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(provider) = tracer {
                TRACING_ON.store(false, Ordering::Relaxed);
                if let Err(e) = provider.shutdown_with_timeout(FLUSH_TIMEOUT) {
                    tracing::warn!(error = %e, "could not flush the last traces");
                }
            }
            if let Some(guard) = sentry {
                if let Some(client) = sentry::Hub::main().client() {
                    client.close(Some(FLUSH_TIMEOUT));
                }
                drop(guard);
            }
            drop(log_writer);
        })
        .await;
    }
}

/// The server's logging (from a background writer) plus, when configured, error tracking and
/// traces. Must run inside the tokio runtime.
pub fn init_with(format: LogFormat, level: &str, settings: &TelemetrySettings) -> anyhow::Result<Telemetry> {
    install(format, level, settings, true)
}

fn install(
    format: LogFormat,
    level: &str,
    settings: &TelemetrySettings,
    background_writer: bool,
) -> anyhow::Result<Telemetry> {
    let filter = std::env::var("MYSETLIST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info")));
    // The request span is for the exporter only: log lines stay as they are.
    let filter = filter.add_directive(format!("{TRACE_TARGET}=off").parse().expect("a valid directive"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let (writer, log_writer) = if background_writer {
        let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .buffered_lines_limit(LOG_QUEUE_LINES)
            .lossy(true)
            .thread_name("log-writer")
            .finish(std::io::stderr());
        let _ = LOG_DROPS.set(writer.error_counter());
        (BoxMakeWriter::new(writer), Some(guard))
    } else {
        (BoxMakeWriter::new(std::io::stderr), None)
    };
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer).with_span_events(FmtSpan::NONE);
    let fmt = if json {
        fmt.json().flatten_event(true).with_current_span(false).with_span_list(false).with_filter(filter).boxed()
    } else {
        fmt.compact().with_filter(filter).boxed()
    };

    let sentry = if settings.sentry_dsn.is_empty() { None } else { Some(start_sentry(settings)?) };
    let sentry_layer = sentry.as_ref().map(|_| {
        sentry::integrations::tracing::ErrorLayer::new().with_filter(tracing_subscriber::filter::filter_fn(|m| {
            m.is_event() && *m.level() == Level::ERROR && m.target() != REQUEST_LOG_TARGET
        }))
    });

    let tracer = if settings.otlp_endpoint.is_empty() { None } else { Some(start_otlp(settings)?) };
    let otel_layer = tracer.as_ref().map(|provider| {
        use opentelemetry::trace::TracerProvider as _;
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("mysetlist"))
            .with_filter(tracing_subscriber::filter::Targets::new().with_target(TRACE_TARGET, Level::INFO))
    });

    let installed = tracing_subscriber::registry().with(fmt).with(sentry_layer).with(otel_layer).try_init().is_ok();
    if installed && tracer.is_some() {
        TRACING_ON.store(true, Ordering::Relaxed);
    }
    if installed {
        if sentry.is_some() {
            tracing::info!("sending internal errors to the Sentry DSN (telemetry.sentry_dsn)");
        }
        if tracer.is_some() {
            tracing::info!(endpoint = %settings.otlp_endpoint, ratio = settings.trace_sample_ratio, "exporting request traces over OTLP");
        }
    }
    Ok(Telemetry { sentry, tracer, log_writer })
}

fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .user_agent(concat!("mysetlist/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

// ---------------------------------------------------------------------------------------------
// Sentry

fn start_sentry(settings: &TelemetrySettings) -> anyhow::Result<sentry::ClientInitGuard> {
    let dsn: sentry::types::Dsn =
        settings.sentry_dsn.expose().parse().map_err(|_| anyhow::anyhow!("telemetry.sentry_dsn is not a DSN"))?;
    let runtime =
        tokio::runtime::Handle::try_current().map_err(|_| anyhow::anyhow!("error tracking needs the async runtime"))?;
    let client = http_client()?;
    let mut options = sentry::ClientOptions::default();
    options.dsn = Some(dsn);
    options.release = Some(concat!("mysetlist@", env!("CARGO_PKG_VERSION")).into());
    options.environment = (!settings.environment.is_empty()).then(|| settings.environment.clone().into());
    options.send_default_pii = false;
    options.server_name = None;
    options.before_send = Some(Arc::new(|event: sentry::protocol::Event<'static>| Some(scrub(event))));
    options.transport = Some(Arc::new(move |opts: &sentry::ClientOptions| -> Arc<dyn sentry::Transport> {
        Arc::new(SentryTransport::start(opts, client.clone(), &runtime))
    }));
    Ok(sentry::init(options))
}

/// Field names whose values are never sent (matched case-insensitively, as substrings).
const SCRUBBED: &[&str] =
    &["cookie", "token", "password", "secret", "authorization", "session", "email", "ip", "addr", "dsn", "key"];

fn scrubbed(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    // "ip" only as a whole word part (client_ip, ip_hash), not inside "description".
    name.split(['_', '.', '-']).any(|part| part == "ip")
        || SCRUBBED.iter().filter(|s| **s != "ip").any(|s| name.contains(s))
}

/// Drops what could identify a person or hold a credential before an event leaves the process.
pub fn scrub(mut event: sentry::protocol::Event<'static>) -> sentry::protocol::Event<'static> {
    event.user = None;
    event.request = None;
    event.server_name = None;
    event.breadcrumbs = Default::default();
    event.extra.retain(|k, _| !scrubbed(k));
    event.tags.retain(|k, _| !scrubbed(k));
    for context in event.contexts.values_mut() {
        if let sentry::protocol::Context::Other(map) = context {
            map.retain(|k, _| !scrubbed(k));
        }
    }
    event
}

/// Sends envelopes from a task on the app's runtime with the app's HTTP client.
struct SentryTransport {
    queue: tokio::sync::mpsc::Sender<sentry::Envelope>,
    pending: Arc<(Mutex<usize>, Condvar)>,
}

/// Envelopes waiting beyond this are dropped (Sentry unreachable; errors keep coming).
const SENTRY_QUEUE: usize = 64;

impl SentryTransport {
    fn start(opts: &sentry::ClientOptions, client: reqwest::Client, runtime: &tokio::runtime::Handle) -> Self {
        let (queue, mut rx) = tokio::sync::mpsc::channel::<sentry::Envelope>(SENTRY_QUEUE);
        let pending: Arc<(Mutex<usize>, Condvar)> = Arc::default();
        let dsn = opts.dsn.clone();
        let done = pending.clone();
        runtime.spawn(async move {
            let mut limits = RateLimiter::new();
            while let Some(envelope) = rx.recv().await {
                if let Some(dsn) = &dsn
                    && limits.is_disabled(rate_limit_category(&envelope)).is_none()
                {
                    send_envelope(&client, dsn, envelope, &mut limits).await;
                }
                let (count, cv) = &*done;
                *count.lock() -= 1;
                cv.notify_all();
            }
        });
        Self { queue, pending }
    }
}

/// Which of the server's rate limits an envelope falls under (the app sends errors; panics are errors).
fn rate_limit_category(envelope: &sentry::Envelope) -> RateLimitingCategory {
    use sentry::protocol::EnvelopeItem;
    match envelope.items().next() {
        Some(EnvelopeItem::Event(_)) => RateLimitingCategory::Error,
        Some(EnvelopeItem::Transaction(_)) => RateLimitingCategory::Transaction,
        _ => RateLimitingCategory::Any,
    }
}

/// Sends one envelope and takes in the server's rate limits (`X-Sentry-Rate-Limits`, else
/// `Retry-After`, else a bare 429): envelopes that fall under a limit are dropped until it ends,
/// the way Sentry's own transports do.
async fn send_envelope(
    client: &reqwest::Client,
    dsn: &sentry::types::Dsn,
    envelope: sentry::Envelope,
    limits: &mut RateLimiter,
) {
    let mut body = Vec::new();
    if envelope.to_writer(&mut body).is_err() {
        return;
    }
    let auth = dsn.to_auth(Some(concat!("mysetlist/", env!("CARGO_PKG_VERSION")))).to_string();
    let sent = client
        .post(dsn.envelope_api_url().as_str())
        .header("x-sentry-auth", auth)
        .header("content-type", "application/x-sentry-envelope")
        .body(body)
        .send()
        .await;
    if let Ok(r) = &sent {
        let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok());
        if let Some(limits_header) = header("x-sentry-rate-limits") {
            limits.update_from_sentry_header(limits_header);
        } else if let Some(retry_after) = header("retry-after") {
            limits.update_from_retry_after(retry_after);
        } else if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            limits.update_from_429();
        }
    }
    match sent {
        Ok(r) if r.status().is_success() => {}
        // Not logged at error level: that would be sent again.
        Ok(r) => tracing::warn!(status = r.status().as_u16(), "the Sentry server refused an error report"),
        Err(e) => tracing::warn!(error = %e.without_url(), "could not send an error report to Sentry"),
    }
}

impl sentry::Transport for SentryTransport {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        let (count, _) = &*self.pending;
        *count.lock() += 1;
        if self.queue.try_send(envelope).is_err() {
            *count.lock() -= 1;
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        let (count, cv) = &*self.pending;
        let deadline = std::time::Instant::now() + timeout;
        let mut n = count.lock();
        while *n > 0 {
            if cv.wait_until(&mut n, deadline).timed_out() {
                return *n == 0;
            }
        }
        true
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        self.flush(timeout)
    }
}

// ---------------------------------------------------------------------------------------------
// OTLP

fn start_otlp(settings: &TelemetrySettings) -> anyhow::Result<opentelemetry_sdk::trace::SdkTracerProvider> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let runtime =
        tokio::runtime::Handle::try_current().map_err(|_| anyhow::anyhow!("trace export needs the async runtime"))?;
    let base = settings.otlp_endpoint.trim_end_matches('/');
    let endpoint = if base.ends_with("/v1/traces") { base.to_owned() } else { format!("{base}/v1/traces") };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(SEND_TIMEOUT)
        .with_http_client(OtlpClient { client: http_client()?, runtime })
        .build()
        .map_err(|e| anyhow::anyhow!("telemetry.otlp_endpoint: {e}"))?;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(settings.service_name.clone()).build();
    Ok(opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(settings.trace_sample_ratio))
        .with_resource(resource)
        .build())
}

/// OTLP's HTTP client: the export runs on the app's runtime (the batch processor calls it from
/// its own thread).
#[derive(Debug)]
struct OtlpClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl opentelemetry_http::HttpClient for OtlpClient {
    fn send_bytes<'a, 'b>(
        &'a self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<
                        opentelemetry_http::Response<opentelemetry_http::Bytes>,
                        opentelemetry_http::HttpError,
                    >,
                > + Send
                + 'b,
        >,
    >
    where
        'a: 'b,
        Self: 'b,
    {
        let client = self.client.clone();
        let task = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let mut req = client.request(parts.method, parts.uri.to_string()).body(body);
            for (name, value) in &parts.headers {
                req = req.header(name, value);
            }
            let resp = req.send().await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let bytes = resp.bytes().await?;
            let mut out = opentelemetry_http::Response::new(bytes);
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            Ok::<_, reqwest::Error>(out)
        });
        Box::pin(async move {
            match task.await {
                Ok(Ok(resp)) => Ok(resp),
                Ok(Err(e)) => Err(Box::new(e.without_url()) as opentelemetry_http::HttpError),
                Err(e) => Err(Box::new(e) as opentelemetry_http::HttpError),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_addresses_are_scrubbed() {
        for name in ["cookie", "session_id", "Authorization", "client_ip", "ip", "peer_addr", "email", "api_key"] {
            assert!(scrubbed(name), "{name}");
        }
        for name in ["route", "status", "description", "request_id", "error"] {
            assert!(!scrubbed(name), "{name}");
        }
        let mut event = sentry::protocol::Event {
            user: Some(sentry::protocol::User { username: Some("fan".into()), ..Default::default() }),
            ..Default::default()
        };
        event.extra.insert("client_ip".into(), "192.0.2.1".into());
        event.extra.insert("route".into(), "/x".into());
        let event = scrub(event);
        assert!(event.user.is_none());
        assert_eq!(event.extra.keys().collect::<Vec<_>>(), ["route"]);
    }
}
