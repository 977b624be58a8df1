//! Building and running the server: `Application::build` opens the store and binds the listener
//! (reporting the real port, so tests ask for port 0), `run_until` serves until a shutdown future
//! resolves, then drains in-flight requests and closes the database cleanly.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::ServeConfig;
use crate::connections::{self, ConnectionLimits};
use crate::limits::AuthLimits;
use crate::live::LiveHub;
use crate::metrics::Metrics;
use crate::presence::Presence;
use crate::store::{Store, StoreError, now_ms};
use crate::{AppState, http, monitor};

/// Messages a live client may fall behind before it is dropped.
const LIVE_BUFFER: usize = 1024;

pub struct Application {
    listener: TcpListener,
    tls: Option<Arc<crate::tls::Tls>>,
    hangups: crate::tls::Hangups,
    state: AppState,
    stop: tokio::sync::watch::Sender<bool>,
    mqtt: Option<crate::mqtt::Receiving>,
}

/// Descriptors kept free of connections: the database and its WAL, the readers, logs, the poller.
const RESERVED_FILES: u64 = 64;

/// The accept loop's limits: the configured cap, lowered to what the open files limit allows
/// (raised to its hard maximum first).
fn connection_limits(config: &ServeConfig) -> ConnectionLimits {
    let mut max = config.max_connections;
    if let Some(files) = connections::raise_open_files_limit() {
        let fits = files.saturating_sub(RESERVED_FILES).max(1);
        if fits < max {
            tracing::warn!(
                configured = max,
                open_files_limit = files,
                "lowering --max-connections to {fits} to fit the open files limit"
            );
            max = fits;
        }
    }
    ConnectionLimits {
        max_connections: usize::try_from(max).unwrap_or(usize::MAX),
        idle_timeout: std::time::Duration::from_secs(config.idle_timeout),
        header_read_timeout: std::time::Duration::from_secs(config.header_read_timeout),
        send_timeout: std::time::Duration::from_secs(config.send_timeout),
        max_per_address: usize::try_from(config.max_connections_per_address).unwrap_or(usize::MAX),
    }
}

/// Makes sure the data directory exists and is writable, with an error that says which.
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let probe = dir.join(".assetlog-write-test");
    let written = std::fs::write(&probe, b"ok");
    let _ = std::fs::remove_file(probe);
    match written {
        // Writable, but full: the store opens read-only if it must (store/open.rs).
        Err(e) if crate::store::io_no_space(&e) => {
            tracing::warn!(data_dir = %dir.display(), "the data directory's disk is full");
            Ok(())
        }
        written => {
            written.with_context(|| format!("data directory {} is not writable", dir.display()))
        }
    }
}

/// The database file of a data directory.
pub fn database_path(dir: &Path) -> std::path::PathBuf {
    dir.join("assetlog.db")
}

/// Opens the database of a data directory.
pub fn open_store(dir: &Path) -> anyhow::Result<Store> {
    prepare_data_dir(dir)?;
    Store::open(&database_path(dir))
}

/// Opens the store the configuration names: PostgreSQL at `--database-url`, else SQLite in the
/// data directory.
pub async fn open_configured_store(config: &ServeConfig) -> anyhow::Result<Store> {
    match &config.database_url {
        Some(url) => {
            let options = crate::store::postgres::Options {
                pool_size: config.database_pool as usize,
                ..Default::default()
            };
            let store = Store::connect(url, options).await?;
            tracing::info!(database = %crate::store::postgres::redact(url), "using PostgreSQL");
            Ok(store)
        }
        None => open_store(&config.data_dir),
    }
}

impl Application {
    pub async fn build(config: ServeConfig) -> anyhow::Result<Self> {
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(Arc::new(crate::tls::Tls::load(cert, key)?)),
            (None, None) => None,
            _ => anyhow::bail!("--tls-cert and --tls-key go together"),
        };
        let store = open_configured_store(&config).await?;
        store.set_pending_limits(config.pending_limits());
        let listener = TcpListener::bind(&config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let presence = Presence::new(config.heartbeat_interval as i64 * 1000);
        // Loggers silent for too long (the server may have been down itself) are offline since
        // their last contact.
        for (row, since) in presence.load(store.logger_contacts().await?, now_ms()) {
            match store.open_offline(row, since).await {
                Ok(()) => {}
                // Read-only on a full disk: the spans are recorded once the server can write.
                Err(StoreError::Full(reason)) => {
                    tracing::warn!("cannot record that loggers went offline: {reason}");
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let (mqtt, mqtt_receiving) = match crate::mqtt::Settings::from_config(&config)? {
            Some(settings) => {
                let (link, receiving) = crate::mqtt::Link::connect(settings).await?;
                (Some(link), Some(receiving))
            }
            None => (None, None),
        };
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let store_leads = store.lead().await;
        let state = AppState {
            store,
            live: Arc::new(LiveHub::new(LIVE_BUFFER)),
            presence: Arc::new(presence),
            alerts: Arc::new(crate::alerts::Alerts::new(&config)?),
            mqtt,
            metrics: Arc::new(Metrics::default()),
            auth: Arc::new(AuthLimits::new(config.auth_settings())),
            queries: Arc::new(config.query_gate()),
            config: Arc::new(config),
            transitions: Arc::default(),
            backfilled: Arc::default(),
            days_settled: Arc::new(tokio::sync::watch::Sender::new(0)),
            leads: store_leads,
            shutdown,
        };
        Ok(Self {
            listener,
            tls,
            hangups: crate::tls::Hangups::listen(),
            state,
            stop,
            mqtt: mqtt_receiving,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where the server answers: `https://ADDRESS` with TLS, else `http://ADDRESS`.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves; then stops accepting, finishes in-flight requests,
    /// closes live sockets, saves logger contacts and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            tls,
            hangups,
            state,
            stop,
            mqtt,
        } = self;
        let monitor = tokio::spawn(monitor::run(state.clone()));
        let settler = tokio::spawn(monitor::settle_events(state.clone()));
        let days = tokio::spawn(monitor::settle_days(state.clone()));
        let expirer = tokio::spawn(monitor::expire_pending(state.clone()));
        let keeper = tokio::spawn(monitor::housekeeping(state.clone()));
        let evaluator = tokio::spawn(crate::alerts::run(state.clone()));
        let sender = tokio::spawn(crate::alerts::deliver::run(state.clone()));
        let reporter = tokio::spawn(crate::reports::run(state.clone()));
        let bridge = crate::replicas::start(&state);
        let broker = match (&state.mqtt, mqtt) {
            (Some(link), Some(receiving)) => Some(tokio::spawn(crate::mqtt::run(
                state.clone(),
                link.clone(),
                receiving,
            ))),
            _ => None,
        };
        let acceptor = tls.as_ref().map(|tls| tls.acceptor());
        let reloader = tokio::spawn(crate::tls::reload_on_hangup(
            tls,
            hangups,
            state.shutdown.clone(),
        ));
        let app = http::router(state.clone());
        let stop_signal = stop.clone();
        let limits = connection_limits(&state.config);
        let open = state.metrics.connections_open.clone();
        let served = connections::serve(listener, acceptor, app, limits, open, async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stop_signal.send(true);
        })
        .await;
        let _ = stop.send(true);
        let _ = monitor.await;
        let _ = settler.await;
        let _ = days.await;
        let _ = expirer.await;
        let _ = keeper.await;
        let _ = evaluator.await;
        let _ = sender.await;
        let _ = reporter.await;
        let _ = reloader.await;
        if let Some(broker) = broker {
            let _ = broker.await;
        }
        for task in bridge {
            let _ = task.await;
        }
        state.store.close().await;
        tracing::info!("database closed");
        served.context("server error")
    }
}
