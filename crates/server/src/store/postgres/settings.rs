//! Time zone, shifts, planned downtime, reasons, stop notes, and the histories analytics reads
//! (the rules are SQLite's, store/sqlite/settings.rs).

use std::pin::pin;

use deadpool_postgres::Transaction;
use futures_util::TryStreamExt;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::super::{
    BackendError, HistoryAsk, HistoryRows, PlannedDowntime, Reason, Result, Settings,
    SettingsChange, StopPart, StoreError, Unique, now_ms, target_of, weekly_of,
};
use super::rollups::{forget_asset_days, forget_tenant_days};
use super::{Pg, Scope};
use crate::calendar::{Calendars, Weekly};
use crate::domain::{AssetId, TenantId};

/// A row the schema promises (the tenant of a signed-in user): missing, it is the database's
/// fault, as SQLite's `query_row` has it, not the database being away.
fn promised(row: Option<Row>, what: &str) -> Result<Row> {
    row.ok_or_else(|| StoreError::Database(BackendError::from(format!("{what}: no row"))))
}

async fn asset_in_tenant(
    tx: &Transaction<'_>,
    tenant_id: TenantId,
    asset_id: AssetId,
) -> Result<()> {
    let stmt = tx
        .prepare_cached("SELECT 1 FROM assets WHERE id = $1 AND tenant_id = $2")
        .await?;
    tx.query_opt(&stmt, &[&asset_id, &tenant_id])
        .await?
        .map(drop)
        .ok_or(StoreError::NotFound)
}

/// [`asset_in_tenant`], keeping the asset row locked until commit: a note changes what the
/// asset's rollups may hold, so it queues with the rollup saves and invalidations of that asset
/// (which lock the same row, see rollups.rs). NO KEY UPDATE, not UPDATE: events keep arriving
/// meanwhile (their foreign key takes only KEY SHARE).
async fn lock_asset_in_tenant(
    tx: &Transaction<'_>,
    tenant_id: TenantId,
    asset_id: AssetId,
) -> Result<()> {
    let stmt = tx
        .prepare_cached("SELECT 1 FROM assets WHERE id = $1 AND tenant_id = $2 FOR NO KEY UPDATE")
        .await?;
    tx.query_opt(&stmt, &[&asset_id, &tenant_id])
        .await?
        .map(drop)
        .ok_or(StoreError::NotFound)
}

/// The reason is the tenant's, and stays until commit: KEY SHARE holds back a `delete_reason`
/// that has not deleted it yet (it deletes after our commit, and the note's reason becomes NULL
/// by the foreign key); one that deleted it already leaves no row here.
async fn reason_in_tenant(tx: &Transaction<'_>, tenant_id: TenantId, reason_id: i64) -> Result<()> {
    let stmt = tx
        .prepare_cached("SELECT 1 FROM reasons WHERE id = $1 AND tenant_id = $2 FOR KEY SHARE")
        .await?;
    tx.query_opt(&stmt, &[&reason_id, &tenant_id])
        .await?
        .map(drop)
        .ok_or_else(|| StoreError::Conflict("no such downtime reason in this tenant".into()))
}

fn stop_part(r: &Row, at: usize) -> StopPart {
    StopPart {
        asset_id: r.get(at),
        stop_start: r.get(at + 1),
        part_start: r.get(at + 2),
        reason_id: r.get(at + 3),
        comment: r.get(at + 4),
    }
}

fn planned(r: &Row) -> PlannedDowntime {
    PlannedDowntime {
        id: r.get(0),
        asset_id: r.get(1),
        from: r.get(2),
        to: r.get(3),
        note: r.get(4),
        weekly: weekly_of(r.get(5)),
    }
}

fn reason(r: &Row) -> Reason {
    Reason {
        id: r.get(0),
        category: r.get(1),
        name: r.get(2),
    }
}

impl Pg {
    pub async fn settings(&self, tenant_id: TenantId) -> Result<Settings> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT timezone, short_stop_threshold_s, retention_days, target_bp
                 FROM tenants WHERE id = $1",
            )
            .await?;
        let row = promised(tx.query_opt(&stmt, &[&tenant_id]).await?, "settings")?;
        tx.commit().await?;
        Ok(Settings {
            timezone: row.get(0),
            short_stop_threshold_s: row.get(1),
            retention_days: row.get(2),
            target_availability: target_of(row.get(3)),
        })
    }

    /// Changes what is given; `retention_days: Some(None)` keeps the history forever again.
    pub async fn update_settings(&self, tenant_id: TenantId, change: SettingsChange) -> Result<()> {
        let SettingsChange {
            timezone,
            threshold_s,
            retention_days,
            target_bp,
        } = change;
        // The retention and the target shape no figure: a change of them keeps the cached days.
        let reshapes = timezone.is_some() || threshold_s.is_some();
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "UPDATE tenants SET timezone = COALESCE($1, timezone),
                 short_stop_threshold_s = COALESCE($2, short_stop_threshold_s),
                 retention_days = CASE WHEN $3 THEN $4 ELSE retention_days END,
                 target_bp = CASE WHEN $5 THEN $6 ELSE target_bp END
                 WHERE id = $7",
            )
            .await?;
        let (set_retention, retention) = (retention_days.is_some(), retention_days.flatten());
        tx.execute(
            &stmt,
            &[
                &timezone,
                &threshold_s,
                &set_retention,
                &retention,
                &target_bp.is_some(),
                &target_bp.flatten(),
                &tenant_id,
            ],
        )
        .await?;
        if reshapes {
            forget_tenant_days(&tx, tenant_id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The tenant's shift calendars, each from its first day on, as checked when they were set.
    pub async fn shifts(&self, tenant_id: TenantId) -> Result<Calendars> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached("SELECT shifts FROM tenants WHERE id = $1")
            .await?;
        let stored: String = promised(tx.query_opt(&stmt, &[&tenant_id]).await?, "shifts")?.get(0);
        tx.commit().await?;
        Calendars::from_stored(&stored).map_err(|e| {
            StoreError::Database(BackendError::from(format!(
                "tenant {tenant_id}'s stored calendar does not read: {e}"
            )))
        })
    }

    pub async fn set_shifts(&self, tenant_id: TenantId, calendars: Calendars) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached("UPDATE tenants SET shifts = $1 WHERE id = $2")
            .await?;
        tx.execute(&stmt, &[&calendars.to_stored(), &tenant_id])
            .await?;
        forget_tenant_days(&tx, tenant_id).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn add_planned_downtime(
        &self,
        tenant_id: TenantId,
        asset_id: Option<AssetId>,
        (from, to): (i64, i64),
        note: String,
        weekly: Option<Weekly>,
    ) -> Result<PlannedDowntime> {
        let stored = weekly
            .as_ref()
            .map(|w| serde_json::to_string(w).expect("a rule serializes"));
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        if let Some(a) = asset_id {
            asset_in_tenant(&tx, tenant_id, a).await?;
        }
        let stmt = tx
            .prepare_cached(
                "INSERT INTO planned_downtime (tenant_id, asset_id, start_ms, end_ms, note, created_at, weekly)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .await?;
        let id: i64 = tx
            .query_one(
                &stmt,
                &[&tenant_id, &asset_id, &from, &to, &note, &now_ms(), &stored],
            )
            .await?
            .get(0);
        forget_tenant_days(&tx, tenant_id).await?;
        tx.commit().await?;
        Ok(PlannedDowntime {
            id,
            asset_id,
            from,
            to,
            note,
            weekly,
        })
    }

    /// Planned downtime of the tenant overlapping `[from, to)` (all of it when both are None).
    pub async fn planned_downtime(
        &self,
        tenant_id: TenantId,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Vec<PlannedDowntime>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT id, asset_id, start_ms, end_ms, note, weekly FROM planned_downtime
                 WHERE tenant_id = $1 AND ($2::bigint IS NULL OR end_ms > $2)
                   AND ($3::bigint IS NULL OR start_ms < $3)
                 ORDER BY start_ms, id",
            )
            .await?;
        let rows = tx.query(&stmt, &[&tenant_id, &from, &to]).await?;
        tx.commit().await?;
        Ok(rows.iter().map(planned).collect())
    }

    pub async fn delete_planned_downtime(&self, tenant_id: TenantId, id: i64) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached("DELETE FROM planned_downtime WHERE id = $1 AND tenant_id = $2")
            .await?;
        if tx.execute(&stmt, &[&id, &tenant_id]).await? == 0 {
            return Err(StoreError::NotFound);
        }
        forget_tenant_days(&tx, tenant_id).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn reasons(&self, tenant_id: TenantId) -> Result<Vec<Reason>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        // SQLite compares text by its bytes; "C" does so here too, whatever the database's locale.
        let stmt = tx
            .prepare_cached(
                "SELECT id, category, name FROM reasons WHERE tenant_id = $1
                 ORDER BY category COLLATE \"C\", name COLLATE \"C\"",
            )
            .await?;
        let rows = tx.query(&stmt, &[&tenant_id]).await?;
        tx.commit().await?;
        Ok(rows.iter().map(reason).collect())
    }

    pub async fn add_reason(
        &self,
        tenant_id: TenantId,
        category: String,
        name: String,
    ) -> Result<Reason> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO reasons (tenant_id, category, name) VALUES ($1, $2, $3) RETURNING id",
            )
            .await?;
        let id: i64 = tx
            .query_one(&stmt, &[&tenant_id, &category, &name])
            .await
            .map_err(|e| super::on_unique(e, Unique::ReasonName))?
            .get(0);
        tx.commit().await?;
        Ok(Reason { id, category, name })
    }

    pub async fn update_reason(
        &self,
        tenant_id: TenantId,
        id: i64,
        category: Option<String>,
        name: Option<String>,
    ) -> Result<Reason> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "UPDATE reasons SET category = COALESCE($1, category), name = COALESCE($2, name)
                 WHERE id = $3 AND tenant_id = $4 RETURNING id, category, name",
            )
            .await?;
        let row = tx
            .query_opt(&stmt, &[&category, &name, &id, &tenant_id])
            .await
            .map_err(|e| super::on_unique(e, Unique::ReasonName))?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(reason(&row))
    }

    /// Deletes a reason; stops that had it become unassigned.
    pub async fn delete_reason(&self, tenant_id: TenantId, id: i64) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let unassign = tx
            .prepare_cached(
                "UPDATE stop_parts SET reason_id = NULL WHERE reason_id = $1 AND tenant_id = $2",
            )
            .await?;
        tx.execute(&unassign, &[&id, &tenant_id]).await?;
        let delete = tx
            .prepare_cached("DELETE FROM reasons WHERE id = $1 AND tenant_id = $2")
            .await?;
        if tx.execute(&delete, &[&id, &tenant_id]).await? == 0 {
            return Err(StoreError::NotFound);
        }
        forget_tenant_days(&tx, tenant_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Notes on the asset's stops that start in `[from, to)`.
    pub async fn stop_parts(
        &self,
        tenant_id: TenantId,
        asset_id: AssetId,
        from: i64,
        to: i64,
    ) -> Result<Vec<StopPart>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT asset_id, stop_start, part_start, reason_id, comment FROM stop_parts
                 WHERE tenant_id = $1 AND asset_id = $2 AND stop_start >= $3 AND stop_start < $4
                 ORDER BY stop_start, part_start",
            )
            .await?;
        let rows = tx
            .query(&stmt, &[&tenant_id, &asset_id, &from, &to])
            .await?;
        tx.commit().await?;
        Ok(rows.iter().map(|r| stop_part(r, 0)).collect())
    }

    /// Sets the reason and comment of one part of a stop (the part starting at `part_start`).
    /// The asset row stays locked to commit ([`lock_asset_in_tenant`]), the reason held
    /// ([`reason_in_tenant`]); the upsert itself is atomic.
    pub async fn annotate_stop(&self, tenant_id: TenantId, part: StopPart) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        lock_asset_in_tenant(&tx, tenant_id, part.asset_id).await?;
        if let Some(r) = part.reason_id {
            reason_in_tenant(&tx, tenant_id, r).await?;
        }
        let stmt = tx
            .prepare_cached(
                "INSERT INTO stop_parts (tenant_id, asset_id, stop_start, part_start, reason_id, comment, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (asset_id, stop_start, part_start) DO UPDATE
                 SET reason_id = excluded.reason_id, comment = excluded.comment, updated_at = excluded.updated_at",
            )
            .await?;
        tx.execute(
            &stmt,
            &[
                &tenant_id,
                &part.asset_id,
                &part.stop_start,
                &part.part_start,
                &part.reason_id,
                &part.comment,
                &now_ms(),
            ],
        )
        .await?;
        forget_asset_days(&tx, part.asset_id, Some(part.stop_start)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Splits a stop at `at`: a new part starts there, with no reason yet. The part it cuts
    /// keeps its reason; a split at an existing part start changes nothing. Two splits of one
    /// stop at once queue on the asset row ([`lock_asset_in_tenant`]).
    pub async fn split_stop(
        &self,
        tenant_id: TenantId,
        asset_id: AssetId,
        stop_start: i64,
        at: i64,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        lock_asset_in_tenant(&tx, tenant_id, asset_id).await?;
        // The first part exists implicitly; make it explicit so the new part has a sibling.
        let stmt = tx
            .prepare_cached(
                "INSERT INTO stop_parts (tenant_id, asset_id, stop_start, part_start, updated_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .await?;
        let now = now_ms();
        tx.execute(
            &stmt,
            &[&tenant_id, &asset_id, &stop_start, &stop_start, &now],
        )
        .await?;
        tx.execute(&stmt, &[&tenant_id, &asset_id, &stop_start, &at, &now])
            .await?;
        forget_asset_days(&tx, asset_id, Some(stop_start)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What the figures of each asked asset and window are computed from, in the order asked.
    /// One transaction for all the asks, and a statement for all of them per kind of row
    /// (events; then offline spans and notes, which start where the events do), not one per
    /// window: a year of 500 assets has 1,000 edge-day windows.
    pub async fn histories(
        &self,
        tenant_id: TenantId,
        asks: Vec<HistoryAsk>,
        now: i64,
    ) -> Result<Vec<HistoryRows>> {
        if asks.is_empty() {
            return Ok(Vec::new());
        }
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let mut out = history_events(&tx, tenant_id, &asks).await?;
        // From the first of the events (or the window's start), as SQLite's `history_rows`.
        let since: Vec<i64> = asks
            .iter()
            .zip(&out)
            .map(|(ask, rows)| rows.events.first().map_or(ask.from, |e| e.0.min(ask.from)))
            .collect();
        let (offline, parts) = tokio::try_join!(
            history_offline(&tx, &asks, &since, now),
            history_parts(&tx, tenant_id, &asks, &since),
        )?;
        for (k, span) in offline {
            out[k].offline.push(span);
        }
        for (k, part) in parts {
            out[k].parts.push(part);
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// The position in the asks of a row's `WITH ORDINALITY` number (from 1).
fn ask_index(r: &Row) -> usize {
    usize::try_from(r.get::<_, i64>(0) - 1).expect("an ordinality counts from 1")
}

/// One event of an ask as the query gives it: its part of the window (before, inside, after),
/// time, row id, seq (or row id), state.
type PartEvent = (i16, i64, i64, i64, bool);

/// The events of each ask's [`HistoryRows::events`] (SQLite's `analytics_events`: before the
/// window back to its last RUNNING event, or the last one when none ran; inside; after it up to
/// the first RUNNING one), streamed: a year of many assets is millions of rows. The bounds are
/// found once per ask, in a materialized CTE: inline, PostgreSQL checked them per event.
async fn history_events(
    tx: &Transaction<'_>,
    tenant_id: TenantId,
    asks: &[HistoryAsk],
) -> Result<Vec<HistoryRows>> {
    let stmt = tx
        .prepare_cached(
            "WITH ask AS MATERIALIZED (
                 SELECT a.*,
                     COALESCE(
                         (SELECT p.ts FROM events p
                          WHERE p.asset_id = a.asset_id AND p.tenant_id = $1 AND p.ts < a.lo
                            AND p.running
                          ORDER BY p.ts DESC LIMIT 1),
                         (SELECT MAX(p.ts) FROM events p
                          WHERE p.asset_id = a.asset_id AND p.tenant_id = $1 AND p.ts < a.lo))
                         AS since,
                     COALESCE(
                         (SELECT MIN(p.ts) FROM events p
                          WHERE p.asset_id = a.asset_id AND p.tenant_id = $1 AND p.ts >= a.hi
                            AND p.running),
                         a.hi) AS until
                 FROM unnest($2::bigint[], $3::bigint[], $4::bigint[])
                     WITH ORDINALITY AS a(asset_id, lo, hi, k)
             )
             SELECT a.k, 0::smallint, e.ts, e.id, e.seq_or_id, e.running
             FROM ask a
             CROSS JOIN LATERAL (
                 SELECT ts, id, COALESCE(seq, id) AS seq_or_id, running FROM events
                 WHERE asset_id = a.asset_id AND tenant_id = $1 AND ts >= a.since AND ts < a.lo
             ) e
             UNION ALL
             SELECT a.k, 1::smallint, e.ts, e.id, e.seq_or_id, e.running
             FROM ask a
             CROSS JOIN LATERAL (
                 SELECT ts, id, COALESCE(seq, id) AS seq_or_id, running FROM events
                 WHERE asset_id = a.asset_id AND tenant_id = $1 AND ts >= a.lo AND ts < a.hi
             ) e
             UNION ALL
             SELECT a.k, 2::smallint, e.ts, e.id, e.seq_or_id, e.running
             FROM ask a
             CROSS JOIN LATERAL (
                 SELECT ts, id, COALESCE(seq, id) AS seq_or_id, running FROM events
                 WHERE asset_id = a.asset_id AND tenant_id = $1 AND ts >= a.hi AND ts <= a.until
             ) e",
        )
        .await?;
    let asset_ids: Vec<AssetId> = asks.iter().map(|a| a.asset_id).collect();
    let from: Vec<i64> = asks.iter().map(|a| a.from).collect();
    let to: Vec<i64> = asks.iter().map(|a| a.to).collect();
    let params: [&(dyn ToSql + Sync); 4] = [&tenant_id, &asset_ids, &from, &to];
    let mut rows = pin!(tx.query_raw(&stmt, params).await?);
    // Sorted here, not by the database: each ask's rows arrive (nearly) in order already.
    let mut keyed: Vec<Vec<PartEvent>> = vec![Vec::new(); asks.len()];
    while let Some(r) = rows.try_next().await? {
        keyed[ask_index(&r)].push((r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)));
    }
    Ok(keyed
        .into_iter()
        .map(|mut events| {
            // As SQLite gives them: the part (before, inside, after), then time; ties by row.
            events.sort_unstable_by_key(|&(part, ts, id, _, _)| (part, ts, id));
            HistoryRows {
                events: events
                    .into_iter()
                    .map(|(_, ts, _, seq, running)| (ts, seq, running))
                    .collect(),
                ..HistoryRows::default()
            }
        })
        .collect())
}

/// Each ask's logger's offline spans overlapping `[since, max(to, now))`; an open span ends at
/// `now`.
async fn history_offline(
    tx: &Transaction<'_>,
    asks: &[HistoryAsk],
    since: &[i64],
    now: i64,
) -> Result<Vec<(usize, (i64, i64))>> {
    // No tenant column: the logger's row-level security walls it (as SQLite, by logger alone).
    let stmt = tx
        .prepare_cached(
            "SELECT a.k, o.start_ms, o.end_ms
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])
                 WITH ORDINALITY AS a(logger_row, lo, hi, k)
             CROSS JOIN LATERAL (
                 SELECT id, start_ms, COALESCE(end_ms, $4) AS end_ms FROM logger_offline
                 WHERE logger_row = a.logger_row AND start_ms < a.hi AND COALESCE(end_ms, $4) > a.lo
             ) o
             ORDER BY a.k, o.start_ms, o.id",
        )
        .await?;
    let loggers: Vec<_> = asks.iter().map(|a| a.logger_row).collect();
    let until: Vec<i64> = asks.iter().map(|a| now.max(a.to)).collect();
    let rows = tx.query(&stmt, &[&loggers, &since, &until, &now]).await?;
    Ok(rows
        .iter()
        .map(|r| (ask_index(r), (r.get(1), r.get(2))))
        .collect())
}

/// The notes on each ask's asset's stops that start in `[since, to)`.
async fn history_parts(
    tx: &Transaction<'_>,
    tenant_id: TenantId,
    asks: &[HistoryAsk],
    since: &[i64],
) -> Result<Vec<(usize, StopPart)>> {
    let stmt = tx
        .prepare_cached(
            "SELECT a.k, s.asset_id, s.stop_start, s.part_start, s.reason_id, s.comment
             FROM unnest($2::bigint[], $3::bigint[], $4::bigint[])
                 WITH ORDINALITY AS a(asset_id, lo, hi, k)
             CROSS JOIN LATERAL (
                 SELECT asset_id, stop_start, part_start, reason_id, comment FROM stop_parts
                 WHERE tenant_id = $1 AND asset_id = a.asset_id
                   AND stop_start >= a.lo AND stop_start < a.hi
             ) s
             ORDER BY a.k, s.stop_start, s.part_start",
        )
        .await?;
    let asset_ids: Vec<AssetId> = asks.iter().map(|a| a.asset_id).collect();
    let to: Vec<i64> = asks.iter().map(|a| a.to).collect();
    let rows = tx
        .query(&stmt, &[&tenant_id, &asset_ids, &since, &to])
        .await?;
    Ok(rows
        .iter()
        .map(|r| (ask_index(r), stop_part(r, 1)))
        .collect())
}

#[cfg(test)]
mod tests {
    //! Against a real PostgreSQL (`ASSETLOG_TEST_DATABASE_URL`; skipped when unset), in a fresh
    //! database per test. Rows are set up with plain SQL in System scope: ingest is not here yet.

    use std::future::Future;
    use std::panic::AssertUnwindSafe;

    use assetlog_core::kpi::Figures;
    use futures_util::FutureExt;
    use tokio_postgres::{Client, NoTls};

    use super::super::super::{DayRollup, NewDays};
    use super::super::Options;
    use super::*;
    use crate::calendar::Calendar;
    use crate::domain::LoggerRow;

    const A: TenantId = TenantId(1);
    const B: TenantId = TenantId(2);
    const PRESS: AssetId = AssetId(1);
    const LATHE: AssetId = AssetId(2);
    const DRILL: AssetId = AssetId(3);
    const NOW: i64 = 20_000;

    /// Two tenants with a logger each; tenant A's logger has PRESS and DRILL, B's has LATHE.
    /// PRESS ran at 1000, stopped at 2000 (and again at 3000), ran 6000 to 8000, stopped
    /// 11000, ran 12000, stopped 13000; DRILL only ever stopped. A's logger was offline
    /// 500..700 and is again since 9000.
    const ROWS: &str = "
        INSERT INTO tenants (id, name, created_at) VALUES (1, 'A', 0), (2, 'B', 0);
        INSERT INTO loggers (id, logger_id, tenant_id, name, key_hash, claim_code, created_at)
            VALUES (1, 'aa', 1, 'a', '', '', 0), (2, 'bb', 2, 'b', '', '', 0);
        INSERT INTO assets (id, logger_row, tenant_id, pin, name)
            VALUES (1, 1, 1, 0, 'press'), (2, 2, 2, 0, 'lathe'), (3, 1, 1, 1, 'drill');
        INSERT INTO events (id, tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq)
            VALUES (1, 1, 1, 1, 0, true, 1000, 0, 1), (2, 1, 1, 1, 0, false, 2000, 0, 2),
                   (3, 1, 1, 1, 0, false, 3000, 0, 3), (4, 1, 1, 1, 0, true, 6000, 0, 4),
                   (5, 1, 1, 1, 0, false, 8000, 0, 5), (6, 1, 1, 1, 0, false, 11000, 0, 6),
                   (7, 1, 1, 1, 0, true, 12000, 0, 7), (8, 1, 1, 1, 0, false, 13000, 0, 8),
                   (9, 1, 1, 3, 1, false, 100, 0, NULL), (10, 1, 1, 3, 1, false, 200, 0, NULL),
                   (11, 1, 1, 3, 1, false, 400, 0, NULL),
                   (12, 2, 2, 2, 0, true, 5000, 0, 1);
        INSERT INTO logger_offline (logger_row, start_ms, end_ms)
            VALUES (1, 500, 700), (1, 9000, NULL), (2, 100, NULL);
    ";

    /// Runs `body` with a backend on a fresh database holding [`ROWS`], and drops the database
    /// after, whatever happened.
    async fn with_database<F, Fut>(body: F)
    where
        F: FnOnce(Pg) -> Fut,
        Fut: Future<Output = ()>,
    {
        let Ok(url) = std::env::var("ASSETLOG_TEST_DATABASE_URL") else {
            return;
        };
        let (admin, conn) = tokio_postgres::connect(&url, NoTls)
            .await
            .expect("connect to the test server");
        tokio::spawn(conn);
        let name = format!("assetlog_u_{:016x}", rand::random::<u64>());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        let url = format!(
            "{}/{name}",
            url.rsplit_once('/').expect("a URL with a path").0
        );
        let outcome = AssertUnwindSafe(async {
            let pg = Pg::connect(&url, Options::default())
                .await
                .expect("connect");
            let (mut raw, conn) = tokio_postgres::connect(&url, NoTls).await.expect("raw");
            tokio::spawn(conn);
            system(&mut raw, ROWS).await;
            body(pg.clone()).await;
            pg.close().await;
        })
        .catch_unwind()
        .await;
        // FORCE waits a few seconds for the backends it ends; on a busy machine one may outlive
        // that, and the next try finds it gone.
        let drop = format!("DROP DATABASE {name} WITH (FORCE)");
        let mut tries = 0;
        while let Err(e) = admin.batch_execute(&drop).await {
            tries += 1;
            assert!(tries < 5, "cannot drop the test database {name}: {e}");
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    async fn system(raw: &mut Client, sql: &str) {
        let tx = raw.transaction().await.expect("begin");
        tx.batch_execute("SET LOCAL assetlog.system = 'on'")
            .await
            .expect("system scope");
        tx.batch_execute(sql).await.expect("set-up rows");
        tx.commit().await.expect("commit");
    }

    fn ask(asset_id: AssetId, from: i64, to: i64) -> HistoryAsk {
        HistoryAsk {
            asset_id,
            logger_row: LoggerRow(if asset_id == LATHE { 2 } else { 1 }),
            from,
            to,
        }
    }

    fn times(rows: &HistoryRows) -> Vec<i64> {
        rows.events.iter().map(|e| e.0).collect()
    }

    fn day(day_start: i64, day_end: i64) -> DayRollup {
        DayRollup {
            day_start,
            day_end,
            figures: Figures::from_parts(day_end - day_start, 0, 0, 0, 0, 0),
            reasons: vec![(None, 1, 10), (Some(7), 2, 20)],
        }
    }

    #[tokio::test]
    async fn settings_shifts_downtime_and_reasons_as_sqlite_has_them() {
        with_database(|pg| async move {
            let s = pg.settings(A).await.unwrap();
            assert_eq!(
                (s.timezone.as_str(), s.short_stop_threshold_s),
                ("UTC", 300)
            );
            pg.update_settings(
                A,
                SettingsChange {
                    timezone: Some("Europe/Berlin".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            let s = pg.settings(A).await.unwrap();
            assert_eq!(
                (s.timezone.as_str(), s.short_stop_threshold_s),
                ("Europe/Berlin", 300)
            );
            pg.update_settings(
                A,
                SettingsChange {
                    threshold_s: Some(60),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            assert_eq!(pg.settings(A).await.unwrap().short_stop_threshold_s, 60);
            assert_eq!(pg.settings(B).await.unwrap().timezone, "UTC");
            assert_eq!(pg.settings(A).await.unwrap().retention_days, None);
            pg.update_settings(
                A,
                SettingsChange {
                    retention_days: Some(Some(30)),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            assert_eq!(pg.settings(A).await.unwrap().retention_days, Some(30));
            pg.update_settings(
                A,
                SettingsChange {
                    threshold_s: Some(61),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            assert_eq!(pg.settings(A).await.unwrap().retention_days, Some(30));
            assert_eq!(pg.retentions().await.unwrap(), [(A, 30)]);
            pg.update_settings(
                A,
                SettingsChange {
                    threshold_s: Some(60),
                    retention_days: Some(None),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            assert_eq!(pg.settings(A).await.unwrap().retention_days, None);
            assert!(pg.retentions().await.unwrap().is_empty());

            assert_eq!(pg.shifts(A).await.unwrap(), Calendars::default());
            let calendar = Calendar::from_stored(
                r#"[{"name":"Early","days":["mon"],"start":"06:00","end":"14:00","breaks":[]}]"#,
            )
            .unwrap();
            let calendars = Calendars::default()
                .applying_from("2026-12-07".parse().unwrap(), calendar)
                .unwrap();
            pg.set_shifts(A, calendars.clone()).await.unwrap();
            assert_eq!(pg.shifts(A).await.unwrap(), calendars);
            assert_eq!(pg.shifts(B).await.unwrap(), Calendars::default());

            let all = pg
                .add_planned_downtime(A, None, (1000, 2000), "lunch".into(), None)
                .await
                .unwrap();
            let press = pg
                .add_planned_downtime(A, Some(PRESS), (5000, 6000), "service".into(), None)
                .await
                .unwrap();
            assert!(matches!(
                pg.add_planned_downtime(A, Some(LATHE), (1, 2), "not ours".into(), None)
                    .await,
                Err(StoreError::NotFound)
            ));
            let ids = |v: Vec<PlannedDowntime>| v.iter().map(|p| p.id).collect::<Vec<_>>();
            assert_eq!(
                ids(pg.planned_downtime(A, None, None).await.unwrap()),
                [all.id, press.id]
            );
            assert_eq!(
                ids(pg.planned_downtime(A, Some(2000), None).await.unwrap()),
                [press.id]
            );
            assert_eq!(
                ids(pg.planned_downtime(A, None, Some(5000)).await.unwrap()),
                [all.id]
            );
            assert_eq!(
                pg.planned_downtime(A, None, None).await.unwrap()[1].asset_id,
                Some(PRESS)
            );
            assert!(pg.planned_downtime(B, None, None).await.unwrap().is_empty());
            assert!(matches!(
                pg.delete_planned_downtime(B, all.id).await,
                Err(StoreError::NotFound)
            ));
            pg.delete_planned_downtime(A, all.id).await.unwrap();
            assert!(matches!(
                pg.delete_planned_downtime(A, all.id).await,
                Err(StoreError::NotFound)
            ));

            let belt = pg
                .add_reason(A, "Mechanical".into(), "belt".into())
                .await
                .unwrap();
            let fuse = pg
                .add_reason(A, "Electrical".into(), "fuse".into())
                .await
                .unwrap();
            let low = pg
                .add_reason(A, "mechanical".into(), "belt".into())
                .await
                .unwrap();
            // The same name in B is B's own.
            pg.add_reason(B, "Mechanical".into(), "belt".into())
                .await
                .unwrap();
            let taken = "that reason exists already in that category";
            match pg.add_reason(A, "Mechanical".into(), "belt".into()).await {
                Err(StoreError::Conflict(m)) => assert_eq!(m, taken),
                other => panic!("a duplicate reason: {other:?}"),
            }
            match pg
                .update_reason(A, fuse.id, Some("Mechanical".into()), Some("belt".into()))
                .await
            {
                Err(StoreError::Conflict(m)) => assert_eq!(m, taken),
                other => panic!("a rename onto another reason: {other:?}"),
            }
            // Ordered by bytes, as SQLite does: upper case before lower case.
            let names = |v: Vec<Reason>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
            assert_eq!(
                names(pg.reasons(A).await.unwrap()),
                [fuse.id, belt.id, low.id]
            );
            let renamed = pg
                .update_reason(A, fuse.id, None, Some("breaker".into()))
                .await
                .unwrap();
            assert_eq!(
                (renamed.id, renamed.category.as_str(), renamed.name.as_str()),
                (fuse.id, "Electrical", "breaker")
            );
            assert!(matches!(
                pg.update_reason(B, fuse.id, None, Some("x".into())).await,
                Err(StoreError::NotFound)
            ));
            assert!(matches!(
                pg.delete_reason(B, fuse.id).await,
                Err(StoreError::NotFound)
            ));
            pg.delete_reason(A, fuse.id).await.unwrap();
            assert!(matches!(
                pg.delete_reason(A, fuse.id).await,
                Err(StoreError::NotFound)
            ));
            assert_eq!(pg.reasons(B).await.unwrap().len(), 1);
        })
        .await;
    }

    #[tokio::test]
    async fn stop_notes_and_histories_as_sqlite_reads_them() {
        with_database(|pg| async move {
            let belt = pg
                .add_reason(A, "Mechanical".into(), "belt".into())
                .await
                .unwrap();
            let theirs = pg
                .add_reason(B, "Mechanical".into(), "belt".into())
                .await
                .unwrap();
            // The stop 8000..12000, split at 9000; the second part has a reason.
            pg.split_stop(A, PRESS, 8000, 9000).await.unwrap();
            pg.split_stop(A, PRESS, 8000, 9000).await.unwrap();
            let part = |reason_id, comment: &str| StopPart {
                asset_id: PRESS,
                stop_start: 8000,
                part_start: 9000,
                reason_id,
                comment: comment.into(),
            };
            pg.annotate_stop(A, part(Some(belt.id), "jam"))
                .await
                .unwrap();
            assert!(matches!(
                pg.annotate_stop(A, part(Some(theirs.id), "x")).await,
                Err(StoreError::Conflict(_))
            ));
            assert!(matches!(
                pg.annotate_stop(B, part(None, "x")).await,
                Err(StoreError::NotFound)
            ));
            assert!(matches!(
                pg.split_stop(B, PRESS, 8000, 8500).await,
                Err(StoreError::NotFound)
            ));
            let parts = pg.stop_parts(A, PRESS, 0, 10_000).await.unwrap();
            let seen: Vec<_> = parts
                .iter()
                .map(|p| (p.stop_start, p.part_start, p.reason_id, p.comment.as_str()))
                .collect();
            assert_eq!(
                seen,
                [(8000, 8000, None, ""), (8000, 9000, Some(belt.id), "jam")]
            );
            assert!(
                pg.stop_parts(A, PRESS, 8001, 10_000)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(pg.stop_parts(B, PRESS, 0, 10_000).await.unwrap().is_empty());

            let asks = vec![
                // Starts in a stop: back to the last RUNNING event (1000); after it, up to the
                // first RUNNING one (12000).
                ask(PRESS, 5000, 10_000),
                // Starts running: from 1000; after it up to 6000.
                ask(PRESS, 1500, 1800),
                // Never ran: the last event before, and one exactly at the end.
                ask(DRILL, 300, 400),
                // Nothing before the first event.
                ask(PRESS, 0, 500),
                // Not the tenant's.
                ask(LATHE, 0, 10_000),
            ];
            let rows = pg.histories(A, asks.clone(), NOW).await.unwrap();
            assert_eq!(rows.len(), 5);
            assert_eq!(
                times(&rows[0]),
                [1000, 2000, 3000, 6000, 8000, 11_000, 12_000]
            );
            assert_eq!(rows[0].events[0], (1000, 1, true));
            // Open since 9000: ends now; 500..700 ends before the events start.
            assert_eq!(rows[0].offline, [(9000, NOW)]);
            assert_eq!(rows[0].parts.len(), 2);
            assert_eq!(rows[0].parts[1].reason_id, Some(belt.id));
            assert_eq!(times(&rows[1]), [1000, 2000, 3000, 6000]);
            assert_eq!(rows[1].offline, [(9000, NOW)]);
            assert!(rows[1].parts.is_empty());
            assert_eq!(times(&rows[2]), [200, 400]);
            // Unnumbered events: their row id stands for the seq.
            assert_eq!(rows[2].events[0], (200, 10, false));
            // From its first event (200) on: both spans.
            assert_eq!(rows[2].offline, [(500, 700), (9000, NOW)]);
            assert_eq!(times(&rows[3]), [1000]);
            assert_eq!(rows[3].offline, [(500, 700), (9000, NOW)]);
            assert!(rows[4].events.is_empty() && rows[4].offline.is_empty());
            // B sees nothing of A's, and its own lathe.
            let theirs = pg.histories(B, asks.clone(), NOW).await.unwrap();
            assert!(
                theirs[..4]
                    .iter()
                    .all(|r| r.events.is_empty() && r.offline.is_empty() && r.parts.is_empty())
            );
            assert_eq!(times(&theirs[4]), [5000]);
            assert_eq!(theirs[4].offline, [(100, NOW)]);

            // Deleting the reason unassigns the part.
            pg.delete_reason(A, belt.id).await.unwrap();
            let parts = pg.stop_parts(A, PRESS, 0, 10_000).await.unwrap();
            assert_eq!(
                (parts[1].reason_id, parts[1].comment.as_str()),
                (None, "jam")
            );
        })
        .await;
    }

    #[tokio::test]
    async fn day_rollups_are_saved_only_while_their_generation_holds() {
        with_database(|pg| async move {
            let stored = pg
                .day_rollups(A, vec![PRESS, DRILL, LATHE], 0, 20_000)
                .await
                .unwrap();
            assert_eq!(stored.len(), 3);
            // PRESS last changed state at 12000 (the newest, 13000, stopped again);
            // DRILL never changed; LATHE is not A's.
            assert_eq!(stored[0].settled_until, Some(12_000));
            assert_eq!(stored[1].settled_until, None);
            assert_eq!((stored[2].generation, stored[2].settled_until), (0, None));
            assert!(stored.iter().all(|s| s.days.is_empty()));
            let generation = stored[0].generation;

            let days = vec![day(5000, 10_000), day(0, 5000), day(10_000, 15_000)];
            let saved = pg
                .save_day_rollups(
                    A,
                    vec![
                        NewDays {
                            asset_id: PRESS,
                            generation,
                            days: days.clone(),
                        },
                        // Not A's: dropped.
                        NewDays {
                            asset_id: LATHE,
                            generation: 0,
                            days: vec![day(0, 5000)],
                        },
                    ],
                )
                .await
                .unwrap();
            assert_eq!(saved, 1);
            let stored = pg.day_rollups(A, vec![PRESS], 0, 10_000).await.unwrap();
            // In order, and only the days inside [from, to).
            assert_eq!(stored[0].days, [day(0, 5000), day(5000, 10_000)]);
            assert_eq!(stored[0].generation, generation);
            assert!(
                pg.day_rollups(B, vec![PRESS], 0, 20_000).await.unwrap()[0]
                    .days
                    .is_empty()
            );
            assert_eq!(
                pg.save_day_rollups(
                    B,
                    vec![NewDays {
                        asset_id: PRESS,
                        generation,
                        days: vec![day(20_000, 25_000)]
                    }]
                )
                .await
                .unwrap(),
                0
            );

            // A note on the stop from 8000 forgets the days ending after it and bumps the
            // generation: a day computed before is refused.
            pg.split_stop(A, PRESS, 8000, 9000).await.unwrap();
            let stored = pg.day_rollups(A, vec![PRESS], 0, 20_000).await.unwrap();
            assert_eq!(stored[0].days, [day(0, 5000)]);
            assert!(stored[0].generation > generation);
            let stale = NewDays {
                asset_id: PRESS,
                generation,
                days: vec![day(5000, 10_000)],
            };
            assert_eq!(pg.save_day_rollups(A, vec![stale]).await.unwrap(), 0);
            assert_eq!(
                pg.day_rollups(A, vec![PRESS], 0, 20_000).await.unwrap()[0].days,
                [day(0, 5000)]
            );
            // The same day with the new generation is saved; saved again, it replaces.
            let fresh = |figures_ms| NewDays {
                asset_id: PRESS,
                generation: stored[0].generation,
                days: vec![DayRollup {
                    figures: Figures::from_parts(figures_ms, 0, 0, 0, 0, 0),
                    ..day(5000, 10_000)
                }],
            };
            assert_eq!(pg.save_day_rollups(A, vec![fresh(1)]).await.unwrap(), 1);
            assert_eq!(pg.save_day_rollups(A, vec![fresh(2)]).await.unwrap(), 1);
            let days = &pg.day_rollups(A, vec![PRESS], 0, 20_000).await.unwrap()[0].days;
            assert_eq!(days.len(), 2);
            assert_eq!(days[1].figures, Figures::from_parts(2, 0, 0, 0, 0, 0));
            // A change of the tenant's settings forgets every day.
            pg.update_settings(
                A,
                SettingsChange {
                    threshold_s: Some(60),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            assert!(
                pg.day_rollups(A, vec![PRESS], 0, 20_000).await.unwrap()[0]
                    .days
                    .is_empty()
            );
        })
        .await;
    }
}
