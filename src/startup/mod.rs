//! Building and running the application: bind first (port 0 in tests), then serve until a signal,
//! draining in-flight requests and the write queue before exit. Speaks systemd's notify protocol.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::Server;
use poem::listener::{Acceptor, AcceptorExt, Listener, TcpListener};
use tokio::sync::Notify;

use crate::config::Config;
use crate::db::{Database, DbOptions};
use crate::domain::Domain;
use crate::failover::{self, Failover, FailoverConfig};
use crate::http::{self, AppState};

pub mod replication;

pub struct Application {
    acceptor: poem::listener::BoxAcceptor,
    local_addr: SocketAddr,
    state: Arc<AppState>,
    db: Database,
    failover: Option<Arc<Failover>>,
    shutdown: Arc<Notify>,
}

/// How long in-flight requests may take to finish after a stop signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(8);

pub fn db_options(config: &Config) -> DbOptions {
    DbOptions {
        path: config.database_path(),
        readers: config.settings.database.readers,
        synchronous: config.settings.database.synchronous,
        busy_timeout: config.settings.database.busy_timeout,
        external_checkpoints: config.replication_enabled(),
    }
}

impl Application {
    pub async fn build(config: Config, demo: bool) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        let open_err = || format!("cannot open the database at {}", config.database_path().display());
        // With replication on, the lease decides whether this node leads (and writes) or follows.
        let (db, failover) = if config.replication_enabled() {
            let fcfg = FailoverConfig::from_config(&config, replication::options(&config));
            let booted = failover::boot(&fcfg).await.context("cannot start failover")?;
            let db = if booted.is_leader() {
                Database::open(&db_options(&config))
            } else {
                Database::open_follower(&db_options(&config))
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
            (Database::open(&db_options(&config)).with_context(open_err)?, None)
        };
        let domain = Domain::new(db.clone(), config.clone()).await.context("cannot initialise the application")?;
        if let Some(f) = &failover {
            let d = Arc::downgrade(&domain);
            f.on_data_changed(Arc::new(move || {
                if let Some(d) = d.upgrade() {
                    d.data_changed();
                }
            }));
        }
        if demo {
            if failover.as_ref().is_some_and(|f| !f.accepting_writes()) {
                tracing::info!("--demo ignored: this node follows the leader, whose data it serves");
            } else if domain.load_demo().await.context("cannot load the demo dataset")? {
                tracing::info!("loaded the demo dataset");
            }
        }
        let state = AppState::new(domain, false);
        if let Some(f) = &failover {
            state.add_readiness_check("role", f.readiness());
        }
        let acceptor = TcpListener::bind(config.listen.to_string())
            .into_acceptor()
            .await
            .with_context(|| format!("cannot listen on {} (setting `listen`)", config.listen))?;
        let local_addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .context("listener has no address")?;
        Ok(Self { acceptor: acceptor.boxed(), local_addr, state, db, failover, shutdown: Arc::new(Notify::new()) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
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
        let shutdown = self.shutdown.clone();
        tracing::info!(address = %self.local_addr, "serving");
        notify_systemd_ready();
        let stop = async move {
            tokio::select! {
                _ = shutdown.notified() => {}
                _ = stop_signal() => {}
            }
            tracing::info!("stopping: draining requests");
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        };
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(app, stop, Some(DRAIN_TIMEOUT))
            .await
            .context("server failed")?;
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
