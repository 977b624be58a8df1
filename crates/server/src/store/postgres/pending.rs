//! Pending loggers: listed, released, expired (the rules are those of store/sqlite/pending.rs).
//! A pending logger has no tenant, so all of this runs in the system scope.

use deadpool_postgres::Transaction;

use super::super::{PendingLogger, Result, StoreError};
use super::{Pg, Scope};
use crate::domain::LoggerRow;

/// Deletes a pending logger and everything it stored, so its hardware id is free again. A
/// pending logger has no tenant, so no stop notes, planned downtime or day rollups name it.
///
/// The caller holds the logger's row lock (`FOR UPDATE`): a report that had just inserted
/// events for it committed before the lock was granted (so the deletes below see its events),
/// and one that comes after waits, then finds no logger.
async fn delete_pending(tx: &Transaction<'_>, row: LoggerRow) -> Result<()> {
    // Through the assets, as in SQLite (the events' index is by asset and time).
    for sql in [
        "DELETE FROM events WHERE asset_id IN (SELECT id FROM assets WHERE logger_row = $1)",
        "DELETE FROM seq_runs WHERE logger_row = $1",
        "DELETE FROM logger_offline WHERE logger_row = $1",
        "DELETE FROM assets WHERE logger_row = $1",
        "DELETE FROM loggers WHERE id = $1",
    ] {
        let stmt = tx.prepare_cached(sql).await?;
        tx.execute(&stmt, &[&row]).await?;
    }
    Ok(())
}

impl Pg {
    pub async fn pending_loggers(&self) -> Result<Vec<PendingLogger>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT l.id, l.logger_id, l.created_at, l.last_seen, l.remote_address,
                        l.ip_address, l.firmware_version, l.pending_events,
                        (SELECT COUNT(*) FROM assets a WHERE a.logger_row = l.id)
                 FROM loggers l WHERE l.tenant_id IS NULL AND l.deleted_at IS NULL
                 ORDER BY l.created_at, l.id",
            )
            .await?;
        let pending = tx
            .query(&stmt, &[])
            .await?
            .iter()
            .map(|r| {
                Ok(PendingLogger {
                    row: r.try_get(0)?,
                    logger_id: r.try_get(1)?,
                    first_seen: r.try_get(2)?,
                    last_seen: r.try_get(3)?,
                    remote_address: r.try_get(4)?,
                    ip_address: r.try_get(5)?,
                    firmware_version: r.try_get(6)?,
                    events: r.try_get(7)?,
                    assets: r.try_get(8)?,
                })
            })
            .collect::<Result<_>>()?;
        tx.commit().await?;
        Ok(pending)
    }

    pub async fn release_pending(&self, logger_id: String) -> Result<LoggerRow> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        // FOR UPDATE: a claim racing this release either committed first (then the logger is
        // no longer pending when the lock is granted: NotFound) or waits and finds nothing.
        let stmt = tx
            .prepare_cached(
                "SELECT id FROM loggers WHERE logger_id = $1 AND tenant_id IS NULL
                 AND deleted_at IS NULL FOR UPDATE",
            )
            .await?;
        let row: LoggerRow = tx
            .query_opt(&stmt, &[&logger_id])
            .await?
            .ok_or(StoreError::NotFound)?
            .try_get(0)?;
        delete_pending(&tx, row).await?;
        tx.commit().await?;
        self.forget_device(&logger_id);
        Ok(row)
    }

    pub async fn expire_pending(&self, registered_before: i64) -> Result<Vec<(LoggerRow, String)>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        // FOR UPDATE, as in `release_pending`: a logger claimed meanwhile is not expired.
        // In row order, so that two replicas expiring at once lock in the same order.
        let stmt = tx
            .prepare_cached(
                "SELECT id, logger_id FROM loggers WHERE tenant_id IS NULL
                 AND deleted_at IS NULL AND created_at < $1 ORDER BY id FOR UPDATE",
            )
            .await?;
        let expired: Vec<(LoggerRow, String)> = tx
            .query(&stmt, &[&registered_before])
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
        for (row, _) in &expired {
            delete_pending(&tx, *row).await?;
        }
        tx.commit().await?;
        for (_, logger_id) in &expired {
            self.forget_device(logger_id);
        }
        Ok(expired)
    }
}
