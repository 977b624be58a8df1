//! Storage: the one seam between the services (`ingest`, `analytics`, the HTTP handlers) and the
//! database.
//!
//! # The seam
//! Callers use the domain methods of [`Store`] and never see SQL: their arguments and answers are
//! domain types (`store::model`, `NewEvent`, `HistoryRows`, …) and their errors [`StoreError`],
//! which names no driver type. Every method that touches a tenant's rows takes the tenant and
//! filters by it, also where an asset id alone would find the row.
//!
//! `Store` is one handle over an enum of backends; each domain method below is a `match` that
//! calls the same-named method of the backend (the [`seam!`] list is the whole API, in one
//! place). An enum rather than a trait object, because the methods are `async` and the set of
//! backends is closed; rather than a generic `Store<B>`, so that `AppState` and every caller stay
//! non-generic. The domain types and `StoreError` are shared; the SQL is each backend's own.
//!
//! # Layout
//! - `sqlite/`: the default backend, one file in WAL mode with a single writer thread and group
//!   commit (its own Layout docs). The shared row and request types still live beside its SQL
//!   and are re-exported here.
//! - `postgres/`: PostgreSQL, chosen by `--database-url` (its own Layout docs).
//! - `model`: the rows handed out.
//! - `migrate_pg`: `assetlog migrate-to-postgres`, a SQLite installation copied into a new
//!   PostgreSQL database (it reads SQLite's file itself, below the seam).

pub mod migrate_pg;
mod model;
pub mod postgres;
pub use postgres::Broadcast;
pub(crate) mod sqlite;

use std::path::Path;
use std::sync::Arc;

use crate::calendar::{Calendars, Weekly};
use crate::domain::{AssetId, LoggerRow, TenantId, UserId};

pub use model::*;
pub use sqlite::{
    Backup, DayRollup, DeviceAuth, EventQuery, Heartbeat, HistoryAsk, HistoryRows, IngestOutcome,
    Integrity, LoggerUpdate, NewDays, NewEvent, PendingLimit, PendingLimits, PendingLogger,
    PlannedDowntime, Reason, Registration, RegistrationOutcome, Settings, SettingsChange, StopPart,
    StorageHealth, StoredChange, StoredDays, backup, check_integrity, check_rollup_decoding,
    io_no_space, target_of, weekly_of,
};

/// Errors of the storage layer. Domain outcomes (a wrong key, a duplicate) are values, not errors;
/// no variant names a driver type, so a second backend answers with the same errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The change would break a rule of the data a client can run into (a taken email, the last
    /// admin): the message says which, for the client.
    #[error("{0}")]
    Conflict(String),
    /// The database failed: only logged, never shown to a client.
    #[error("database error: {0}")]
    Database(#[source] BackendError),
    /// A pending logger's write would pass one of the caps on pending loggers (`limit` of them):
    /// nothing of it is stored.
    #[error("a cap on pending loggers: {what:?} {limit}")]
    PendingFull { what: PendingLimit, limit: i64 },
    /// The disk is full (or the server started read-only on a full disk): nothing of the write
    /// is stored. The message says which, for the client.
    #[error("storage full: {0}")]
    Full(String),
    /// The database cannot be reached (PostgreSQL away or restarting): answered 503, and the
    /// client tries again.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A logger's credentials (its key, keyless, its tenant) are not those a report or heartbeat
    /// was authenticated with: another server changed them since this one read them. Nothing is
    /// stored; the caller reads them again (`Store::reread_device`) and decides anew.
    #[error("the logger's credentials changed since they were read")]
    CredentialsChanged,
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("the store is closed")]
    Closed,
}

/// A backend's own error, kept opaque above the store.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct BackendError(pub(crate) Box<dyn std::error::Error + Send + Sync>);

impl From<String> for BackendError {
    fn from(message: String) -> Self {
        Self(message.into())
    }
}

/// The unique constraints a client can run into, each with what the client is told.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unique {
    UserEmail,
    ReasonName,
}

impl Unique {
    fn message(self) -> &'static str {
        match self {
            // Says nothing of where: the account may be another tenant's (docs/SECURITY.md).
            Self::UserEmail => {
                "this email cannot be used for a new account: if it is yours, sign in"
            }
            Self::ReasonName => "that reason exists already in that category",
        }
    }
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Pg),
}

impl Store {
    /// Opens (or creates) the SQLite database file at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            backend: Backend::Sqlite(sqlite::Sqlite::open(path)?),
        })
    }

    /// Connects to the PostgreSQL database at `url` and brings its schema up to date.
    pub async fn connect(url: &str, options: postgres::Options) -> anyhow::Result<Self> {
        Ok(Self {
            backend: Backend::Postgres(postgres::Pg::connect(url, options).await?),
        })
    }

    /// Which backend this is, for logs and `/metrics`.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Whether other servers may share this database (PostgreSQL); one SQLite file has one.
    pub fn shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Tells every server on the database `payload` (at most [`postgres::MAX_PAYLOAD`] bytes);
    /// nothing to do for SQLite.
    pub async fn broadcast(&self, payload: &str) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(db) => db.broadcast(payload).await,
        }
    }

    /// What the servers on the database broadcast (this one's too), when it is shared.
    pub fn listen(&self) -> Option<tokio::sync::mpsc::Receiver<Broadcast>> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(db) => Some(db.listen()),
        }
    }

    /// Whether this server leads the others on the database: the once-per-installation work
    /// (offline detection, day rollups, expiry) is the leader's. A SQLite server always leads.
    pub async fn lead(&self) -> tokio::sync::watch::Receiver<bool> {
        match &self.backend {
            Backend::Sqlite(_) => tokio::sync::watch::channel(true).1,
            Backend::Postgres(db) => db.lead().await,
        }
    }

    /// The periodic upkeep of the database (the leader's, `monitor::housekeeping`): on
    /// PostgreSQL, the coming months' partitions of `events`; on both, the history older than
    /// its tenant's retention deleted ([`Store::apply_retention`]). A tenant that fails is
    /// logged and the others go on; the first failure is the answer.
    pub async fn housekeeping(&self, now: i64) -> Result<()> {
        let partitions = match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(db) => db.housekeeping(now).await,
        };
        let mut outcome = partitions;
        for (tenant_id, days) in self.retentions().await? {
            let before = now.saturating_sub(days.saturating_mul(DAY_MS));
            match self.apply_retention(tenant_id, before).await {
                Ok(0) => {}
                Ok(events) => {
                    tracing::info!(
                        tenant = tenant_id.0,
                        days,
                        events,
                        "deleted history past retention"
                    );
                }
                Err(e) => {
                    tracing::warn!(tenant = tenant_id.0, error = %e, "cannot apply the retention");
                    if outcome.is_ok() {
                        outcome = Err(e);
                    }
                }
            }
        }
        outcome
    }

    /// Whether writes reach the disk (see `store/sqlite/health.rs`); a PostgreSQL store reports
    /// whether it reaches its database.
    pub fn storage_health(&self) -> StorageHealth {
        match &self.backend {
            Backend::Sqlite(db) => db.storage_health(),
            Backend::Postgres(db) => db.storage_health(),
        }
    }

    /// Sets the caps on pending loggers (at start).
    pub fn set_pending_limits(&self, limits: PendingLimits) {
        match &self.backend {
            Backend::Sqlite(db) => db.set_pending_limits(limits),
            Backend::Postgres(db) => db.set_pending_limits(limits),
        }
    }

    pub fn pending_limits(&self) -> PendingLimits {
        match &self.backend {
            Backend::Sqlite(db) => db.pending_limits(),
            Backend::Postgres(db) => db.pending_limits(),
        }
    }
}

/// The domain methods of [`Store`], each passed to the backend's method of the same name.
macro_rules! seam {
    ($(
        $(#[$doc:meta])*
        pub async fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
    )*) => {
        impl Store {$(
            $(#[$doc])*
            pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
                match &self.backend {
                    Backend::Sqlite(db) => db.$name($($arg),*).await,
                    Backend::Postgres(db) => db.$name($($arg),*).await,
                }
            }
        )*}
    };
}

seam! {
    /// True when the database answers a query.
    pub async fn ping(&self) -> bool;
    /// Finishes the writes already queued and closes the database.
    pub async fn close(&self) -> ();

    // accounts
    /// Creates a tenant and its first admin, unless `only_if_no_user` and a user exists already
    /// (checked in the same transaction, so two racing first sign-ups cannot both win).
    pub async fn signup(&self, tenant_name: String, email: String, password_hash: String, only_if_no_user: bool) -> Result<Option<(User, Tenant)>>;
    /// Every tenant, for the background work done per tenant.
    pub async fn tenant_ids(&self) -> Result<Vec<TenantId>>;
    /// True once anyone has an account.
    pub async fn has_users(&self) -> Result<bool>;
    /// Adds a user to the named tenant, creating the tenant when it does not exist (names are
    /// labels, not unique: a name that several tenants have is refused as ambiguous).
    pub async fn add_user_to_named_tenant(&self, tenant_name: String, email: String, password_hash: String, role: Role) -> Result<(User, Tenant)>;
    pub async fn create_user(&self, tenant_id: TenantId, email: String, password_hash: String, role: Role) -> Result<User>;
    /// The user with this email, their tenant and their password hash.
    pub async fn user_for_login(&self, email: String) -> Result<Option<(User, Tenant, String)>>;
    pub async fn create_session(&self, user_id: UserId, token_hash: String, expires_at: i64) -> Result<()>;
    /// The live session of a token hash: not expired, not revoked, its user not deleted.
    pub async fn session(&self, token_hash: String) -> Result<Option<Session>>;
    pub async fn delete_session(&self, token_hash: String) -> Result<()>;
    pub async fn list_users(&self, tenant_id: TenantId) -> Result<Vec<User>>;
    /// Gives a person of the tenant another role; a tenant keeps at least one admin. Takes
    /// effect at their next request (roles are read with the session).
    pub async fn set_user_role(&self, tenant_id: TenantId, user_id: UserId, role: Role) -> Result<User>;
    /// Deletes a user of the tenant (and their sessions). The last admin of a tenant stays.
    pub async fn delete_user(&self, tenant_id: TenantId, user_id: UserId) -> Result<()>;

    // displays
    /// A wall screen's read-only token for the tenant (only its hash is kept).
    pub async fn add_display(&self, tenant_id: TenantId, name: String, token_hash: String) -> Result<Display>;
    pub async fn displays(&self, tenant_id: TenantId) -> Result<Vec<Display>>;
    /// Deletes a display of the tenant; answers its token's hash (its live sockets close).
    pub async fn delete_display(&self, tenant_id: TenantId, id: i64) -> Result<String>;
    /// The display of a token hash, and its tenant.
    pub async fn display_session(&self, token_hash: String) -> Result<Option<(Display, Tenant)>>;

    // devices
    /// The credentials of a live logger, from memory when known. With other servers on the
    /// database they may be stale: what is stored under them checks them in its own
    /// transaction (`StoreError::CredentialsChanged`).
    pub async fn device(&self, logger_id: &str) -> Result<Option<Arc<DeviceAuth>>>;
    /// The credentials read again from the database, for a request the remembered ones refuse
    /// or that met `CredentialsChanged` (SQLite: as `device`, whose memory no other server can
    /// make stale).
    pub async fn reread_device(&self, logger_id: &str) -> Result<Option<Arc<DeviceAuth>>>;
    pub async fn register(&self, reg: Registration) -> Result<RegistrationOutcome>;
    /// Records a heartbeat's telemetry (`CredentialsChanged` when `device` is stale).
    pub async fn heartbeat(&self, device: &DeviceAuth, hb: Heartbeat) -> Result<()>;

    // fleet
    pub async fn loggers(&self, tenant_id: TenantId) -> Result<Vec<Logger>>;
    pub async fn logger(&self, tenant_id: TenantId, id: LoggerRow) -> Result<Logger>;
    /// A tenant's logger by its hardware id (the original API's way of naming one).
    pub async fn logger_row_by_hardware_id(&self, tenant_id: TenantId, logger_id: String) -> Result<LoggerRow>;
    pub async fn update_logger(&self, tenant_id: TenantId, id: LoggerRow, update: LoggerUpdate) -> Result<()>;
    /// Removes a logger; its history stays unless `purge`, and its key stops working at once.
    pub async fn delete_logger(&self, tenant_id: TenantId, id: LoggerRow, purge: bool) -> Result<()>;
    /// Replaces a logger's key; the old one stops working at once.
    pub async fn rotate_key(&self, tenant_id: TenantId, id: LoggerRow, new_key: String) -> Result<()>;
    /// Moves a pending logger, with its assets and events, into the tenant. NotFound when no
    /// pending logger has that id and code.
    pub async fn claim(&self, tenant_id: TenantId, logger_id: String, claim_code: String) -> Result<LoggerRow>;
    /// The tenant's machines on its current loggers (a deleted logger's assets keep their
    /// history, reachable by id, but leave the board).
    pub async fn assets(&self, tenant_id: TenantId) -> Result<Vec<Asset>>;
    pub async fn asset(&self, tenant_id: TenantId, id: AssetId) -> Result<Asset>;
    /// Changes what `change` gives of an asset (`Some(None)` clears a field).
    pub async fn update_asset(&self, tenant_id: TenantId, id: AssetId, change: AssetChange) -> Result<()>;
    /// The time of the tenant's first event, if it has one.
    pub async fn first_event_ts(&self, tenant_id: TenantId) -> Result<Option<i64>>;
    /// A page of the tenant's events, newest first.
    pub async fn events(&self, tenant_id: TenantId, q: EventQuery) -> Result<Vec<Event>>;
    /// Every live logger with its tenant and last contact, for presence tracking at start.
    pub async fn logger_contacts(&self) -> Result<Vec<(LoggerRow, String, Option<TenantId>, Option<i64>)>>;
    /// Saves last contacts and online flags that presence tracking holds in memory.
    pub async fn save_contacts(&self, contacts: Vec<(LoggerRow, i64, bool)>) -> Result<()>;
    /// Every live logger that ever made contact: row, hardware id, tenant, last contact, online
    /// (what the servers on a shared database learn of each other's contacts: replicas.rs).
    pub async fn presence_contacts(&self) -> Result<Vec<(LoggerRow, String, Option<TenantId>, i64, bool)>>;
    /// Records contacts heard (the latest wins), leaving the online flags to the leader.
    pub async fn record_last_seen(&self, contacts: Vec<(LoggerRow, i64)>) -> Result<()>;
    /// Starts an offline span for a logger at its last contact, unless one is open already.
    pub async fn open_offline(&self, logger_row: LoggerRow, since: i64) -> Result<()>;
    /// Ends a logger's open offline span (if any) at its first contact back.
    pub async fn close_offline(&self, logger_row: LoggerRow, at: i64) -> Result<()>;

    // pending
    /// Every pending logger, oldest first.
    pub async fn pending_loggers(&self) -> Result<Vec<PendingLogger>>;
    /// Deletes the pending logger with this hardware id and all it stored; its row id.
    /// NotFound unless such a logger is pending.
    pub async fn release_pending(&self, logger_id: String) -> Result<LoggerRow>;
    /// Deletes the loggers still pending that first registered before `registered_before`
    /// (epoch ms), with all they stored; their row ids and hardware ids.
    pub async fn expire_pending(&self, registered_before: i64) -> Result<Vec<(LoggerRow, String)>>;

    // reports
    /// Stores a logger's events, all or nothing, each once; answers after they are durable.
    /// With `acknowledge`, also advances and returns the logger's acknowledgement watermark
    /// (the batched protocol needs it; single reports do not pay for it).
    pub async fn ingest(&self, device: Arc<DeviceAuth>, events: Vec<NewEvent>, acknowledge: bool) -> Result<IngestOutcome>;

    // settings
    pub async fn settings(&self, tenant_id: TenantId) -> Result<Settings>;
    /// Changes what is given; `retention_days: Some(None)` keeps the history forever again.
    pub async fn update_settings(&self, tenant_id: TenantId, change: SettingsChange) -> Result<()>;
    /// The tenant's shift calendars, each from its first day on, as checked when they were set.
    pub async fn shifts(&self, tenant_id: TenantId) -> Result<Calendars>;
    pub async fn set_shifts(&self, tenant_id: TenantId, calendars: Calendars) -> Result<()>;
    /// Planned downtime over `span`: once, or every week by `weekly` inside it.
    pub async fn add_planned_downtime(&self, tenant_id: TenantId, asset_id: Option<AssetId>, span: (i64, i64), note: String, weekly: Option<Weekly>) -> Result<PlannedDowntime>;
    /// Planned downtime of the tenant overlapping `[from, to)` (all of it when both are None).
    pub async fn planned_downtime(&self, tenant_id: TenantId, from: Option<i64>, to: Option<i64>) -> Result<Vec<PlannedDowntime>>;
    pub async fn delete_planned_downtime(&self, tenant_id: TenantId, id: i64) -> Result<()>;
    pub async fn reasons(&self, tenant_id: TenantId) -> Result<Vec<Reason>>;
    pub async fn add_reason(&self, tenant_id: TenantId, category: String, name: String) -> Result<Reason>;
    pub async fn update_reason(&self, tenant_id: TenantId, id: i64, category: Option<String>, name: Option<String>) -> Result<Reason>;
    /// Deletes a reason; stops that had it become unassigned.
    pub async fn delete_reason(&self, tenant_id: TenantId, id: i64) -> Result<()>;
    /// Notes on the asset's stops that start in `[from, to)`.
    pub async fn stop_parts(&self, tenant_id: TenantId, asset_id: AssetId, from: i64, to: i64) -> Result<Vec<StopPart>>;
    /// Sets the reason and comment of one part of a stop (the part starting at `part_start`).
    pub async fn annotate_stop(&self, tenant_id: TenantId, part: StopPart) -> Result<()>;
    /// Splits a stop at `at`: a new part starts there, with no reason yet. The part it cuts
    /// keeps its reason; a split at an existing part start changes nothing.
    pub async fn split_stop(&self, tenant_id: TenantId, asset_id: AssetId, stop_start: i64, at: i64) -> Result<()>;
    /// What the figures of each asked asset and window are computed from, in the order asked.
    /// Read in a few parallel transactions, not one per window: a year of 500 assets has
    /// 1,000 edge-day windows.
    pub async fn histories(&self, tenant_id: TenantId, asks: Vec<HistoryAsk>, now: i64) -> Result<Vec<HistoryRows>>;

    // rollups
    /// What the day rollups of these assets inside `[from, to)` need: per asset, in the order
    /// given, its rollup generation, until when its days are settled (the time of the latest
    /// event whose state differs from the newest event's; `None` when it never changed state),
    /// and the stored days. Each asset's part is read in one transaction; many assets are read
    /// in a few parallel parts (a year of 500 assets is 182,500 rows).
    pub async fn day_rollups(&self, tenant_id: TenantId, asset_ids: Vec<AssetId>, from: i64, to: i64) -> Result<Vec<StoredDays>>;
    /// Stores computed days of several assets in one transaction; an asset's days are dropped
    /// instead when its rollups were invalidated since their `generation` was read (they may be
    /// stale). Returns how many assets' days were stored.
    pub async fn save_day_rollups(&self, tenant_id: TenantId, assets: Vec<NewDays>) -> Result<usize>;

    // retention
    /// Every tenant that keeps its history for a limited time, with its days.
    pub async fn retentions(&self) -> Result<Vec<(TenantId, i64)>>;
    /// Deletes the tenant's history from before `before` (epoch ms) that no figure of a later
    /// window needs: per asset, the events before its last RUNNING one before the cutoff (its
    /// last one, when none ran), the notes on stops and the ended offline spans before that,
    /// and the day rollups that end by the cutoff (store/sqlite/retention.rs). In chunks, so
    /// other writes get in between. How many events went.
    pub async fn apply_retention(&self, tenant_id: TenantId, before: i64) -> Result<u64>;

    // alerts (docs/ALERTS.md)
    /// The tenant's alert channels or rules, as the JSON they were stored as, by id.
    pub async fn alert_docs(&self, tenant_id: TenantId, doc: AlertDoc) -> Result<Vec<(i64, String)>>;
    /// Every tenant's channels or rules (for the evaluator, which serves them all).
    pub async fn every_alert_doc(&self, doc: AlertDoc) -> Result<Vec<(TenantId, i64, String)>>;
    pub async fn add_alert_doc(&self, tenant_id: TenantId, doc: AlertDoc, body: String) -> Result<i64>;
    pub async fn update_alert_doc(&self, tenant_id: TenantId, doc: AlertDoc, id: i64, body: String) -> Result<()>;
    pub async fn delete_alert_doc(&self, tenant_id: TenantId, doc: AlertDoc, id: i64) -> Result<()>;
    /// Opens an alert and puts its deliveries in the outbox, in one transaction; None (and
    /// nothing written) when the rule has an open alert for that machine or logger already, or
    /// had one for that stop or spell (the database's unique indexes decide, across replicas).
    pub async fn open_alert(&self, new: NewAlert, deliveries: Vec<NewDelivery>) -> Result<Option<Alert>>;
    /// Clears an open alert, with its deliveries; None when it was cleared already.
    pub async fn clear_alert(&self, tenant_id: TenantId, id: i64, at: i64, deliveries: Vec<NewDelivery>) -> Result<Option<Alert>>;
    /// Marks an open, unacknowledged, unescalated alert escalated, with its deliveries; None
    /// otherwise.
    pub async fn escalate_alert(&self, tenant_id: TenantId, id: i64, at: i64, deliveries: Vec<NewDelivery>) -> Result<Option<Alert>>;
    /// Acknowledges an alert (NotFound outside the tenant; Conflict when acknowledged already).
    pub async fn acknowledge_alert(&self, tenant_id: TenantId, id: i64, at: i64, by: String, comment: Option<String>) -> Result<Alert>;
    /// The tenant's alerts, newest first.
    pub async fn alerts(&self, tenant_id: TenantId, q: AlertQuery) -> Result<Vec<Alert>>;
    /// Every tenant's alerts not cleared yet (for the evaluator when it starts to lead).
    pub async fn open_alerts(&self) -> Result<Vec<Alert>>;
    /// Claims the deliveries due at `now` (at most `limit`): they are not due again before
    /// `lease_until`, so a sender that dies with them in hand leaves them to be sent again.
    pub async fn due_deliveries(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<Delivery>>;
    /// Logs an attempt at a delivery and what becomes of it.
    pub async fn finish_attempt(&self, tenant_id: TenantId, delivery_id: i64, attempt: Attempt, after: AfterAttempt) -> Result<()>;
    /// Logs a test message sent to a channel, with its one attempt.
    pub async fn record_test_delivery(&self, tenant_id: TenantId, delivery: NewDelivery, attempt: Attempt) -> Result<()>;
    /// The tenant's logged attempts (of one alert's deliveries, when given), newest first.
    pub async fn delivery_attempts(&self, tenant_id: TenantId, alert_id: Option<i64>, limit: i64) -> Result<Vec<DeliveryAttempt>>;
    /// Stores a report's period as sent and puts its email in the outbox, in one transaction;
    /// false (and nothing written) when that period of that report is stored already.
    pub async fn add_report_run(&self, run: NewReportRun, delivery: NewDelivery) -> Result<bool>;
    /// Each report's latest period stored: tenant, report, the period's end; of one tenant, or
    /// of all (the leader's schedule).
    pub async fn report_progress(&self, tenant_id: Option<TenantId>) -> Result<Vec<(TenantId, i64, i64)>>;

    // inbox
    /// SQLite: moves its events inbox, as it is now, into `events` (store/sqlite/inbox.rs), in
    /// writer jobs small enough that requests in between wait little; events that arrive
    /// meanwhile wait for the next settle. PostgreSQL has no inbox: nothing to move.
    pub async fn settle(&self) -> Result<usize>;
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Milliseconds in a day (a retention is counted in days of 24 hours).
pub const DAY_MS: i64 = 86_400_000;

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
