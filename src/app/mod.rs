//! The composition root: builds the application from its configuration (storage, readiness,
//! listeners, HTTPS, jobs), binding every listener first (port 0 in tests), then serves until a
//! shutdown future completes, draining in-flight requests and the write queue before it returns.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::endpoint::BoxEndpoint;
use poem::{EndpointExt, Response};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::db::Database;
use crate::failover::Failover;
use crate::http::{self, AppState};
use crate::observability::{Observability, sources};

mod acceptor;
mod first_request;
pub mod https;
mod jobs;
mod leadership;
mod listeners;
mod readiness;
pub mod replication;
pub mod server;
mod storage;
mod stream_response;
mod systemd;

pub use systemd::stop_signal;

use acceptor::AnyAcceptor;
use jobs::Jobs;
use listeners::{Bound, bind};
use storage::Storage;

/// How long in-flight requests may take to finish after the shutdown future completes.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(8);

pub struct Application {
    state: Arc<AppState>,
    storage: Storage,
    /// The app's listener: plain HTTP, or HTTPS when a domain is set.
    main: (AnyAcceptor, SocketAddr),
    /// With a domain: the certificate manager and the HTTP listener (ACME HTTP-01 + redirect).
    https: Option<(crate::tls::CertManagerHandle, Bound)>,
    /// The separate /metrics listener (`metrics.listen`), when configured.
    metrics: Option<Bound>,
    jobs: Jobs,
    /// Kept alive with the application: the scheduler and certificate orders read its signal.
    _leadership: watch::Sender<bool>,
    /// With `--demo`: the path of a one-time link that sets the demo admin's password and signs in.
    demo_sign_in: Option<String>,
}

impl Application {
    pub async fn build(config: Config, demo: bool) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        let storage = Storage::open(&config).await?;
        let (leadership, leading) = leadership::follow(&storage, &config);
        let demo_sign_in = if demo { storage.prepare_demo(&config).await? } else { None };
        let obs = Observability::new(storage.domain.clone()).context("cannot set up monitoring (setting `alerts`)")?;
        let state = AppState::new(storage.domain.clone(), obs, config.https_enabled());
        readiness::register(&state, &storage, &config);
        if let Some(f) = &storage.failover {
            state.obs.metrics.failover.read_from(sources::failover(f));
        }
        let metrics = match config.metrics_listen {
            Some(addr) => Some(bind(addr, "metrics.listen").await?),
            None => None,
        };
        // With a domain the app is served over HTTPS only; plain HTTP answers ACME and redirects.
        let (main, https) = if config.https_enabled() {
            // In a failover cluster only the leader orders; followers serve what it stored.
            let cluster = storage.failover.as_ref().map(|_| crate::tls::Cluster {
                leading: leading.clone(),
                store_changed: storage.store_changed.clone(),
            });
            let parts = https::start(&config, &storage.db, cluster).await?;
            state.add_readiness_check("certificate", https::readiness(&parts.certs));
            state.obs.metrics.tls.read_from(sources::certificates(&parts.certs));
            tracing::info!(https = %parts.https_addr, http = %parts.http.addr, domains = ?config.settings.domain, "automatic HTTPS");
            ((parts.https, parts.https_addr), Some((parts.certs, parts.http)))
        } else {
            let plain = bind(config.listen, "listen").await?;
            ((AnyAcceptor::new(plain.acceptor), plain.addr), None)
        };
        let jobs = Jobs::start(&config, &storage, &state, leading).await?;
        Ok(Self { state, storage, main, https, metrics, jobs, _leadership: leadership, demo_sign_in })
    }

    /// The app's listener: plain HTTP, or HTTPS when a domain is set.
    pub fn local_addr(&self) -> SocketAddr {
        self.main.1
    }

    /// Address of the separate /metrics listener, when `metrics.listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|m| m.addr)
    }

    /// The HTTP listener that redirects to HTTPS (only with a domain).
    pub fn http_redirect_addr(&self) -> Option<SocketAddr> {
        self.https.as_ref().map(|(_, http)| http.addr)
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// The database the app serves from, for tests and tools that inspect storage directly.
    pub fn database(&self) -> &Database {
        &self.storage.db
    }

    /// With `--demo`: the path (`/reset/<token>`) of a one-time link that sets the demo admin's
    /// password and signs in (valid a day).
    pub fn demo_sign_in(&self) -> Option<&str> {
        self.demo_sign_in.as_deref()
    }

    /// The certificate manager (None without a domain): what is served, renewals, errors.
    pub fn certificates(&self) -> Option<crate::tls::CertManagerHandle> {
        self.https.as_ref().map(|(certs, _)| certs.clone())
    }

    /// The failover machinery (None without replication): role, followed TXID, promotion.
    pub fn failover(&self) -> Option<Arc<Failover>> {
        self.storage.failover.clone()
    }

    /// Serves every listener until `shutdown` completes (the CLI passes [`stop_signal`]) or one of
    /// them fails, then drains requests, stops the jobs, the writer and replication (shipping the
    /// last commits) and closes the database.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let state = self.state.clone();
        let stop = CancellationToken::new();
        let stopping = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown => tracing::info!("stopping: draining requests"),
                _ = stopping.cancelled() => tracing::warn!("a listener failed: stopping"),
            }
            systemd::notify_stopping();
            stopping.cancel();
        });
        let mut listeners: Vec<(&str, AnyAcceptor, BoxEndpoint<'static, Response>)> =
            vec![("the server", self.main.0, http::app(state.clone()).map_to_response().boxed())];
        let certs = self.https.map(|(certs, http)| {
            let domains = state.config.settings.domain.clone();
            let redirect = crate::tls::HttpsRedirect::new(domains, self.main.1.port(), certs.http01());
            listeners.push(("the HTTP redirect listener", AnyAcceptor::new(http.acceptor), redirect.boxed()));
            certs
        });
        if let Some(m) = self.metrics {
            tracing::info!(address = %m.addr, "serving /metrics");
            let app = http::metrics_app(state.clone()).map_to_response().boxed();
            listeners.push(("the /metrics listener", AnyAcceptor::new(m.acceptor), app));
        }
        let background = state.obs.spawn_background();
        tracing::info!(address = %self.main.1, "serving");
        systemd::notify_ready();
        let limits = server::ConnectionLimits::from_config(&state.config);
        let served = futures_util::future::join_all(listeners.into_iter().map(|(name, acceptor, endpoint)| {
            let (limits, stats, stop) = (limits.clone(), state.obs.connections.clone(), stop.clone());
            async move {
                let served =
                    server::serve(acceptor, endpoint, limits, stats, stop.clone().cancelled_owned(), DRAIN_TIMEOUT)
                        .await
                        .with_context(|| format!("{name} failed"));
                if served.is_err() {
                    stop.cancel();
                }
                served
            }
        }))
        .await;
        if let Some(certs) = certs {
            certs.stop();
        }
        drop(background);
        // Order matters: stop the jobs (they write, and the verify job holds the replicator), stop the
        // writer (no new commits), then the final WAL sync to S3.
        self.jobs.stop().await;
        state.readiness.write().clear();
        match &self.storage.failover {
            // Stops writes, ships the last commits, releases the lease, closes the database.
            Some(f) => f.shutdown(&self.storage.db).await,
            None => self.storage.db.close().await,
        }
        tracing::info!("stopped");
        served.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        Ok(())
    }
}
