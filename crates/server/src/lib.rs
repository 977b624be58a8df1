//! The `assetlog` server: loggers report every RUNNING/STOPPED change of their machines; the server
//! keeps each change for its tenant (durably, once), pushes it live to that tenant's dashboards
//! and serves the history.
//!
//! # Layout
//! - [`analytics`]: availability, MTBF, MTTR, stops and reasons from the history: typed
//!   questions, typed answers, the day rollups kept filled.
//! - [`alerts`]: rules, alerts and their deliveries (webhook, Slack, Teams, email), on the leader.
//! - [`reports`]: shift reports, emailed once per shift, day or week through the alerts' outbox.
//! - [`config`]: command line and environment.
//! - [`domain`]: checked values (names, emails, …) that raw input becomes once, at the edge.
//! - [`ingest`]: the one path of a logger's report: authenticate, check, store, publish, presence.
//! - [`mqtt`]: loggers over an MQTT broker: the subscription into [`ingest`], the loggers'
//!   broker clients.
//! - [`demo`]: `assetlog demo`, the server with simulated machines and a week of history.
//! - [`calendar`]: shift calendars and time-zone buckets, as UTC spans for analytics.
//! - [`startup`]: [`Application`]: opens the store, binds the listener, runs until shutdown.
//! - [`connections`]: the accept loop: connection cap, idle and header-read timeouts, drain.
//! - [`tls`]: HTTPS with `--tls-cert`/`--tls-key`, re-read on SIGHUP.
//! - [`http`]: the API, one module per domain (accounts, device protocol, loggers, assets and
//!   events, live socket, operations).
//! - [`store`]: the storage seam: SQLite (default) or PostgreSQL behind it.
//! - [`live`]: the per-tenant live hub.
//! - [`presence`]: which loggers are online; [`monitor`] marks the silent ones offline.
//! - [`replicas`]: several servers on one database as one: live messages and revocations
//!   cross between them, one leads.
//! - [`secrets`]: tokens, device keys, claim codes, password hashing.
//! - [`limits`]: what a hostile client cannot exhaust: hashing slots, sign-in attempts,
//!   analytics slots.
//! - [`metrics`], [`error`].

pub mod alerts;
pub mod analytics;
pub mod calendar;
pub mod config;
pub mod connections;
pub mod demo;
pub mod domain;
pub mod error;
pub mod http;
pub mod ingest;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod monitor;
pub mod mqtt;
pub mod presence;
pub mod replicas;
pub mod reports;
pub mod secrets;
pub mod shares;
pub mod startup;
pub mod store;
pub mod tls;

use std::sync::Arc;

pub use startup::Application;

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: store::Store,
    pub live: Arc<live::LiveHub>,
    pub presence: Arc<presence::Presence>,
    pub alerts: Arc<alerts::Alerts>,
    /// The MQTT broker's link, with `--mqtt-url`.
    pub mqtt: Option<Arc<mqtt::Link>>,
    pub metrics: Arc<metrics::Metrics>,
    pub config: Arc<config::ServeConfig>,
    /// Hashing slots and the attempts of sign-in, sign-up and claim.
    pub auth: Arc<limits::AuthLimits>,
    /// Slots of the heavy questions: analytics and stops.
    pub queries: Arc<limits::QueryGate>,
    /// Serialises a logger's offline/online transitions with the writes that record them.
    pub transitions: Arc<tokio::sync::Mutex<()>>,
    /// Told when a report stored events of days that may have ended (a backfill, a logger
    /// catching up): the day rollups are then settled soon, not at the next period.
    pub backfilled: Arc<tokio::sync::Notify>,
    /// How many background settles of the day rollups have finished (for those who wait on one).
    pub days_settled: Arc<tokio::sync::watch::Sender<u64>>,
    /// Whether this server leads the others on its database (always, alone on SQLite): the
    /// once-per-installation work of `monitor` is the leader's.
    pub leads: tokio::sync::watch::Receiver<bool>,
    /// Turns true when the server begins to shut down.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// Resolves once the shutdown flag is set (or its sender is gone).
pub async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}
