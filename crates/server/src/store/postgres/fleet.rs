//! Loggers, assets and events as their tenant sees them; presence's contacts and offline spans
//! (the rules are those of store/sqlite/fleet.rs).
//!
//! Names are ordered `COLLATE "C"`: byte order, as SQLite's BINARY collation, whatever the
//! database's own collation.

use deadpool_postgres::Transaction;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::super::{
    Asset, BackendError, Event, EventQuery, Logger, LoggerUpdate, Result, StoreError, now_ms,
    state_of,
};
use super::{Pg, Scope};
use crate::domain::{AssetId, LoggerRow, TenantId};
use crate::secrets::hash_secret;

const LOGGER_COLUMNS: &str =
    "id, logger_id, tenant_id, name, allow_keyless, firmware_version, ip_address, rssi,
     free_heap, uptime_s, queued_events, dropped_events, last_seen, online, acked_seq";

fn logger_from_row(r: &Row) -> Result<Logger> {
    let tenant_id: Option<TenantId> = r.try_get("tenant_id")?;
    Ok(Logger {
        id: r.try_get("id")?,
        logger_id: r.try_get("logger_id")?,
        name: r.try_get("name")?,
        status: if tenant_id.is_some() {
            "claimed"
        } else {
            "pending"
        },
        online: r.try_get("online")?,
        last_seen: r.try_get("last_seen")?,
        firmware_version: r.try_get("firmware_version")?,
        ip_address: r.try_get("ip_address")?,
        rssi: r.try_get("rssi")?,
        free_heap: r.try_get("free_heap")?,
        uptime_s: r.try_get("uptime_s")?,
        queued_events: r.try_get("queued_events")?,
        dropped_events: r.try_get("dropped_events")?,
        allow_keyless: r.try_get("allow_keyless")?,
        acked_seq: r.try_get("acked_seq")?,
        assets: Vec::new(),
        tenant_id,
    })
}

/// A stored pin (SMALLINT) as the `u8` it was stored from.
pub(super) fn pin_of(stored: i16) -> Result<u8> {
    u8::try_from(stored).map_err(|_| {
        StoreError::Database(BackendError::from(format!(
            "a stored pin out of range: {stored}"
        )))
    })
}

const ASSET_SELECT: &str = "SELECT a.id, a.name, l.logger_id, a.pin, a.short_stop_threshold_s,
     a.running, a.since, a.logger_row
     FROM assets a JOIN loggers l ON l.id = a.logger_row";

fn asset_from_row(r: &Row) -> Result<Asset> {
    let running: Option<bool> = r.try_get(5)?;
    Ok(Asset {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        logger_id: r.try_get(2)?,
        pin_number: pin_of(r.try_get(3)?)?,
        short_stop_threshold_s: r.try_get(4)?,
        state: state_of(running),
        since: r.try_get(6)?,
        running,
        logger_row: r.try_get(7)?,
    })
}

async fn tenant_loggers(
    tx: &Transaction<'_>,
    tenant_id: TenantId,
    only: Option<LoggerRow>,
) -> Result<Vec<Logger>> {
    let sql = format!(
        "SELECT {LOGGER_COLUMNS} FROM loggers WHERE tenant_id = $1 AND deleted_at IS NULL
         AND ($2::BIGINT IS NULL OR id = $2) ORDER BY name COLLATE \"C\", id"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let mut loggers = tx
        .query(&stmt, &[&tenant_id, &only])
        .await?
        .iter()
        .map(logger_from_row)
        .collect::<Result<Vec<_>>>()?;
    let assets = tenant_assets(tx, tenant_id, None, false).await?;
    for logger in &mut loggers {
        logger.assets = assets
            .iter()
            .filter(|a| a.logger_row == logger.id)
            .cloned()
            .collect();
    }
    Ok(loggers)
}

/// The tenant's assets (or the one `only`); with `live`, only those on its current loggers.
async fn tenant_assets(
    tx: &Transaction<'_>,
    tenant_id: TenantId,
    only: Option<AssetId>,
    live: bool,
) -> Result<Vec<Asset>> {
    let live = if live {
        "AND l.tenant_id = $1 AND l.deleted_at IS NULL"
    } else {
        ""
    };
    let sql = format!(
        "{ASSET_SELECT} WHERE a.tenant_id = $1 AND ($2::BIGINT IS NULL OR a.id = $2) {live}
         ORDER BY l.name COLLATE \"C\", a.pin, a.id"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    tx.query(&stmt, &[&tenant_id, &only])
        .await?
        .iter()
        .map(asset_from_row)
        .collect()
}

/// The hardware id of a live logger of the tenant, else NotFound. Its row stays locked until
/// the transaction ends (`FOR UPDATE` when it is about to be deleted, else `FOR NO KEY UPDATE`,
/// which reports referencing it do not wait for), so it is still the tenant's live logger when
/// the caller changes it.
async fn owned_logger(
    tx: &Transaction<'_>,
    tenant_id: TenantId,
    id: LoggerRow,
    for_delete: bool,
) -> Result<String> {
    let lock = if for_delete {
        "FOR UPDATE"
    } else {
        "FOR NO KEY UPDATE"
    };
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT logger_id FROM loggers WHERE id = $1 AND tenant_id = $2
             AND deleted_at IS NULL {lock}"
        ))
        .await?;
    Ok(tx
        .query_opt(&stmt, &[&id, &tenant_id])
        .await?
        .ok_or(StoreError::NotFound)?
        .try_get(0)?)
}

/// Locks a logger's row (`FOR NO KEY UPDATE`), so that presence's steps for one logger from
/// several replicas take turns (one open offline span at a time).
async fn lock_logger(tx: &Transaction<'_>, logger_row: LoggerRow) -> Result<()> {
    let stmt = tx
        .prepare_cached("SELECT 1 FROM loggers WHERE id = $1 FOR NO KEY UPDATE")
        .await?;
    tx.query_opt(&stmt, &[&logger_row]).await?;
    Ok(())
}

impl Pg {
    pub async fn loggers(&self, tenant_id: TenantId) -> Result<Vec<Logger>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let loggers = tenant_loggers(&tx, tenant_id, None).await?;
        tx.commit().await?;
        Ok(loggers)
    }

    pub async fn logger(&self, tenant_id: TenantId, id: LoggerRow) -> Result<Logger> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let logger = tenant_loggers(&tx, tenant_id, Some(id)).await?.pop();
        tx.commit().await?;
        logger.ok_or(StoreError::NotFound)
    }

    pub async fn logger_row_by_hardware_id(
        &self,
        tenant_id: TenantId,
        logger_id: String,
    ) -> Result<LoggerRow> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT id FROM loggers WHERE logger_id = $1 AND tenant_id = $2
                 AND deleted_at IS NULL",
            )
            .await?;
        let row = tx.query_opt(&stmt, &[&logger_id, &tenant_id]).await?;
        tx.commit().await?;
        Ok(row.ok_or(StoreError::NotFound)?.try_get(0)?)
    }

    pub async fn update_logger(
        &self,
        tenant_id: TenantId,
        id: LoggerRow,
        update: LoggerUpdate,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        owned_logger(&tx, tenant_id, id, false).await?;
        let stmt = tx
            .prepare_cached(
                "UPDATE loggers SET name = COALESCE($1, name),
                 allow_keyless = COALESCE($2, allow_keyless) WHERE id = $3 AND tenant_id = $4",
            )
            .await?;
        tx.execute(
            &stmt,
            &[&update.name, &update.allow_keyless, &id, &tenant_id],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_logger(
        &self,
        tenant_id: TenantId,
        id: LoggerRow,
        purge: bool,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        // FOR UPDATE when purging: a report that inserted events for the logger commits
        // before the lock is granted, so the deletes below see its events.
        owned_logger(&tx, tenant_id, id, purge).await?;
        if purge {
            // Everything that names the logger or its assets goes with it; the tenant filter
            // stays on the tables that have one.
            let of_assets = "asset_id IN (SELECT id FROM assets WHERE logger_row = $1
                             AND tenant_id = $2)";
            for sql in [
                format!("DELETE FROM stop_parts WHERE tenant_id = $2 AND {of_assets}"),
                format!("DELETE FROM day_rollups WHERE tenant_id = $2 AND {of_assets}"),
                format!("DELETE FROM planned_downtime WHERE tenant_id = $2 AND {of_assets}"),
                // Through the assets, as in SQLite (the events' index is by asset and time).
                format!("DELETE FROM events WHERE tenant_id = $2 AND {of_assets}"),
            ] {
                let stmt = tx.prepare_cached(&sql).await?;
                tx.execute(&stmt, &[&id, &tenant_id]).await?;
            }
            for sql in [
                "DELETE FROM logger_offline WHERE logger_row = $1",
                "DELETE FROM seq_runs WHERE logger_row = $1",
            ] {
                let stmt = tx.prepare_cached(sql).await?;
                tx.execute(&stmt, &[&id]).await?;
            }
            for sql in [
                "DELETE FROM assets WHERE logger_row = $1 AND tenant_id = $2",
                "DELETE FROM loggers WHERE id = $1 AND tenant_id = $2",
            ] {
                let stmt = tx.prepare_cached(sql).await?;
                tx.execute(&stmt, &[&id, &tenant_id]).await?;
            }
        } else {
            let stmt = tx
                .prepare_cached(
                    "UPDATE loggers SET deleted_at = $1, online = false
                     WHERE id = $2 AND tenant_id = $3",
                )
                .await?;
            tx.execute(&stmt, &[&now_ms(), &id, &tenant_id]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn rotate_key(
        &self,
        tenant_id: TenantId,
        id: LoggerRow,
        new_key: String,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        owned_logger(&tx, tenant_id, id, false).await?;
        let stmt = tx
            .prepare_cached("UPDATE loggers SET key_hash = $1 WHERE id = $2 AND tenant_id = $3")
            .await?;
        tx.execute(&stmt, &[&hash_secret(&new_key), &id, &tenant_id])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn claim(
        &self,
        tenant_id: TenantId,
        logger_id: String,
        claim_code: String,
    ) -> Result<LoggerRow> {
        let mut client = self.client().await?;
        // System scope: the logger is pending (no tenant), so the tenant's scope cannot see it.
        let tx = super::begin(&mut client, Scope::System).await?;
        // FOR NO KEY UPDATE: of two racing claims (or a claim and a release), the second waits
        // for the first, then finds the logger no longer pending: NotFound. A registration of
        // the logger holds the same lock, so its new assets get the tenant it read.
        let find = tx
            .prepare_cached(
                "SELECT id FROM loggers WHERE logger_id = $1 AND claim_code = $2
                 AND tenant_id IS NULL AND deleted_at IS NULL FOR NO KEY UPDATE",
            )
            .await?;
        let row: LoggerRow = tx
            .query_opt(&find, &[&logger_id, &claim_code.to_ascii_uppercase()])
            .await?
            .ok_or(StoreError::NotFound)?
            .try_get(0)?;
        for sql in [
            "UPDATE loggers SET tenant_id = $1 WHERE id = $2 AND tenant_id IS NULL",
            "UPDATE assets SET tenant_id = $1 WHERE logger_row = $2",
            // Through the assets, as in SQLite (the events' index is by asset and time).
            "UPDATE events SET tenant_id = $1
             WHERE asset_id IN (SELECT id FROM assets WHERE logger_row = $2)",
        ] {
            let stmt = tx.prepare_cached(sql).await?;
            tx.execute(&stmt, &[&tenant_id, &row]).await?;
        }
        tx.commit().await?;
        Ok(row)
    }

    pub async fn assets(&self, tenant_id: TenantId) -> Result<Vec<Asset>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let assets = tenant_assets(&tx, tenant_id, None, true).await?;
        tx.commit().await?;
        Ok(assets)
    }

    pub async fn asset(&self, tenant_id: TenantId, id: AssetId) -> Result<Asset> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let asset = tenant_assets(&tx, tenant_id, Some(id), false).await?.pop();
        tx.commit().await?;
        asset.ok_or(StoreError::NotFound)
    }

    pub async fn update_asset(
        &self,
        tenant_id: TenantId,
        id: AssetId,
        name: Option<String>,
        threshold_s: Option<Option<i64>>,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "UPDATE assets SET name = COALESCE($1, name),
                 short_stop_threshold_s = CASE WHEN $2::BOOLEAN THEN $3::BIGINT
                                          ELSE short_stop_threshold_s END
                 WHERE id = $4 AND tenant_id = $5",
            )
            .await?;
        let changed = tx
            .execute(
                &stmt,
                &[
                    &name,
                    &threshold_s.is_some(),
                    &threshold_s.flatten(),
                    &id,
                    &tenant_id,
                ],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        if threshold_s.is_some() {
            super::rollups::forget_asset_days(&tx, id, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn first_event_ts(&self, tenant_id: TenantId) -> Result<Option<i64>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached("SELECT MIN(ts) FROM events WHERE tenant_id = $1")
            .await?;
        let first = tx.query_one(&stmt, &[&tenant_id]).await?.try_get(0)?;
        tx.commit().await?;
        Ok(first)
    }

    pub async fn events(&self, tenant_id: TenantId, q: EventQuery) -> Result<Vec<Event>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let (before_ts, before_id) = q.before.unzip();
        let stmt = tx
            .prepare_cached(
                "SELECT e.id, e.asset_id, l.logger_id, e.pin, e.running, e.ts, e.received_at, e.seq
                 FROM events e JOIN loggers l ON l.id = e.logger_row
                 WHERE e.tenant_id = $1
                   AND ($2::BIGINT IS NULL OR e.asset_id = $2)
                   AND ($3::TEXT IS NULL OR l.logger_id = $3)
                   AND ($4::BIGINT IS NULL OR e.ts >= $4)
                   AND ($5::BIGINT IS NULL OR e.ts < $5)
                   AND ($6::BIGINT IS NULL OR e.ts < $6 OR (e.ts = $6 AND e.id < $7::BIGINT))
                 ORDER BY e.ts DESC, e.id DESC LIMIT $8",
            )
            .await?;
        let events = tx
            .query(
                &stmt,
                &[
                    &tenant_id,
                    &q.asset_id,
                    &q.logger_id,
                    &q.from,
                    &q.to,
                    &before_ts,
                    &before_id,
                    &q.limit,
                ],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(Event {
                    id: r.try_get(0)?,
                    asset_id: r.try_get(1)?,
                    logger_id: r.try_get(2)?,
                    pin: pin_of(r.try_get(3)?)?,
                    state: state_of(Some(r.try_get(4)?)),
                    ts: r.try_get(5)?,
                    received_at: r.try_get(6)?,
                    seq: r.try_get(7)?,
                })
            })
            .collect::<Result<_>>()?;
        tx.commit().await?;
        Ok(events)
    }

    pub async fn logger_contacts(
        &self,
    ) -> Result<Vec<(LoggerRow, String, Option<TenantId>, Option<i64>)>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT id, logger_id, tenant_id, last_seen FROM loggers WHERE deleted_at IS NULL",
            )
            .await?;
        let contacts = tx
            .query(&stmt, &[])
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect::<Result<_>>()?;
        tx.commit().await?;
        Ok(contacts)
    }

    pub async fn save_contacts(&self, mut contacts: Vec<(LoggerRow, i64, bool)>) -> Result<()> {
        if contacts.is_empty() {
            return Ok(());
        }
        // In row order (stable: of two contacts of one logger the later still wins), so that
        // replicas saving at once lock the rows in the same order and cannot deadlock.
        contacts.sort_by_key(|(row, _, _)| *row);
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached("UPDATE loggers SET last_seen = $1, online = $2 WHERE id = $3")
            .await?;
        // Pipelined: sent together and run in order, without a round trip each.
        let updates = contacts.iter().map(|(row, last_seen, online)| {
            let params: [&(dyn ToSql + Sync); 3] = [last_seen, online, row];
            tx.execute_raw(&stmt, params)
        });
        futures_util::future::try_join_all(updates).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn open_offline(&self, logger_row: LoggerRow, since: i64) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        lock_logger(&tx, logger_row).await?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO logger_offline (logger_row, start_ms)
                 SELECT $1::BIGINT, $2::BIGINT WHERE NOT EXISTS
                   (SELECT 1 FROM logger_offline WHERE logger_row = $1 AND end_ms IS NULL)",
            )
            .await?;
        tx.execute(&stmt, &[&logger_row, &since]).await?;
        super::rollups::forget_logger_days(&tx, logger_row, since).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn close_offline(&self, logger_row: LoggerRow, at: i64) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        lock_logger(&tx, logger_row).await?;
        let open = tx
            .prepare_cached(
                "SELECT MIN(start_ms) FROM logger_offline WHERE logger_row = $1 AND end_ms IS NULL",
            )
            .await?;
        let start: Option<i64> = tx.query_one(&open, &[&logger_row]).await?.try_get(0)?;
        let Some(start) = start else {
            tx.commit().await?;
            return Ok(());
        };
        let close = tx
            .prepare_cached(
                "UPDATE logger_offline SET end_ms = GREATEST(start_ms, $2)
                 WHERE logger_row = $1 AND end_ms IS NULL",
            )
            .await?;
        tx.execute(&close, &[&logger_row, &at]).await?;
        super::rollups::forget_logger_days(&tx, logger_row, start).await?;
        tx.commit().await?;
        Ok(())
    }
}
