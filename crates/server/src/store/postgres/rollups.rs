//! The day rollups analytics keeps (see store/sqlite/rollups.rs for the rules).

use deadpool_postgres::Transaction;

use super::super::{NewDays, Result, StoreError, StoredDays};
use super::Pg;
use crate::domain::{AssetId, LoggerRow, TenantId};

impl Pg {
    pub async fn day_rollups(
        &self,
        _tenant_id: TenantId,
        _asset_ids: Vec<AssetId>,
        _from: i64,
        _to: i64,
    ) -> Result<Vec<StoredDays>> {
        Err(StoreError::Unavailable(
            "day_rollups: not on PostgreSQL yet".into(),
        ))
    }

    pub async fn save_day_rollups(
        &self,
        _tenant_id: TenantId,
        _assets: Vec<NewDays>,
    ) -> Result<usize> {
        Err(StoreError::Unavailable(
            "save_day_rollups: not on PostgreSQL yet".into(),
        ))
    }
}

/// Forgets the asset's days that end after `after` (all with None) and bumps its generation, so
/// a rollup computed before cannot be saved (see store/sqlite/rollups.rs).
pub(super) async fn forget_asset_days(
    tx: &Transaction<'_>,
    asset_id: AssetId,
    after: Option<i64>,
) -> Result<()> {
    let delete = tx
        .prepare_cached("DELETE FROM day_rollups WHERE asset_id = $1 AND day_end > $2")
        .await?;
    tx.execute(&delete, &[&asset_id, &after.unwrap_or(i64::MIN)])
        .await?;
    let bump = tx
        .prepare_cached("UPDATE assets SET rollup_gen = rollup_gen + 1 WHERE id = $1")
        .await?;
    tx.execute(&bump, &[&asset_id]).await?;
    Ok(())
}

/// A late event of the asset at `ts`: forgets the days from the last RUNNING event before it on
/// (the stop `ts` falls into, if any, began at or after that event).
pub(super) async fn forget_days_for_late_event(
    tx: &Transaction<'_>,
    asset_id: AssetId,
    ts: i64,
) -> Result<()> {
    let last_running = tx
        .prepare_cached(
            "SELECT ts FROM events WHERE asset_id = $1 AND ts < $2 AND running
             ORDER BY ts DESC LIMIT 1",
        )
        .await?;
    let last_running: Option<i64> = tx
        .query_opt(&last_running, &[&asset_id, &ts])
        .await?
        .map(|r| r.get(0));
    forget_asset_days(tx, asset_id, last_running).await
}

/// Forgets the days of every asset of a logger that end after `after`.
pub(super) async fn forget_logger_days(
    tx: &Transaction<'_>,
    logger_row: LoggerRow,
    after: i64,
) -> Result<()> {
    let delete = tx
        .prepare_cached(
            "DELETE FROM day_rollups WHERE day_end > $2
             AND asset_id IN (SELECT id FROM assets WHERE logger_row = $1)",
        )
        .await?;
    tx.execute(&delete, &[&logger_row, &after]).await?;
    let bump = tx
        .prepare_cached("UPDATE assets SET rollup_gen = rollup_gen + 1 WHERE logger_row = $1")
        .await?;
    tx.execute(&bump, &[&logger_row]).await?;
    Ok(())
}

/// Forgets every day of a tenant (its settings, calendar, planned downtime or reasons changed).
pub(super) async fn forget_tenant_days(tx: &Transaction<'_>, tenant_id: TenantId) -> Result<()> {
    let delete = tx
        .prepare_cached("DELETE FROM day_rollups WHERE tenant_id = $1")
        .await?;
    tx.execute(&delete, &[&tenant_id]).await?;
    let bump = tx
        .prepare_cached("UPDATE assets SET rollup_gen = rollup_gen + 1 WHERE tenant_id = $1")
        .await?;
    tx.execute(&bump, &[&tenant_id]).await?;
    Ok(())
}
