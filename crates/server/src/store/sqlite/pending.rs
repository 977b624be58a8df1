//! Loggers nobody has claimed yet: what they may keep, what admins see of them, how they go.
//!
//! Anyone on the plant network can register a logger and report for it; until an admin claims
//! it, it belongs to no tenant, so nobody's quota pays for it. Hence the caps ([`PendingLimits`]:
//! how many pending loggers, how many events and assets each), the expiry of the unclaimed
//! ones, and the release of a squatted hardware id. The caps are checked where the rows are
//! written (store/devices.rs, store/reports.rs); a claimed logger's report pays nothing for them.

use crate::domain::LoggerRow;
use std::sync::atomic::{AtomicI64, Ordering};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{Result, Sqlite, StoreError};

/// The caps on pending loggers (`--max-pending-loggers`, `--pending-max-events`,
/// `--pending-max-assets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingLimits {
    pub loggers: i64,
    pub events: i64,
    pub assets: i64,
}

impl PendingLimits {
    /// What `assetlog serve` allows by default.
    pub const DEFAULT: Self = Self {
        loggers: 1_000,
        events: 10_000,
        assets: 64,
    };
}

/// The caps in force, readable from the writer thread without a lock.
pub(super) struct Caps {
    loggers: AtomicI64,
    events: AtomicI64,
    assets: AtomicI64,
}

impl Default for Caps {
    fn default() -> Self {
        let d = PendingLimits::DEFAULT;
        Self {
            loggers: AtomicI64::new(d.loggers),
            events: AtomicI64::new(d.events),
            assets: AtomicI64::new(d.assets),
        }
    }
}

impl Caps {
    pub(super) fn get(&self) -> PendingLimits {
        PendingLimits {
            loggers: self.loggers.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            assets: self.assets.load(Ordering::Relaxed),
        }
    }
}

/// Which cap a write ran into: nothing of that write is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingLimit {
    /// A new logger would be one pending logger too many.
    Loggers,
    /// A pending logger's report would take it over its events.
    Events,
    /// A pending logger's report or registration would add one asset too many.
    Assets,
}

impl PendingLimit {
    /// The client's error code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Loggers => "too_many_pending",
            Self::Events => "pending_events_full",
            Self::Assets => "pending_assets_full",
        }
    }

    /// What the client is told, with the cap in force.
    pub fn message(self, limit: i64) -> String {
        match self {
            Self::Loggers => format!(
                "{limit} loggers are waiting to be claimed already: an admin must claim or release some first"
            ),
            Self::Events => format!(
                "an unclaimed logger may store at most {limit} events: keep them until it is claimed"
            ),
            Self::Assets => format!("an unclaimed logger may have at most {limit} assets"),
        }
    }
}

/// A pending logger as an admin of any tenant sees it: who it says it is and where it came
/// from, never its claim code or key (those prove the device; the admin reads the code off it).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PendingLogger {
    pub logger_id: String,
    /// First registration, epoch ms.
    pub first_seen: i64,
    /// Last contact saved, epoch ms (the HTTP layer overlays the live one).
    pub last_seen: Option<i64>,
    /// The address its last registration came from.
    pub remote_address: Option<String>,
    /// The address it reports for itself.
    pub ip_address: Option<String>,
    pub firmware_version: Option<String>,
    pub events: i64,
    pub assets: i64,
    /// The row id, for presence; not shown.
    #[serde(skip)]
    pub row: LoggerRow,
}

/// Pending loggers registered now (the cap of new registrations).
pub(super) fn count_pending(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT COUNT(*) FROM loggers WHERE tenant_id IS NULL AND deleted_at IS NULL",
        )?
        .query_row([], |r| r.get(0))?)
}

/// Assets a logger has (checked when a pending logger would get one more).
pub(super) fn count_assets(conn: &Connection, logger_row: LoggerRow) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM assets WHERE logger_row = ?1")?
        .query_row([logger_row], |r| r.get(0))?)
}

/// Adds a pending logger's newly stored events to its count.
pub(super) fn add_events(conn: &Connection, logger_row: LoggerRow, stored: usize) -> Result<()> {
    conn.prepare_cached("UPDATE loggers SET pending_events = pending_events + ?1 WHERE id = ?2")?
        .execute(params![stored as i64, logger_row])?;
    Ok(())
}

/// Deletes a pending logger and everything it stored, so its hardware id is free again.
/// A pending logger has no tenant, so no stop notes, planned downtime or day rollups name it.
fn delete_pending(conn: &Connection, row: LoggerRow) -> Result<()> {
    let of_assets = "asset_id IN (SELECT id FROM assets WHERE logger_row = ?1)";
    // Its newest events may still be in the inbox (as in a purge, store/fleet.rs).
    super::inbox::settle(conn)?;
    // Through the assets: events have no index by logger.
    conn.execute(&format!("DELETE FROM events WHERE {of_assets}"), [row])?;
    conn.execute("DELETE FROM seq_runs WHERE logger_row = ?1", [row])?;
    conn.execute("DELETE FROM logger_offline WHERE logger_row = ?1", [row])?;
    conn.execute("DELETE FROM assets WHERE logger_row = ?1", [row])?;
    conn.execute("DELETE FROM loggers WHERE id = ?1", [row])?;
    Ok(())
}

impl Sqlite {
    /// Sets the caps on pending loggers (at start).
    pub fn set_pending_limits(&self, limits: PendingLimits) {
        let caps = &self.inner.pending;
        caps.loggers.store(limits.loggers, Ordering::Relaxed);
        caps.events.store(limits.events, Ordering::Relaxed);
        caps.assets.store(limits.assets, Ordering::Relaxed);
    }

    pub fn pending_limits(&self) -> PendingLimits {
        self.inner.pending.get()
    }

    /// Every pending logger, oldest first.
    pub async fn pending_loggers(&self) -> Result<Vec<PendingLogger>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT l.id, l.logger_id, l.created_at, l.last_seen, l.remote_address,
                        l.ip_address, l.firmware_version, l.pending_events,
                        (SELECT COUNT(*) FROM assets a WHERE a.logger_row = l.id)
                 FROM loggers l WHERE l.tenant_id IS NULL AND l.deleted_at IS NULL
                 ORDER BY l.created_at, l.id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(PendingLogger {
                        row: r.get(0)?,
                        logger_id: r.get(1)?,
                        first_seen: r.get(2)?,
                        last_seen: r.get(3)?,
                        remote_address: r.get(4)?,
                        ip_address: r.get(5)?,
                        firmware_version: r.get(6)?,
                        events: r.get(7)?,
                        assets: r.get(8)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    /// Deletes the pending logger with this hardware id and all it stored; its row id.
    /// NotFound unless such a logger is pending.
    pub async fn release_pending(&self, logger_id: String) -> Result<LoggerRow> {
        let store = self.clone();
        let forget = logger_id.clone();
        self.write_then(
            move |conn| {
                let row: LoggerRow = conn
                    .query_row(
                        "SELECT id FROM loggers WHERE logger_id = ?1 AND tenant_id IS NULL
                         AND deleted_at IS NULL",
                        [&logger_id],
                        |r| r.get(0),
                    )
                    .optional()?
                    .ok_or(StoreError::NotFound)?;
                delete_pending(conn, row)?;
                Ok(row)
            },
            move |_| store.forget_device(&forget),
        )
        .await
    }

    /// Deletes the loggers still pending that first registered before `registered_before`
    /// (epoch ms), with all they stored; their row ids and hardware ids.
    pub async fn expire_pending(&self, registered_before: i64) -> Result<Vec<(LoggerRow, String)>> {
        let store = self.clone();
        self.write_then(
            move |conn| {
                let expired: Vec<(LoggerRow, String)> = conn
                    .prepare_cached(
                        "SELECT id, logger_id FROM loggers WHERE tenant_id IS NULL
                         AND deleted_at IS NULL AND created_at < ?1",
                    )?
                    .query_map([registered_before], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                for (row, _) in &expired {
                    delete_pending(conn, *row)?;
                }
                Ok(expired)
            },
            move |expired| {
                for (_, logger_id) in expired {
                    store.forget_device(logger_id);
                }
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::migrate::MIGRATIONS;
    use super::*;

    #[tokio::test]
    async fn loggers_pending_before_the_caps_start_with_what_they_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            // A database as schema 7 left it: a pending logger with events in the history and
            // the inbox, and a claimed one.
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..7] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "PRAGMA user_version = 7;
                 INSERT INTO tenants (id, name, created_at) VALUES (1, 't', 0);
                 INSERT INTO loggers (id, logger_id, tenant_id, name, key_hash, claim_code, created_at)
                 VALUES (1, 'pending', NULL, 'p', 'h', 'c', 0), (2, 'claimed', 1, 'c', 'h', 'c', 0);
                 INSERT INTO assets (id, logger_row, tenant_id, pin, name)
                 VALUES (1, 1, NULL, 0, 'p0'), (2, 1, NULL, 1, 'p1'), (3, 2, 1, 0, 'c0');
                 INSERT INTO events (tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq)
                 VALUES (NULL, 1, 1, 0, 1, 1, 0, 1), (NULL, 1, 2, 1, 1, 2, 0, 2), (1, 2, 3, 0, 1, 3, 0, 1);
                 INSERT INTO events_inbox (id, tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq)
                 VALUES (10, NULL, 1, 1, 0, 0, 4, 0, 3);",
            )
            .unwrap();
        }
        let store = Sqlite::open(&path).unwrap();
        let pending = store.pending_loggers().await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(
            (
                pending[0].logger_id.as_str(),
                pending[0].events,
                pending[0].assets
            ),
            ("pending", 3, 2)
        );
        store.close().await;
    }
}
