//! The PostgreSQL backend, chosen by `--database-url`: a pool of connections (deadpool), prepared
//! statements cached per connection, and the same domain methods as the SQLite backend, with the
//! same answers.
//!
//! # Transactions and the tenant wall
//! Every method runs in a transaction that first says whose rows it may see ([`Scope`]): the
//! tables have row-level security (`migrations/postgres/0001_init.sql`), so a query that forgot
//! its tenant filter still sees only its tenant's rows, and a connection that says nothing sees
//! nothing. The SQL filters by tenant all the same: the wall is the second one.
//!
//! # Several replicas
//! Nothing that matters is kept in one process: day rollups are rows, presence is in `loggers`.
//! Device credentials are remembered (`devices`), but never trusted alone: a report checks them
//! against the logger's row it locks, a heartbeat in its `UPDATE`, and a request they refuse
//! reads them again, so a key rotated, a logger claimed or deleted on another server holds here
//! at once, without a message between the servers.
//! Migrations and the monthly partitions are made under advisory locks, so replicas that start
//! together do not race; `notify` carries live messages between replicas.
//!
//! # Layout
//! - `migrate`: the migrations (`migrations/postgres/`), applied under an advisory lock.
//! - `partitions`: the months of `events`, made ahead of time.
//! - `accounts`, `devices`, `fleet`, `pending`, `settings`, `rollups`: as in SQLite's backend.
//! - `reports`: a logger's report stored; reports waiting together share one transaction.
//! - `alerts`: alert channels, rules, alerts and their outbox (as in SQLite's backend).
//! - `retention`: what is older than a tenant's retention, deleted (SQLite's rule).
//! - `notify`: broadcasts between the servers on the database, and which of them leads.
//! - `ids`: how the typed ids bind.

mod accounts;
mod alerts;
mod devices;
mod displays;
mod fleet;
mod ids;
mod migrate;
mod notify;
pub(crate) mod partitions;
mod pending;
mod presence;
mod reports;
mod retention;
mod rollups;
mod settings;

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Transaction};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

pub use notify::{Broadcast, MAX_PAYLOAD};

use super::{BackendError, PendingLimits, Result, StorageHealth, StoreError, Unique};
use crate::domain::TenantId;

/// How a server uses its PostgreSQL database.
#[derive(Debug, Clone)]
pub struct Options {
    /// Connections in the pool.
    pub pool_size: usize,
    /// How long a request waits for a free connection (or a new one) before it is answered 503.
    pub wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            pool_size: 16,
            wait: Duration::from_secs(5),
        }
    }
}

/// The PostgreSQL backend's handle; cheap to clone.
#[derive(Clone)]
pub struct Pg {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// The connection settings, for the connection that listens (`notify`).
    config: tokio_postgres::Config,
    pending: Mutex<PendingLimits>,
    /// Why the database could not be reached at the last try; None once it answered again.
    unreachable: Mutex<Option<String>>,
    reports: reports::Queue,
    /// The statement that draws a group's event ids (`reports::allocate_ids_sql`).
    allocate_event_ids: String,
    devices: std::sync::RwLock<devices::Remembered>,
}

/// Whose rows a transaction may see (the row-level security of the schema).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    Tenant(TenantId),
    /// The server's own work across tenants: device requests, sign-in, presence, background work.
    System,
}

impl Scope {
    fn statement(self) -> String {
        match self {
            Self::Tenant(id) => format!("SET LOCAL assetlog.tenant = '{}'", id.0),
            Self::System => "SET LOCAL assetlog.system = 'on'".into(),
        }
    }
}

/// Names of the unique constraints a client can run into (the schema names them).
fn constraint(which: Unique) -> &'static str {
    match which {
        Unique::UserEmail => "users_email",
        Unique::ReasonName => "reasons_name",
    }
}

/// Turns a violation of the unique constraint `which` into a client-facing conflict.
pub(crate) fn on_unique(err: tokio_postgres::Error, which: Unique) -> StoreError {
    if let Some(db) = err.as_db_error()
        && *db.code() == SqlState::UNIQUE_VIOLATION
        && db.constraint() == Some(constraint(which))
    {
        return StoreError::Conflict(which.message().into());
    }
    err.into()
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // A closed or broken connection, or a server that cannot serve now: the database is
        // away, not the request bad.
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        if e.is_closed() || io || e.as_db_error().is_some_and(|db| is_unavailable(db.code())) {
            return Self::Unavailable(e.to_string());
        }
        // "db error" alone says nothing: the log gets PostgreSQL's code and message.
        match e.as_db_error() {
            Some(db) => Self::Database(BackendError::from(format!(
                "PostgreSQL {}: {}",
                db.code().code(),
                db.message()
            ))),
            None => Self::Database(BackendError(Box::new(e))),
        }
    }
}

/// Error classes that mean "the database cannot serve now" (shutdown, admin terminated the
/// connection, too many connections), not a mistake of the query.
fn is_unavailable(code: &SqlState) -> bool {
    [
        // Two transactions that met: either may go again at once (and the ingest does).
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::TOO_MANY_CONNECTIONS,
    ]
    .contains(code)
        || code.code().starts_with("08")
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl Pg {
    /// Connects, applies the migrations (one replica at a time) and makes the coming months'
    /// partitions.
    pub async fn connect(url: &str, options: Options) -> anyhow::Result<Self> {
        let mut config = tokio_postgres::Config::from_str(url)
            .with_context(|| format!("not a PostgreSQL URL: {}", redact(url)))?;
        // Names this server's connections in pg_stat_activity (an operator's, or a test's, way
        // to tell replicas apart), unless the URL names them.
        if config.get_application_name().is_none() {
            config.application_name(format!("assetlog {}", std::process::id()));
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .wait_timeout(Some(options.wait))
            .create_timeout(Some(options.wait))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .context("cannot make the PostgreSQL pool")?;
        let mut client = pool
            .get()
            .await
            .with_context(|| format!("cannot connect to PostgreSQL at {}", redact(url)))?;
        migrate::run(&mut client).await?;
        partitions::ensure(&mut client, super::now_ms()).await?;
        let allocate_event_ids = reports::allocate_ids_sql(&client).await?;
        drop(client);
        let pg = Self {
            inner: Arc::new(Inner {
                pool,
                config,
                pending: Mutex::new(PendingLimits::DEFAULT),
                unreachable: Mutex::new(None),
                reports: reports::Queue::default(),
                allocate_event_ids,
                devices: Default::default(),
            }),
        };
        pg.start_reports();
        Ok(pg)
    }

    /// A connection of the pool; a failure is remembered for `/healthz` until one succeeds.
    pub(crate) async fn client(&self) -> Result<Object> {
        let got = self.inner.pool.get().await;
        let mut unreachable = self.inner.unreachable.lock().expect("health lock");
        match got {
            Ok(client) => {
                *unreachable = None;
                Ok(client)
            }
            Err(e) => {
                let e = StoreError::from(e);
                *unreachable = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// The connection settings, for a connection of its own (the listener of `notify`).
    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.inner.config
    }

    pub async fn ping(&self) -> bool {
        match self.client().await {
            Ok(client) => client.simple_query("SELECT 1").await.is_ok(),
            Err(_) => false,
        }
    }

    pub fn storage_health(&self) -> StorageHealth {
        match self.inner.unreachable.lock().expect("health lock").clone() {
            None => StorageHealth::Ok,
            Some(reason) => StorageHealth::Failing { reason },
        }
    }

    pub async fn close(&self) {
        self.stop_reports().await;
        self.inner.pool.close();
    }

    /// Makes the partitions of the coming months that are missing.
    pub async fn housekeeping(&self, now: i64) -> Result<()> {
        let mut client = self.client().await?;
        partitions::ensure(&mut client, now).await?;
        Ok(())
    }

    pub fn set_pending_limits(&self, limits: PendingLimits) {
        *self.inner.pending.lock().expect("pending limits") = limits;
    }

    pub fn pending_limits(&self) -> PendingLimits {
        *self.inner.pending.lock().expect("pending limits")
    }
}

/// Begins a transaction on `client` that may see the rows of `scope`.
pub(crate) async fn begin(client: &mut Object, scope: Scope) -> Result<Transaction<'_>> {
    let tx = client.transaction().await?;
    tx.batch_execute(&scope.statement()).await?;
    Ok(tx)
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((user, host)) => {
                let user = user.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}@{host}")
            }
            None => url.to_owned(),
        },
        None => "(not a URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn urls_in_messages_carry_no_password() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/assetlog"),
            "postgres://app@db:5432/assetlog"
        );
        assert_eq!(redact("postgres://db/assetlog"), "postgres://db/assetlog");
        assert_eq!(redact("host=db password=x"), "(not a URL)");
    }
}
