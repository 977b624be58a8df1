//! Retention: a tenant that keeps `retention_days` of history has what is older deleted, every
//! hour by the leader (`Store::housekeeping`), except what the figures of the days kept need.
//!
//! What a window of analytics reads from before its start (settings.rs, `analytics_events`) is
//! each asset's events back to its last RUNNING one, or its last one when none ran: so per asset,
//! everything before that point *at the cutoff* (`keep.since` below) is what no window after the
//! cutoff reads, and only that goes. A window starting later reads back to a point no earlier,
//! so its figures do not change. Notes on stops and offline spans go by the same point: a note on
//! a stop that started before it, a span that ended at or before it (of every asset of its
//! logger). Day rollups go when they end at or before the cutoff.
//!
//! Every table is deleted from in writer jobs of at most [`CHUNK`] rows, so the requests that
//! share the writer wait for one chunk at most. The events inbox is moved first; events that
//! arrive meanwhile wait in it and are not read here, which only ever keeps more (an event can
//! move an asset's `since` later, never earlier), and an old one among them goes the next hour.

use rusqlite::{Connection, params};

use super::{Result, Sqlite};
use crate::domain::TenantId;

/// Rows deleted at most by one writer job (events: about 3 µs each).
const CHUNK: i64 = 10_000;

/// Per asset of the tenant (?1), from when its events are kept at the cutoff (?2): its last
/// RUNNING event before it, else its last event before it; NULL when it has none before it.
/// Materialized: two index probes per asset, not per row deleted.
const KEEP: &str = "WITH keep(asset_id, since) AS MATERIALIZED (
    SELECT a.id, COALESCE(
        (SELECT ts FROM events WHERE asset_id = a.id AND tenant_id = ?1 AND ts < ?2 AND running = 1
         ORDER BY ts DESC LIMIT 1),
        (SELECT MAX(ts) FROM events WHERE asset_id = a.id AND tenant_id = ?1 AND ts < ?2))
    FROM assets a WHERE a.tenant_id = ?1)";

/// Each deletes at most ?3 rows of the tenant ?1 older than the cutoff ?2, the way the module
/// documentation says; run until one deletes fewer.
const DELETES: [(&str, &str); 4] = [
    (
        "events",
        "DELETE FROM events WHERE id IN (
             SELECT e.id FROM keep k JOIN events e ON e.asset_id = k.asset_id AND e.ts < k.since
             WHERE e.tenant_id = ?1 LIMIT ?3)",
    ),
    (
        "stop_parts",
        "DELETE FROM stop_parts WHERE (asset_id, stop_start, part_start) IN (
             SELECT p.asset_id, p.stop_start, p.part_start FROM stop_parts p
             LEFT JOIN keep k ON k.asset_id = p.asset_id
             WHERE p.tenant_id = ?1 AND p.stop_start < COALESCE(k.since, ?2) LIMIT ?3)",
    ),
    (
        "logger_offline",
        "DELETE FROM logger_offline WHERE id IN (
             SELECT o.id FROM logger_offline o JOIN loggers l ON l.id = o.logger_row
             WHERE l.tenant_id = ?1 AND o.end_ms IS NOT NULL AND o.end_ms <= ?2
             AND o.end_ms <= COALESCE(
                 (SELECT MIN(COALESCE(k.since, ?2)) FROM keep k JOIN assets a ON a.id = k.asset_id
                  WHERE a.logger_row = o.logger_row), ?2)
             LIMIT ?3)",
    ),
    (
        "day_rollups",
        "DELETE FROM day_rollups WHERE (asset_id, day_start) IN (
             SELECT r.asset_id, r.day_start FROM keep k JOIN day_rollups r
             ON r.asset_id = k.asset_id AND r.day_start < ?2
             WHERE r.tenant_id = ?1 AND r.day_end <= ?2 LIMIT ?3)",
    ),
];

fn delete_chunk(conn: &Connection, sql: &str, tenant_id: TenantId, before: i64) -> Result<u64> {
    let deleted = conn
        .prepare_cached(&format!("{KEEP} {sql}"))?
        .execute(params![tenant_id, before, CHUNK])?;
    Ok(deleted as u64)
}

impl Sqlite {
    /// Every tenant that keeps its history for a limited time, with its days.
    pub async fn retentions(&self) -> Result<Vec<(TenantId, i64)>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, retention_days FROM tenants WHERE retention_days IS NOT NULL ORDER BY id",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    /// Deletes the tenant's history from before `before` (epoch ms) that no figure of a later
    /// window needs (see the module documentation); how many events went.
    pub async fn apply_retention(&self, tenant_id: TenantId, before: i64) -> Result<u64> {
        self.settle().await?;
        let mut events = 0;
        for (table, sql) in DELETES {
            loop {
                let deleted = self
                    .write(move |conn| delete_chunk(conn, sql, tenant_id, before))
                    .await?;
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
