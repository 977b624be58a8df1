//! Retention on PostgreSQL: the same rule as SQLite's (store/sqlite/retention.rs, whose module
//! documentation says what goes and why the figures of the days kept do not change), one
//! statement of at most [`CHUNK`] rows per transaction, each in the tenant's scope.
//!
//! Retention is per tenant, and the months of `events` are shared by every tenant: rows are
//! deleted, partitions never dropped (an emptied month stays until an operator drops it).

use super::super::Result;
use super::{Pg, Scope};
use crate::domain::TenantId;

/// Rows deleted at most by one transaction.
const CHUNK: i64 = 10_000;

/// Per asset of the tenant ($1), from when its events are kept at the cutoff ($2): its last
/// RUNNING event before it, else its last event before it; NULL when it has none before it.
const KEEP: &str = "WITH keep AS MATERIALIZED (
    SELECT a.id AS asset_id, COALESCE(
        (SELECT e.ts FROM events e
         WHERE e.asset_id = a.id AND e.tenant_id = $1 AND e.ts < $2 AND e.running
         ORDER BY e.ts DESC LIMIT 1),
        (SELECT MAX(e.ts) FROM events e WHERE e.asset_id = a.id AND e.tenant_id = $1 AND e.ts < $2)
    ) AS since
    FROM assets a WHERE a.tenant_id = $1)";

/// Each deletes at most $3 rows of the tenant $1 older than the cutoff $2; run until one
/// deletes fewer.
const DELETES: [(&str, &str); 4] = [
    (
        "events",
        "DELETE FROM events d USING (
             SELECT e.id, e.ts FROM keep k JOIN events e ON e.asset_id = k.asset_id AND e.ts < k.since
             WHERE e.tenant_id = $1 LIMIT $3) doomed
         WHERE d.id = doomed.id AND d.ts = doomed.ts",
    ),
    (
        "stop_parts",
        "DELETE FROM stop_parts WHERE (asset_id, stop_start, part_start) IN (
             SELECT p.asset_id, p.stop_start, p.part_start FROM stop_parts p
             LEFT JOIN keep k ON k.asset_id = p.asset_id
             WHERE p.tenant_id = $1 AND p.stop_start < COALESCE(k.since, $2) LIMIT $3)",
    ),
    (
        "logger_offline",
        "DELETE FROM logger_offline WHERE id IN (
             SELECT o.id FROM logger_offline o JOIN loggers l ON l.id = o.logger_row
             WHERE l.tenant_id = $1 AND o.end_ms IS NOT NULL AND o.end_ms <= $2
             AND o.end_ms <= COALESCE(
                 (SELECT MIN(COALESCE(k.since, $2)) FROM keep k JOIN assets a ON a.id = k.asset_id
                  WHERE a.logger_row = o.logger_row), $2)
             LIMIT $3)",
    ),
    (
        "day_rollups",
        "DELETE FROM day_rollups WHERE (asset_id, day_start) IN (
             SELECT r.asset_id, r.day_start FROM keep k JOIN day_rollups r
             ON r.asset_id = k.asset_id AND r.day_start < $2
             WHERE r.tenant_id = $1 AND r.day_end <= $2 LIMIT $3)",
    ),
];

impl Pg {
    /// Every tenant that keeps its history for a limited time, with its days.
    pub async fn retentions(&self) -> Result<Vec<(TenantId, i64)>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT id, retention_days FROM tenants WHERE retention_days IS NOT NULL ORDER BY id",
            )
            .await?;
        let rows = tx.query(&stmt, &[]).await?;
        tx.commit().await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Deletes the tenant's history from before `before` (epoch ms) that no figure of a later
    /// window needs; how many events went.
    pub async fn apply_retention(&self, tenant_id: TenantId, before: i64) -> Result<u64> {
        let mut client = self.client().await?;
        let mut events = 0;
        for (table, sql) in DELETES {
            loop {
                let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
                let stmt = tx.prepare_cached(&format!("{KEEP} {sql}")).await?;
                let deleted = tx.execute(&stmt, &[&tenant_id, &before, &CHUNK]).await?;
                tx.commit().await?;
                if table == "events" {
                    events += deleted;
                }
                if deleted < CHUNK as u64 {
                    break;
                }
            }
        }
        Ok(events)
    }
}
