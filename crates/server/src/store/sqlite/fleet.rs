//! What a tenant sees and manages: its loggers, assets and event history.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Asset, AssetChange, Event, Logger, Result, Sqlite, StoreError, now_ms, state_of};
use crate::domain::{AssetId, LoggerRow, TenantId};
use crate::secrets::hash_secret;

const LOGGER_COLUMNS: &str =
    "id, logger_id, tenant_id, name, allow_keyless, firmware_version, ip_address, rssi,
     free_heap, uptime_s, queued_events, dropped_events, last_seen, online, acked_seq";

fn logger_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Logger> {
    let tenant_id: Option<TenantId> = r.get("tenant_id")?;
    Ok(Logger {
        id: r.get("id")?,
        logger_id: r.get("logger_id")?,
        name: r.get("name")?,
        status: if tenant_id.is_some() {
            "claimed"
        } else {
            "pending"
        },
        online: r.get("online")?,
        last_seen: r.get("last_seen")?,
        firmware_version: r.get("firmware_version")?,
        ip_address: r.get("ip_address")?,
        rssi: r.get("rssi")?,
        free_heap: r.get("free_heap")?,
        uptime_s: r.get("uptime_s")?,
        queued_events: r.get("queued_events")?,
        dropped_events: r.get("dropped_events")?,
        allow_keyless: r.get("allow_keyless")?,
        acked_seq: r.get("acked_seq")?,
        assets: Vec::new(),
        tenant_id,
    })
}

const ASSET_SELECT: &str = "SELECT a.id, a.name, l.logger_id, a.pin, a.short_stop_threshold_s, a.running, a.since, a.logger_row,
     a.line, a.area, a.target_bp
     FROM assets a JOIN loggers l ON l.id = a.logger_row";

fn asset_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Asset> {
    let running: Option<bool> = r.get(5)?;
    Ok(Asset {
        id: r.get(0)?,
        name: r.get(1)?,
        logger_id: r.get(2)?,
        pin_number: r.get(3)?,
        short_stop_threshold_s: r.get(4)?,
        line: r.get(8)?,
        area: r.get(9)?,
        target_availability: super::settings::target_of(r.get(10)?),
        state: state_of(running),
        since: r.get(6)?,
        running,
        logger_row: r.get(7)?,
    })
}

/// Filters and paging of `GET /api/v1/events`.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub asset_id: Option<AssetId>,
    pub logger_id: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub limit: i64,
    /// Continue after this (ts, id), newest first.
    pub before: Option<(i64, i64)>,
}

/// Changes an admin makes to a logger; None leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct LoggerUpdate {
    pub name: Option<String>,
    pub allow_keyless: Option<bool>,
}

fn tenant_loggers(
    conn: &Connection,
    tenant_id: TenantId,
    only: Option<LoggerRow>,
) -> Result<Vec<Logger>> {
    let sql = format!(
        "SELECT {LOGGER_COLUMNS} FROM loggers WHERE tenant_id = ?1 AND deleted_at IS NULL
         AND (?2 IS NULL OR id = ?2) ORDER BY name, id"
    );
    let mut loggers: Vec<Logger> = conn
        .prepare_cached(&sql)?
        .query_map(params![tenant_id, only], logger_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    let assets = tenant_assets(conn, tenant_id, None)?;
    for logger in &mut loggers {
        logger.assets = assets
            .iter()
            .filter(|a| a.logger_row == logger.id)
            .cloned()
            .collect();
    }
    Ok(loggers)
}

fn tenant_assets(
    conn: &Connection,
    tenant_id: TenantId,
    only: Option<AssetId>,
) -> Result<Vec<Asset>> {
    let sql = format!(
        "{ASSET_SELECT} WHERE a.tenant_id = ?1 AND (?2 IS NULL OR a.id = ?2) ORDER BY l.name, a.pin"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_map(params![tenant_id, only], asset_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// The row id of a live logger of the tenant, else NotFound.
fn owned_logger(conn: &Connection, tenant_id: TenantId, id: LoggerRow) -> Result<String> {
    conn.query_row(
        "SELECT logger_id FROM loggers WHERE id = ?1 AND tenant_id = ?2 AND deleted_at IS NULL",
        params![id, tenant_id],
        |r| r.get(0),
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

impl Sqlite {
    pub async fn loggers(&self, tenant_id: TenantId) -> Result<Vec<Logger>> {
        self.read(move |conn| tenant_loggers(conn, tenant_id, None))
            .await
    }

    pub async fn logger(&self, tenant_id: TenantId, id: LoggerRow) -> Result<Logger> {
        self.read(move |conn| {
            tenant_loggers(conn, tenant_id, Some(id))?
                .pop()
                .ok_or(StoreError::NotFound)
        })
        .await
    }

    /// A tenant's logger by its hardware id (the original API's way of naming one).
    pub async fn logger_row_by_hardware_id(
        &self,
        tenant_id: TenantId,
        logger_id: String,
    ) -> Result<LoggerRow> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT id FROM loggers WHERE logger_id = ?1 AND tenant_id = ?2 AND deleted_at IS NULL",
                params![logger_id, tenant_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(StoreError::NotFound)
        })
        .await
    }

    pub async fn update_logger(
        &self,
        tenant_id: TenantId,
        id: LoggerRow,
        update: LoggerUpdate,
    ) -> Result<()> {
        let store = self.clone();
        self.write_then(
            move |conn| {
                let logger_id = owned_logger(conn, tenant_id, id)?;
                conn.execute(
                    "UPDATE loggers SET name = COALESCE(?1, name), allow_keyless = COALESCE(?2, allow_keyless) WHERE id = ?3",
                    params![update.name, update.allow_keyless, id],
                )?;
                Ok(logger_id)
            },
            move |logger_id| store.forget_device(logger_id),
        )
        .await
        .map(drop)
    }

    /// Removes a logger; its history stays unless `purge`, and its key stops working at once.
    pub async fn delete_logger(
        &self,
        tenant_id: TenantId,
        id: LoggerRow,
        purge: bool,
    ) -> Result<()> {
        let store = self.clone();
        self.write_then(
            move |conn| {
                let logger_id = owned_logger(conn, tenant_id, id)?;
                if purge {
                    // Its newest events may still be in the inbox.
                    super::inbox::settle(conn)?;
                    // Everything that names the logger or its assets goes with it.
                    let of_assets = "asset_id IN (SELECT id FROM assets WHERE logger_row = ?1)";
                    conn.execute(&format!("DELETE FROM stop_parts WHERE {of_assets}"), [id])?;
                    conn.execute(&format!("DELETE FROM day_rollups WHERE {of_assets}"), [id])?;
                    conn.execute(
                        &format!("DELETE FROM planned_downtime WHERE {of_assets}"),
                        [id],
                    )?;
                    conn.execute("DELETE FROM logger_offline WHERE logger_row = ?1", [id])?;
                    // Through the assets: events have no index by logger.
                    conn.execute(&format!("DELETE FROM events WHERE {of_assets}"), [id])?;
                    conn.execute("DELETE FROM seq_runs WHERE logger_row = ?1", [id])?;
                    conn.execute("DELETE FROM assets WHERE logger_row = ?1", [id])?;
                    conn.execute("DELETE FROM loggers WHERE id = ?1", [id])?;
                } else {
                    conn.execute(
                        "UPDATE loggers SET deleted_at = ?1, online = 0 WHERE id = ?2",
                        params![now_ms(), id],
                    )?;
                }
                Ok(logger_id)
            },
            move |logger_id| store.forget_device(logger_id),
        )
        .await
        .map(drop)
    }

    /// Replaces a logger's key; the old one stops working at once.
    pub async fn rotate_key(
        &self,
        tenant_id: TenantId,
        id: LoggerRow,
        new_key: String,
    ) -> Result<()> {
        let store = self.clone();
        self.write_then(
            move |conn| {
                let logger_id = owned_logger(conn, tenant_id, id)?;
                conn.execute(
                    "UPDATE loggers SET key_hash = ?1 WHERE id = ?2",
                    params![hash_secret(&new_key), id],
                )?;
                Ok(logger_id)
            },
            move |logger_id| store.forget_device(logger_id),
        )
        .await
        .map(drop)
    }

    /// Moves a pending logger, with its assets and events, into the tenant. NotFound when no
    /// pending logger has that id and code.
    pub async fn claim(
        &self,
        tenant_id: TenantId,
        logger_id: String,
        claim_code: String,
    ) -> Result<LoggerRow> {
        let store = self.clone();
        let forget = logger_id.clone();
        self.write_then(
            move |conn| {
                let row: LoggerRow = conn
                    .query_row(
                        "SELECT id FROM loggers WHERE logger_id = ?1 AND claim_code = ?2
                         AND tenant_id IS NULL AND deleted_at IS NULL",
                        params![logger_id, claim_code.to_ascii_uppercase()],
                        |r| r.get(0),
                    )
                    .optional()?
                    .ok_or(StoreError::NotFound)?;
                conn.execute(
                    "UPDATE loggers SET tenant_id = ?1 WHERE id = ?2",
                    params![tenant_id, row],
                )?;
                conn.execute(
                    "UPDATE assets SET tenant_id = ?1 WHERE logger_row = ?2",
                    params![tenant_id, row],
                )?;
                // Through the assets: events have no index by logger. Events still in the
                // inbox join the history first, so that the update reaches them too.
                super::inbox::settle(conn)?;
                conn.execute(
                    "UPDATE events SET tenant_id = ?1
                     WHERE asset_id IN (SELECT id FROM assets WHERE logger_row = ?2)",
                    params![tenant_id, row],
                )?;
                Ok(row)
            },
            move |_| store.forget_device(&forget),
        )
        .await
    }

    /// The tenant's machines on its current loggers (a deleted logger's assets keep their
    /// history, reachable by id, but leave the board).
    pub async fn assets(&self, tenant_id: TenantId) -> Result<Vec<Asset>> {
        self.read(move |conn| {
            let live: std::collections::HashSet<LoggerRow> = conn
                .prepare_cached(
                    "SELECT id FROM loggers WHERE tenant_id = ?1 AND deleted_at IS NULL",
                )?
                .query_map([tenant_id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut assets = tenant_assets(conn, tenant_id, None)?;
            assets.retain(|a| live.contains(&a.logger_row));
            Ok(assets)
        })
        .await
    }

    pub async fn asset(&self, tenant_id: TenantId, id: AssetId) -> Result<Asset> {
        self.read(move |conn| {
            tenant_assets(conn, tenant_id, Some(id))?
                .pop()
                .ok_or(StoreError::NotFound)
        })
        .await
    }

    /// Changes what `change` gives of an asset (`Some(None)` clears a field).
    pub async fn update_asset(
        &self,
        tenant_id: TenantId,
        id: AssetId,
        change: AssetChange,
    ) -> Result<()> {
        self.write(move |conn| {
            let AssetChange {
                name,
                threshold_s,
                line,
                area,
                target_bp,
            } = change;
            let changed = conn.execute(
                "UPDATE assets SET name = COALESCE(?1, name),
                 short_stop_threshold_s = CASE WHEN ?2 THEN ?3 ELSE short_stop_threshold_s END,
                 line = CASE WHEN ?4 THEN ?5 ELSE line END,
                 area = CASE WHEN ?6 THEN ?7 ELSE area END,
                 target_bp = CASE WHEN ?8 THEN ?9 ELSE target_bp END
                 WHERE id = ?10 AND tenant_id = ?11",
                params![
                    name,
                    threshold_s.is_some(),
                    threshold_s.flatten(),
                    line.is_some(),
                    line.flatten(),
                    area.is_some(),
                    area.flatten(),
                    target_bp.is_some(),
                    target_bp.flatten(),
                    id,
                    tenant_id
                ],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            if threshold_s.is_some() {
                super::rollups::forget_asset_days(conn, id, None)?;
            }
            Ok(())
        })
        .await
    }

    /// The time of the tenant's first event, if it has one.
    pub async fn first_event_ts(&self, tenant_id: TenantId) -> Result<Option<i64>> {
        self.read_events(move |conn| {
            Ok(conn
                .prepare_cached("SELECT MIN(ts) FROM events WHERE tenant_id = ?1")?
                .query_row([tenant_id], |r| r.get(0))?)
        })
        .await
    }

    /// A page of the tenant's events, newest first.
    pub async fn events(&self, tenant_id: TenantId, q: EventQuery) -> Result<Vec<Event>> {
        self.read_events(move |conn| {
            let (before_ts, before_id) = q.before.unzip();
            let mut stmt = conn.prepare_cached(
                "SELECT e.id, e.asset_id, l.logger_id, e.pin, e.running, e.ts, e.received_at, e.seq
                 FROM events e JOIN loggers l ON l.id = e.logger_row
                 WHERE e.tenant_id = ?1
                   AND (?2 IS NULL OR e.asset_id = ?2)
                   AND (?3 IS NULL OR l.logger_id = ?3)
                   AND (?4 IS NULL OR e.ts >= ?4)
                   AND (?5 IS NULL OR e.ts < ?5)
                   AND (?6 IS NULL OR e.ts < ?6 OR (e.ts = ?6 AND e.id < ?7))
                 ORDER BY e.ts DESC, e.id DESC LIMIT ?8",
            )?;
            let events = stmt
                .query_map(
                    params![
                        tenant_id,
                        q.asset_id,
                        q.logger_id,
                        q.from,
                        q.to,
                        before_ts,
                        before_id,
                        q.limit
                    ],
                    |r| {
                        Ok(Event {
                            id: r.get(0)?,
                            asset_id: r.get(1)?,
                            logger_id: r.get(2)?,
                            pin: r.get(3)?,
                            state: state_of(Some(r.get(4)?)),
                            ts: r.get(5)?,
                            received_at: r.get(6)?,
                            seq: r.get(7)?,
                        })
                    },
                )?
                .collect::<rusqlite::Result<_>>()?;
            Ok(events)
        })
        .await
    }

    /// Every live logger with its tenant and last contact, for presence tracking at start.
    pub async fn logger_contacts(
        &self,
    ) -> Result<Vec<(LoggerRow, String, Option<TenantId>, Option<i64>)>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, logger_id, tenant_id, last_seen FROM loggers WHERE deleted_at IS NULL",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    /// Saves last contacts and online flags that presence tracking holds in memory.
    pub async fn save_contacts(&self, contacts: Vec<(LoggerRow, i64, bool)>) -> Result<()> {
        if contacts.is_empty() {
            return Ok(());
        }
        self.write(move |conn| {
            let mut stmt = conn
                .prepare_cached("UPDATE loggers SET last_seen = ?1, online = ?2 WHERE id = ?3")?;
            for (row, last_seen, online) in contacts {
                stmt.execute(params![last_seen, online, row])?;
            }
            Ok(())
        })
        .await
    }

    /// Starts an offline span for a logger at its last contact, unless one is open already.
    pub async fn open_offline(&self, logger_row: LoggerRow, since: i64) -> Result<()> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO logger_offline (logger_row, start_ms)
                 SELECT ?1, ?2 WHERE NOT EXISTS
                   (SELECT 1 FROM logger_offline WHERE logger_row = ?1 AND end_ms IS NULL)",
                params![logger_row, since],
            )?;
            super::rollups::forget_logger_days(conn, logger_row, since)
        })
        .await
    }

    /// Ends a logger's open offline span (if any) at its first contact back.
    pub async fn close_offline(&self, logger_row: LoggerRow, at: i64) -> Result<()> {
        self.write(move |conn| {
            let start: Option<i64> = conn
                .query_row(
                    "SELECT MIN(start_ms) FROM logger_offline WHERE logger_row = ?1 AND end_ms IS NULL",
                    [logger_row],
                    |r| r.get(0),
                )?;
            let Some(start) = start else {
                return Ok(());
            };
            conn.execute(
                "UPDATE logger_offline SET end_ms = MAX(start_ms, ?2) WHERE logger_row = ?1 AND end_ms IS NULL",
                params![logger_row, at],
            )?;
            super::rollups::forget_logger_days(conn, logger_row, start)
        })
        .await
    }
}
