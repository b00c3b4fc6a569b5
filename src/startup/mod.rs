//! Building and running the application: bind first (port 0 in tests), then serve until a signal,
//! draining in-flight requests and the write queue before exit. Speaks systemd's notify protocol.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::listener::{Acceptor, AcceptorExt, Listener, TcpListener};
use tokio::sync::{Notify, watch};

use crate::config::Config;
use crate::db::server_lock::ServerLock;
use crate::db::{Database, DbOptions};
use crate::domain::Domain;
use crate::failover::{self, Failover, FailoverConfig};
use crate::http::{self, AppState};
use crate::observability::Observability;
use crate::ops::scheduler::{Intervals, Scheduler, SchedulerHandle};

mod failover_feed;
pub mod https;
pub mod replication;
pub mod server;

pub struct Application {
    acceptor: poem::listener::BoxAcceptor,
    local_addr: SocketAddr,
    state: Arc<AppState>,
    db: Database,
    failover: Option<Arc<Failover>>,
    /// With a domain: the HTTP listener (ACME HTTP-01 + redirect) and the certificate manager.
    https: Option<HttpsRuntime>,
    /// The separate /metrics listener (`metrics.listen`), when configured.
    metrics_acceptor: Option<(poem::listener::BoxAcceptor, SocketAddr)>,
    shutdown: Arc<Notify>,
    scheduler: SchedulerHandle,
    /// Whether this node is primary: the scheduler runs jobs only while it is true.
    primary: watch::Sender<bool>,
    /// With `--demo`: the path of a one-time link that sets the demo admin's password and signs in.
    demo_sign_in: Option<String>,
    /// The daily quick_check, stopped with the server (it holds the database).
    integrity_checks: tokio::task::JoinHandle<()>,
    /// Held until the server has stopped: one server per database, visible to commands beside it.
    _server_lock: ServerLock,
}

struct HttpsRuntime {
    certs: crate::tls::CertManagerHandle,
    http: poem::listener::BoxAcceptor,
    http_addr: SocketAddr,
}

/// How often `PRAGMA quick_check` runs (the first run is at start).
const INTEGRITY_CHECK_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// How long in-flight requests may take to finish after a stop signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(8);

impl Application {
    pub async fn build(config: Config, demo: bool) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        let open_err = || format!("cannot open the database at {}", config.database_path().display());
        // Before anything touches the data directory (a restore at boot included).
        let server_lock = ServerLock::acquire(&config.database_path()).context("cannot serve")?;
        // With replication on, the lease decides whether this node leads (and writes) or follows.
        let (db, failover) = if config.replication_enabled() {
            let fcfg = FailoverConfig::from_config(&config, replication::options(&config));
            // Restoring the bucket or waiting for the primary's first backup can outlast the unit's
            // start timeout: keep asking systemd for more time until boot returns.
            let booted = extending_start_timeout(failover::boot(&fcfg)).await.context("cannot start failover")?;
            let db = if booted.is_leader() {
                Database::open(&DbOptions::from_config(&config))
            } else {
                Database::open_follower(&DbOptions::from_config(&config))
            }
            .with_context(open_err)?;
            tracing::info!(
                url = %config.settings.replication.url,
                ack = ?config.settings.replication.ack,
                node = fcfg.node_id,
                leader = booted.is_leader(),
                "replicating"
            );
            let f = Failover::start(fcfg, booted, db.clone()).context("cannot start failover")?;
            (db, Some(f))
        } else {
            (Database::open(&DbOptions::from_config(&config)).with_context(open_err)?, None)
        };
        let domain = Domain::new(db.clone(), config.clone()).await.context("cannot initialise the application")?;
        // Bumped after every apply on a follower: the certificate manager reloads the stored one.
        let (store_changed, store_changed_rx) = watch::channel(0u64);
        if let Some(f) = &failover {
            let d = Arc::downgrade(&domain);
            f.on_data_changed(Arc::new(move || {
                if let Some(d) = d.upgrade() {
                    d.data_changed();
                }
                store_changed.send_modify(|n| *n = n.wrapping_add(1));
            }));
        }
        let (primary, primary_rx) = watch::channel(match &failover {
            Some(f) => f.accepting_writes(),
            None => config.settings.role == crate::config::Role::Primary,
        });
        if let Some(f) = &failover {
            failover_feed::follow_leadership(f, &primary);
        }
        let mut demo_sign_in = None;
        if demo {
            if failover.as_ref().is_some_and(|f| !f.accepting_writes()) {
                tracing::info!("--demo ignored: this node follows the leader, whose data it serves");
            } else {
                if domain.load_demo().await.context("cannot load the demo dataset")? {
                    tracing::info!("loaded the demo dataset");
                }
                let link = domain.demo_admin_link().await.context("cannot make the demo admin's sign-in link")?;
                demo_sign_in = Some(format!("/reset/{}", link.token));
            }
        }
        let obs = Observability::new(domain.clone()).context("cannot set up monitoring (setting `alerts`)")?;
        let state = AppState::new(domain, obs, config.https_enabled());
        {
            // A read-only mount or lost permissions make every write fail: take the node out of rotation.
            let db = db.clone();
            state.add_readiness_check("database files", Arc::new(move || Ok(db.check_files_writable()?)));
        }
        {
            // A full or failing disk: writes answer 503 until it recovers (the writer logs the change).
            let writer = db.clone();
            state.add_readiness_check(
                "storage",
                Arc::new(move || match writer.writer_stats().storage_failing {
                    true => Err(crate::health::NotReady::StorageFailing),
                    false => Ok(()),
                }),
            );
            let checked = db.clone();
            state.add_readiness_check(
                "database integrity",
                Arc::new(move || Ok(checked.integrity().unwrap_or(Ok(()))?)),
            );
        }
        // quick_check at start (in the background: a large database takes seconds) and daily.
        let checked = db.clone();
        let integrity_checks = tokio::spawn(async move {
            let mut daily = tokio::time::interval(INTEGRITY_CHECK_INTERVAL);
            loop {
                daily.tick().await;
                let _ = checked.quick_check().await;
            }
        });
        let metrics_acceptor = match config.metrics_listen {
            Some(addr) => Some(bind(addr, "metrics.listen").await?),
            None => None,
        };
        if let Some(f) = &failover {
            // Ready only on the node that accepts writes, and there while replication keeps up.
            let lag_bound = crate::health::thresholds::replication_lag_bound(config.settings.replication.sync_interval);
            state.add_readiness_check("role", f.readiness(lag_bound));
            // A follower says how far behind it may be (headers, and a notice once it is stale).
            let (weak, stale_after) = (Arc::downgrade(f), config.settings.failover.stale_after);
            *state.freshness.write() = Some(Arc::new(move || {
                let s = weak.upgrade()?.status();
                let lag = s.lag.filter(|_| !s.accepting_writes)?;
                Some(http::Freshness { txid: s.txid, lag, stale: lag > stale_after })
            }));
        }
        // With a domain the app is served over HTTPS only; plain HTTP answers ACME and redirects.
        let (acceptor, local_addr, https) = if config.https_enabled() {
            // In a failover cluster only the leader orders; followers serve what it stored.
            let cluster = failover
                .as_ref()
                .map(|_| crate::tls::Cluster { leading: primary_rx.clone(), store_changed: store_changed_rx.clone() });
            let parts = https::start(&config, &db, cluster).await?;
            state.add_readiness_check("certificate", https::readiness(&parts.certs));
            state.obs.metrics.tls.read_from(crate::observability::sources::certificates(&parts.certs));
            tracing::info!(https = %parts.https_addr, http = %parts.http_addr, domains = ?config.settings.domain, "automatic HTTPS");
            let rt = HttpsRuntime { certs: parts.certs, http: parts.http, http_addr: parts.http_addr };
            (parts.https, parts.https_addr, Some(rt))
        } else {
            let acceptor = TcpListener::bind(config.listen.to_string())
                .into_acceptor()
                .await
                .with_context(|| format!("cannot listen on {} (setting `listen`)", config.listen))?;
            let local_addr = acceptor
                .local_addr()
                .first()
                .and_then(|a| a.as_socket_addr().copied())
                .context("listener has no address")?;
            (acceptor.boxed(), local_addr, None)
        };
        if let Some(f) = &failover {
            state.obs.metrics.failover.read_from(crate::observability::sources::failover(f));
        }
        let backup_verify = match &failover {
            Some(f) => {
                let metrics = state.obs.metrics.backup.clone();
                // The last success survives restarts (for the "backup stale" alert).
                let runs = db.read(crate::db::jobs::all).await.context("cannot read job_runs")?;
                if let Some(at) = runs.iter().find(|j| j.job == "backup_verify").and_then(|j| j.last_success) {
                    metrics.restore_last_success(at);
                }
                Some(replication::verify_job(&config, f, metrics))
            }
            None => None,
        };
        let scheduler =
            Scheduler::standard(db.clone(), state.importer.clone(), &Intervals::from_config(&config), backup_verify)
                .start(primary_rx);
        Ok(Self {
            acceptor,
            local_addr,
            state,
            db,
            failover,
            https,
            metrics_acceptor,
            shutdown: Arc::new(Notify::new()),
            scheduler,
            primary,
            demo_sign_in,
            integrity_checks,
            _server_lock: server_lock,
        })
    }

    /// The app's listener: plain HTTP, or HTTPS when a domain is set.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Address of the separate /metrics listener, when `metrics.listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_acceptor.as_ref().map(|(_, addr)| *addr)
    }

    /// The HTTP listener that redirects to HTTPS (only with a domain).
    pub fn http_redirect_addr(&self) -> Option<SocketAddr> {
        self.https.as_ref().map(|h| h.http_addr)
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// The database the app serves from, for tests and tools that inspect storage directly.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Set to false when this node stops being primary (failover), true when it becomes primary:
    /// periodic jobs run only on the primary.
    pub fn primary_signal(&self) -> watch::Sender<bool> {
        self.primary.clone()
    }

    /// With `--demo`: the path (`/reset/<token>`) of a one-time link that sets the demo admin's
    /// password and signs in (valid a day).
    pub fn demo_sign_in(&self) -> Option<&str> {
        self.demo_sign_in.as_deref()
    }

    /// The certificate manager (None without a domain): what is served, renewals, errors.
    pub fn certificates(&self) -> Option<crate::tls::CertManagerHandle> {
        self.https.as_ref().map(|h| h.certs.clone())
    }

    /// The failover machinery (None without replication): role, followed TXID, promotion.
    pub fn failover(&self) -> Option<Arc<Failover>> {
        self.failover.clone()
    }

    /// A handle that stops the server when notified (tests; the CLI uses signals).
    pub fn shutdown_handle(&self) -> Arc<Notify> {
        self.shutdown.clone()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let app = http::app(self.state.clone());
        let limits = server::ConnectionLimits::from_config(&self.state.config);
        let conn_stats = self.state.obs.connections.clone();
        let shutdown = self.shutdown.clone();
        let background = self.state.obs.spawn_background();
        tracing::info!(address = %self.local_addr, "serving");
        notify_systemd_ready();
        // One stop signal fans out to every listener.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.notified() => {}
                _ = stop_signal() => {}
            }
            tracing::info!("stopping: draining requests");
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
            let _ = stop_tx.send(true);
        });
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let metrics_server = self.metrics_acceptor.map(|(acceptor, addr)| {
            tracing::info!(address = %addr, "serving /metrics");
            let app = http::metrics_app(self.state.clone());
            let stop = stopped(stop_rx.clone());
            let (limits, stats) = (limits.clone(), conn_stats.clone());
            tokio::spawn(async move { server::serve(acceptor, app, limits, stats, stop, DRAIN_TIMEOUT).await })
        });
        let main = server::serve(
            self.acceptor,
            app,
            limits.clone(),
            conn_stats.clone(),
            stopped(stop_rx.clone()),
            DRAIN_TIMEOUT,
        );
        let certs = match self.https {
            Some(h) => {
                let https_port = self.local_addr.port();
                let redirect = crate::tls::HttpsRedirect::new(
                    self.state.config.settings.domain.clone(),
                    https_port,
                    h.certs.http01(),
                );
                let plain = server::serve(
                    h.http,
                    redirect,
                    limits.clone(),
                    conn_stats.clone(),
                    stopped(stop_rx.clone()),
                    DRAIN_TIMEOUT,
                );
                let (a, b) = tokio::join!(main, plain);
                a.context("HTTPS server failed")?;
                b.context("HTTP redirect server failed")?;
                Some(h.certs)
            }
            None => {
                main.await.context("server failed")?;
                None
            }
        };
        if let Some(c) = certs {
            c.stop();
        }
        if let Some(server) = metrics_server {
            match server.await {
                Ok(Err(e)) => tracing::warn!(error = %e, "the /metrics listener failed"),
                Err(e) => tracing::warn!(error = %e, "the /metrics listener task failed"),
                Ok(Ok(())) => {}
            }
        }
        drop(background);
        // Order matters: stop the jobs (they write, and the verify job holds the replicator), stop the
        // writer (no new commits), then the final WAL sync to S3.
        self.scheduler.stop().await;
        self.integrity_checks.abort();
        self.state.readiness.write().clear();
        match self.failover {
            // Stops writes, ships the last commits, releases the lease, closes the database.
            Some(f) => f.shutdown(&self.db).await,
            None => self.db.close().await,
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Binds a TCP listener now, so a port in use is reported at start with the setting's name.
async fn bind(addr: SocketAddr, setting: &str) -> anyhow::Result<(poem::listener::BoxAcceptor, SocketAddr)> {
    let acceptor = TcpListener::bind(addr.to_string())
        .into_acceptor()
        .await
        .with_context(|| format!("cannot listen on {addr} (setting `{setting}`)"))?;
    let local =
        acceptor.local_addr().first().and_then(|a| a.as_socket_addr().copied()).context("listener has no address")?;
    Ok((acceptor.boxed(), local))
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// The watchdog interval systemd asks for. Like libsystemd's sd_watchdog_enabled (and unlike the
/// sd-notify crate), a missing WATCHDOG_PID means the request is for this process.
fn watchdog_usec() -> Option<u64> {
    let usec = std::env::var("WATCHDOG_USEC").ok()?.parse::<u64>().ok().filter(|u| *u > 0)?;
    match std::env::var("WATCHDOG_PID").ok().map(|p| p.parse::<u32>()) {
        None => Some(usec),
        Some(Ok(pid)) if pid == std::process::id() => Some(usec),
        _ => None,
    }
}

/// How often [`extending_start_timeout`] asks for more time, and how much it asks for each time: the
/// margin covers a stalled scheduler, and a hung start is still stopped within 30 s of its last tick.
const START_EXTEND_EVERY: Duration = Duration::from_secs(10);
const START_EXTEND_BY: Duration = Duration::from_secs(30);

/// Runs `work` (the pre-READY part of the start: restore, waiting for a first backup) while sending
/// EXTEND_TIMEOUT_USEC every 10 s, so systemd's TimeoutStartSec bounds a *stalled* start, not a long
/// restore; WATCHDOG=1 too when a watchdog is armed. Outside systemd the notifications go nowhere.
async fn extending_start_timeout<T>(work: impl std::future::Future<Output = T>) -> T {
    let keepalive = async {
        let usec = u32::try_from(START_EXTEND_BY.as_micros()).unwrap_or(u32::MAX);
        let every =
            watchdog_usec().map_or(START_EXTEND_EVERY, |w| START_EXTEND_EVERY.min(Duration::from_micros(w / 2)));
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::ExtendTimeoutUsec(usec)]);
            if watchdog_usec().is_some() {
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
            }
        }
    };
    tokio::select! {
        out = work => out,
        _ = keepalive => unreachable!("the keep-alive loop never ends"),
    }
}

/// READY=1 once we serve; WATCHDOG=1 at half the interval systemd asks for.
fn notify_systemd_ready() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    if let Some(usec) = watchdog_usec() {
        let every = Duration::from_micros(usec / 2);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
            }
        });
    }
}
