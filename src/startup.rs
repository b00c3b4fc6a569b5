//! Building and running the application: bind first (port 0 in tests), then serve until a signal,
//! draining in-flight requests and the write queue before exit. Speaks systemd's notify protocol.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::Server;
use poem::listener::{Acceptor, AcceptorExt, Listener, TcpListener};
use tokio::sync::{Notify, watch};

use crate::config::Config;
use crate::db::{Database, DbOptions};
use crate::domain::Domain;
use crate::http::{self, AppState};
use crate::ops::scheduler::{Intervals, Scheduler, SchedulerHandle};

pub struct Application {
    acceptor: poem::listener::BoxAcceptor,
    local_addr: SocketAddr,
    state: Arc<AppState>,
    db: Database,
    shutdown: Arc<Notify>,
    scheduler: SchedulerHandle,
    /// Whether this node is primary: the scheduler runs jobs only while it is true.
    primary: watch::Sender<bool>,
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
        let db = Database::open(&db_options(&config))
            .with_context(|| format!("cannot open the database at {}", config.database_path().display()))?;
        let domain = Domain::new(db.clone(), config.clone()).await.context("cannot initialise the application")?;
        if demo && domain.load_demo().await.context("cannot load the demo dataset")? {
            tracing::info!("loaded the demo dataset");
        }
        let state = AppState::new(domain, false);
        let acceptor = TcpListener::bind(config.listen.to_string())
            .into_acceptor()
            .await
            .with_context(|| format!("cannot listen on {} (setting `listen`)", config.listen))?;
        let local_addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .context("listener has no address")?;
        let (primary, primary_rx) = watch::channel(config.settings.role == crate::config::Role::Primary);
        // The replication code passes its backup-verify hook here once it exists.
        let scheduler =
            Scheduler::standard(state.importer.clone(), &Intervals::from_config(&config), None).start(primary_rx);
        Ok(Self {
            acceptor: acceptor.boxed(),
            local_addr,
            state,
            db,
            shutdown: Arc::new(Notify::new()),
            scheduler,
            primary,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Set to false when this node stops being primary (failover), true when it becomes primary:
    /// periodic jobs run only on the primary.
    pub fn primary_signal(&self) -> watch::Sender<bool> {
        self.primary.clone()
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
        self.scheduler.stop().await;
        self.db.close().await;
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

/// READY=1 once we serve; WATCHDOG=1 at half the interval systemd asks for.
fn notify_systemd_ready() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    let mut usec = 0u64;
    if sd_notify::watchdog_enabled(false, &mut usec) && usec > 0 {
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
