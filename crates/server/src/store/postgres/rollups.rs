//! The day rollups analytics keeps (see store/sqlite/rollups.rs for the rules).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::pin::pin;

use deadpool_postgres::Transaction;
use futures_util::TryStreamExt;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::super::sqlite::rollups::{decode, encode};
use super::super::{DayRollup, NewDays, Result, StoredDays};
use super::{Pg, Scope};
use crate::domain::{AssetId, LoggerRow, TenantId};

impl Pg {
    /// What the day rollups of these assets inside `[from, to)` need (see
    /// store/sqlite/rollups.rs): one transaction, two statements for all the assets. The
    /// generations are read first (the state's statement runs before the days' one): a change
    /// committed in between bumps them, so days computed from what is read here are not saved.
    pub async fn day_rollups(
        &self,
        tenant_id: TenantId,
        asset_ids: Vec<AssetId>,
        from: i64,
        to: i64,
    ) -> Result<Vec<StoredDays>> {
        if asset_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        // Per asset: its generation (0 for none), its newest event (ties by seq, then row), and
        // the latest event before that of the other state, found walking the (asset_id, ts)
        // index backwards (a MAX() with this filter would read the asset's whole history).
        let state = tx
            .prepare_cached(
                "SELECT a.k, s.rollup_gen,
                     (SELECT e.ts FROM events e
                      WHERE e.asset_id = a.id AND e.tenant_id = $1 AND e.ts <= n.ts
                        AND e.running <> n.running
                      ORDER BY e.ts DESC LIMIT 1)
                 FROM unnest($2::bigint[]) WITH ORDINALITY AS a(id, k)
                 LEFT JOIN assets s ON s.id = a.id AND s.tenant_id = $1
                 LEFT JOIN LATERAL (
                     SELECT e.ts, e.running FROM events e
                     WHERE e.asset_id = a.id AND e.tenant_id = $1
                     ORDER BY e.ts DESC, COALESCE(e.seq, e.id) DESC LIMIT 1
                 ) n ON true
                 ORDER BY a.k",
            )
            .await?;
        let days = tx
            .prepare_cached(
                "SELECT a.k, d.day_start, d.day_end, d.figures
                 FROM unnest($2::bigint[]) WITH ORDINALITY AS a(id, k)
                 JOIN day_rollups d ON d.asset_id = a.id AND d.tenant_id = $1
                  AND d.day_start >= $3 AND d.day_start < $4 AND d.day_end <= $4",
            )
            .await?;
        let state_params: [&(dyn ToSql + Sync); 2] = [&tenant_id, &asset_ids];
        let day_params: [&(dyn ToSql + Sync); 4] = [&tenant_id, &asset_ids, &from, &to];
        let (state, days) = tokio::try_join!(
            tx.query(&state, &state_params),
            tx.query_raw(&days, day_params),
        )?;
        let mut out: Vec<StoredDays> = state
            .iter()
            .map(|r| StoredDays {
                generation: r.get::<_, Option<i64>>(1).unwrap_or(0),
                settled_until: r.get(2),
                days: Vec::new(),
            })
            .collect();
        // Streamed, and sorted here: a year of 500 assets is 182,500 rows, each asset's (nearly)
        // in order already.
        let mut days = pin!(days);
        while let Some(r) = days.try_next().await? {
            // Written by this module; a row that does not decode is left out and computed again.
            if let Some((figures, reasons)) = decode(r.get(3)) {
                out[ask_index(&r)].days.push(DayRollup {
                    day_start: r.get(1),
                    day_end: r.get(2),
                    figures,
                    reasons,
                });
            }
        }
        tx.commit().await?;
        for stored in &mut out {
            stored.days.sort_unstable_by_key(|d| d.day_start);
        }
        Ok(out)
    }

    /// Stores computed days of several assets in one transaction; an asset's days are dropped
    /// instead when its rollups were invalidated since their `generation` was read.
    ///
    /// SQLite decides this on its one writer; here replicas save and invalidate at once, so the
    /// generations are read `FOR NO KEY UPDATE` (in id order, so two saves cannot deadlock):
    /// an invalidation bumps the generation first (the forget_* functions below), so it either
    /// waits for this save to commit and then deletes what it saved, or has bumped already and
    /// this save waits for it, then reads the new generation and drops the days. NO KEY UPDATE,
    /// not UPDATE: events of the assets (their foreign key takes KEY SHARE) keep arriving.
    pub async fn save_day_rollups(
        &self,
        tenant_id: TenantId,
        assets: Vec<NewDays>,
    ) -> Result<usize> {
        if assets.is_empty() {
            return Ok(0);
        }
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let lock = tx
            .prepare_cached(
                "SELECT id, rollup_gen FROM assets WHERE id = ANY($1) AND tenant_id = $2
                 ORDER BY id FOR NO KEY UPDATE",
            )
            .await?;
        let ids: Vec<AssetId> = assets.iter().map(|a| a.asset_id).collect();
        let current: HashMap<AssetId, i64> = tx
            .query(&lock, &[&ids, &tenant_id])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut saved = 0;
        // One row per (asset, day), the last given winning, as SQLite's INSERT OR REPLACE in
        // turn (one upsert cannot touch a row twice).
        let mut at: HashMap<(AssetId, i64), usize> = HashMap::new();
        let mut rows: Vec<(AssetId, i64, i64, Vec<u8>)> = Vec::new();
        for new in &assets {
            if current.get(&new.asset_id) != Some(&new.generation) {
                continue;
            }
            for d in &new.days {
                let row = (new.asset_id, d.day_start, d.day_end, encode(d));
                match at.entry((new.asset_id, d.day_start)) {
                    Entry::Occupied(i) => rows[*i.get()] = row,
                    Entry::Vacant(slot) => {
                        slot.insert(rows.len());
                        rows.push(row);
                    }
                }
            }
            saved += 1;
        }
        if !rows.is_empty() {
            let insert = tx
                .prepare_cached(
                    "INSERT INTO day_rollups (asset_id, day_start, tenant_id, day_end, figures)
                     SELECT d.asset_id, d.day_start, $1, d.day_end, d.figures
                     FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bytea[])
                         AS d(asset_id, day_start, day_end, figures)
                     ON CONFLICT (asset_id, day_start) DO UPDATE
                     SET tenant_id = excluded.tenant_id, day_end = excluded.day_end,
                         figures = excluded.figures",
                )
                .await?;
            let asset_ids: Vec<AssetId> = rows.iter().map(|r| r.0).collect();
            let starts: Vec<i64> = rows.iter().map(|r| r.1).collect();
            let ends: Vec<i64> = rows.iter().map(|r| r.2).collect();
            let figures: Vec<Vec<u8>> = rows.into_iter().map(|r| r.3).collect();
            tx.execute(&insert, &[&tenant_id, &asset_ids, &starts, &ends, &figures])
                .await?;
        }
        tx.commit().await?;
        Ok(saved)
    }
}

/// The position in the asked assets of a row's `WITH ORDINALITY` number (from 1).
fn ask_index(r: &Row) -> usize {
    usize::try_from(r.get::<_, i64>(0) - 1).expect("an ordinality counts from 1")
}

// The forget_* steps bump the generation before they delete: the bump locks the asset rows, so
// a concurrent `save_day_rollups` either commits first (and the delete, a later statement, sees
// and deletes what it saved) or waits and then finds the generation changed. Several assets are
// locked in id order, as `save_day_rollups` locks them, so the two cannot deadlock.

/// Forgets the asset's days that end after `after` (all with None) and bumps its generation, so
/// a rollup computed before cannot be saved (see store/sqlite/rollups.rs).
pub(super) async fn forget_asset_days(
    tx: &Transaction<'_>,
    asset_id: AssetId,
    after: Option<i64>,
) -> Result<()> {
    let bump = tx
        .prepare_cached("UPDATE assets SET rollup_gen = rollup_gen + 1 WHERE id = $1")
        .await?;
    tx.execute(&bump, &[&asset_id]).await?;
    let delete = tx
        .prepare_cached("DELETE FROM day_rollups WHERE asset_id = $1 AND day_end > $2")
        .await?;
    tx.execute(&delete, &[&asset_id, &after.unwrap_or(i64::MIN)])
        .await?;
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
    let bump = tx
        .prepare_cached(
            "WITH locked AS MATERIALIZED (
                 SELECT id FROM assets WHERE logger_row = $1 ORDER BY id FOR NO KEY UPDATE
             )
             UPDATE assets SET rollup_gen = rollup_gen + 1 FROM locked WHERE assets.id = locked.id",
        )
        .await?;
    tx.execute(&bump, &[&logger_row]).await?;
    let delete = tx
        .prepare_cached(
            "DELETE FROM day_rollups WHERE day_end > $2
             AND asset_id IN (SELECT id FROM assets WHERE logger_row = $1)",
        )
        .await?;
    tx.execute(&delete, &[&logger_row, &after]).await?;
    Ok(())
}

/// Forgets every day of a tenant (its settings, calendar, planned downtime or reasons changed).
pub(super) async fn forget_tenant_days(tx: &Transaction<'_>, tenant_id: TenantId) -> Result<()> {
    let bump = tx
        .prepare_cached(
            "WITH locked AS MATERIALIZED (
                 SELECT id FROM assets WHERE tenant_id = $1 ORDER BY id FOR NO KEY UPDATE
             )
             UPDATE assets SET rollup_gen = rollup_gen + 1 FROM locked WHERE assets.id = locked.id",
        )
        .await?;
    tx.execute(&bump, &[&tenant_id]).await?;
    let delete = tx
        .prepare_cached("DELETE FROM day_rollups WHERE tenant_id = $1")
        .await?;
    tx.execute(&delete, &[&tenant_id]).await?;
    Ok(())
}
