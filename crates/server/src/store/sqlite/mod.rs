//! The SQLite backend: one file in WAL mode.
//!
//! A single writer thread applies every write with *group commit* (all the writes waiting at
//! that moment share one transaction and one fsync, each in its own savepoint, and each caller
//! is answered only after the commit), and a small pool of read-only connections serves reads.
//! New single events wait in an inbox and move into `events` in bulk (`inbox`): reads of events
//! go through `Sqlite::read_events`, which moves the inbox first, and the read-only connections
//! refuse any other statement that reads `events`, so no reader can forget it.
//!
//! # Layout
//! - `accounts`: tenants, users, sessions; `displays`: wall screens' read-only tokens. `devices`: registration, heartbeats, device keys.
//! - `reports`: a logger's report stored, in named steps (the hot path); `seqs`: its seq runs.
//! - `inbox`: the events inbox. `fleet`: loggers, assets and events as their tenant sees them.
//! - `settings`: time zone, shifts, planned downtime, reasons, stop notes, analytics histories.
//! - `rollups`: the day rollups analytics keeps. `alerts`: alert channels, rules, alerts and
//!   their outbox.
//! - `retention`: what is older than a tenant's retention, deleted in bounded writer jobs.
//! - `writer`: the writer thread and its group commit; `checkpoint`: WAL checkpoints.
//! - `open`: opening the file (header and schema checked, migrations, read-only on a full disk)
//!   and the full integrity check of `assetlog check`. `health`: storage faults, for `/healthz`.
//! - `backup`: the online copy of `assetlog backup` (`VACUUM INTO`, and why).
//! - `migrate`: the migrations (`migrations/sqlite/`), applied at open.
//! - `ids`: how the typed ids bind.

mod accounts;
mod alerts;
mod backup;
mod checkpoint;
mod devices;
mod displays;
mod fleet;
mod health;
mod ids;
mod inbox;
mod migrate;
mod open;
mod pending;
mod presence;
mod reports;
mod retention;
pub(crate) mod rollups;
mod seqs;
mod settings;
mod writer;

use std::sync::{Arc, RwLock};

use rusqlite::Connection;

pub use backup::{Backup, backup};
pub use devices::{DeviceAuth, Heartbeat, Registration, RegistrationOutcome};
pub use fleet::{EventQuery, LoggerUpdate};
pub use health::{StorageHealth, io_no_space};
pub use open::{Integrity, check_integrity};
pub use pending::{PendingLimit, PendingLimits, PendingLogger};
pub use reports::{IngestOutcome, NewEvent, StoredChange};
pub use rollups::{DayRollup, NewDays, StoredDays, check_rollup_decoding};
pub(in crate::store) use seqs::run_changes;

/// The schema version (`PRAGMA user_version`) of a database with every migration applied.
pub(crate) const SCHEMA_VERSION: usize = migrate::MIGRATIONS.len();
pub use settings::{
    HistoryAsk, HistoryRows, PlannedDowntime, Reason, Settings, SettingsChange, StopPart,
    target_of, weekly_of,
};

pub(crate) use super::model::*;
pub(crate) use super::{BackendError, Result, StoreError, Unique, now_ms};

use checkpoint::Checkpointer;
use writer::Writer;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(BackendError(Box::new(e)))
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        Self::Database(BackendError(Box::new(e)))
    }
}

/// Turns a violation of the unique constraint `which` into a client-facing conflict; every other
/// error (another constraint too: that is a bug, not the client's doing) passes as it is.
/// How SQLite names a unique constraint's columns in its error message.
fn sqlite_columns(which: Unique) -> &'static str {
    match which {
        Unique::UserEmail => "users.email",
        Unique::ReasonName => "reasons.tenant_id, reasons.category, reasons.name",
    }
}

pub(crate) fn on_unique(err: rusqlite::Error, which: Unique) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, Some(message)) = &err
        && failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        && message.ends_with(sqlite_columns(which))
    {
        return StoreError::Conflict(which.message().into());
    }
    err.into()
}

/// The SQLite backend's handle; cheap to clone.
#[derive(Clone)]
pub struct Sqlite {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Writer,
    /// None in a store that started read-only.
    checkpointer: Option<Checkpointer>,
    /// What the writer met of storage faults (read-only since start, the last failed write).
    health: Arc<health::Health>,
    readers: r2d2::Pool<r2d2_sqlite::SqliteConnectionManager>,
    /// Device credentials by hardware id. Only the writer thread changes it (after a commit),
    /// so it can never hold a value older than the database.
    devices: RwLock<DeviceCache>,
    /// The caps on pending loggers in force.
    pending: pending::Caps,
}

#[derive(Default)]
struct DeviceCache {
    /// Bumped at every credential change, so a read that raced a change is not cached.
    epoch: u64,
    map: std::collections::HashMap<String, Arc<DeviceAuth>>,
}

impl Sqlite {
    /// Runs `f` on a read-only connection, off the async threads.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let pool = self.inner.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get()?;
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Commit(format!("read task failed: {e}")))?
    }

    /// Runs `f` on a read-only connection that may read `events`, after moving the inbox into
    /// them (store/inbox.rs), so it sees every event acknowledged before it began. The only way
    /// to read `events`: a plain [`Sqlite::read`] that tries is refused by the connection.
    async fn read_events<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.settle_before_read().await;
        self.read(move |conn| EventsReadable::within(|| f(conn)))
            .await
    }

    /// [`Sqlite::read_in_parts`] over connections that may read `events`, after the inbox moved.
    async fn read_events_in_parts<I, T, F>(
        &self,
        items: Vec<I>,
        min_share: usize,
        f: F,
    ) -> Result<Vec<T>>
    where
        I: Send + 'static,
        T: Send + 'static,
        F: Fn(&Connection, I) -> Result<T> + Send + Sync + 'static,
    {
        self.settle_before_read().await;
        self.read_in_parts(items, min_share, move |conn, item| {
            EventsReadable::within(|| f(conn, item))
        })
        .await
    }

    /// Runs `f` over `items` in a few parallel reads (one share of consecutive items per CPU,
    /// each share in one transaction) and gives the answers in the order of `items`. Fewer than
    /// `min_share` items are read in one go: a second thread is not worth it for them.
    async fn read_in_parts<I, T, F>(&self, items: Vec<I>, min_share: usize, f: F) -> Result<Vec<T>>
    where
        I: Send + 'static,
        T: Send + 'static,
        F: Fn(&Connection, I) -> Result<T> + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let reads = crate::shares::per_cpu(items, min_share)
            .into_iter()
            .map(|mine| {
                let f = f.clone();
                self.read(move |conn| {
                    let tx = conn.unchecked_transaction()?;
                    let out = mine
                        .into_iter()
                        .map(|item| f(&tx, item))
                        .collect::<Result<Vec<_>>>()?;
                    tx.finish()?;
                    Ok(out)
                })
            });
        let parts = futures_util::future::try_join_all(reads).await?;
        Ok(parts.into_iter().flatten().collect())
    }

    /// Runs `f` in the writer's next group commit; answers after the commit.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.inner.writer.run(f, |_: &T| {}).await
    }

    /// Like [`Sqlite::write`], and runs `after` on the writer thread once the commit succeeded.
    async fn write_then<T, F, A>(&self, f: F, after: A) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
        A: FnOnce(&T) + Send + 'static,
    {
        self.inner.writer.run(f, after).await
    }

    /// True when the database answers a query.
    pub async fn ping(&self) -> bool {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await
            .is_ok()
    }

    /// Whether writes reach the disk (see `store/health.rs`).
    pub fn storage_health(&self) -> StorageHealth {
        self.inner.health.now()
    }

    /// Finishes the writes already queued, checkpoints the WAL and closes the writer.
    pub async fn close(&self) {
        let inner = self.inner.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(checkpointer) = &inner.checkpointer {
                checkpointer.stop();
            }
            inner.writer.close();
        })
        .await;
    }
}

thread_local! {
    /// True while a reader thread runs a read that settled the inbox first.
    static EVENTS_READABLE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the reads of `events` that [`Sqlite::read_events`] allows, on the thread that runs them.
struct EventsReadable;

impl EventsReadable {
    fn within<T>(f: impl FnOnce() -> T) -> T {
        struct Reset(bool);
        impl Drop for Reset {
            fn drop(&mut self) {
                EVENTS_READABLE.set(self.0);
            }
        }
        let _reset = Reset(EVENTS_READABLE.replace(true));
        f()
    }
}

/// The authorizer of the read-only connections: a statement that reads `events` is refused when
/// it is prepared outside [`Sqlite::read_events`], so no reader can forget to settle the inbox.
fn events_only_when_settled(
    ctx: rusqlite::hooks::AuthContext<'_>,
) -> rusqlite::hooks::Authorization {
    use rusqlite::hooks::{AuthAction, Authorization};
    match ctx.action {
        AuthAction::Read { table_name, .. } if table_name == "events" && !EVENTS_READABLE.get() => {
            tracing::error!("a read of events that did not settle the inbox first");
            Authorization::Deny
        }
        _ => Authorization::Allow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_in_parts_answer_in_the_order_asked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Sqlite::open(&dir.path().join("t.db")).unwrap();
        for n in [0_i64, 1, 63, 64, 65, 500] {
            let items: Vec<i64> = (0..n).collect();
            let doubled = store
                .read_in_parts(items, 64, |conn, i| {
                    Ok(conn.query_row("SELECT ?1 * 2", [i], |r| r.get::<_, i64>(0))?)
                })
                .await
                .unwrap();
            assert_eq!(
                doubled,
                (0..n).map(|i| i * 2).collect::<Vec<_>>(),
                "{n} items"
            );
        }
        store.close().await;
    }
}
