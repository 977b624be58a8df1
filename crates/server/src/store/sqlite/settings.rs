//! What shapes a tenant's numbers: time zone, short-stop threshold, shift calendar, planned
//! downtime, downtime reasons, and operators' notes on stops.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::rollups::{forget_asset_days, forget_tenant_days};
use super::{BackendError, Result, Sqlite, StoreError, Unique, now_ms, on_unique};
use crate::calendar::{Calendars, Weekly};
use crate::domain::{AssetId, LoggerRow, TenantId};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Settings {
    pub timezone: String,
    pub short_stop_threshold_s: i64,
    /// How many days of history the tenant keeps (null: all of it). Older events, notes on
    /// stops, offline spans and day rollups are deleted every hour, except what the figures of
    /// the days kept need (docs/OPERATIONS.md).
    #[schema(minimum = 1, maximum = 36500)]
    pub retention_days: Option<i64>,
    /// The availability the tenant aims for, 0 to 1 (null: none); an asset may have its own.
    /// The analytics page draws it on the trend and colours the table by it.
    pub target_availability: Option<f64>,
}

/// A change of the settings: what is `Some` changes (`Some(None)` clears what may be cleared).
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    pub timezone: Option<String>,
    pub threshold_s: Option<i64>,
    pub retention_days: Option<Option<i64>>,
    /// Target availability in basis points (8500 = 85 %).
    pub target_bp: Option<Option<i64>>,
}

/// A target availability stored in basis points, as the API shows it (a ratio).
pub fn target_of(bp: Option<i64>) -> Option<f64> {
    bp.map(|bp| bp as f64 / 10_000.0)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlannedDowntime {
    pub id: i64,
    pub asset_id: Option<AssetId>,
    /// When it begins (a weekly one: its first possible occurrence).
    pub from: i64,
    /// When it ends; a weekly one without an end: null (kept as `i64::MAX`).
    #[schema(value_type = Option<i64>)]
    #[serde(serialize_with = "open_end")]
    pub to: i64,
    pub note: String,
    /// Recurring every week (in the tenant's zone) between `from` and `to`; null: once, the
    /// whole of `from`..`to`.
    pub weekly: Option<Weekly>,
}

/// An end kept as `i64::MAX` (for good) as null.
fn open_end<S: serde::Serializer>(to: &i64, s: S) -> std::result::Result<S::Ok, S::Error> {
    if *to == i64::MAX {
        s.serialize_none()
    } else {
        s.serialize_i64(*to)
    }
}

impl PlannedDowntime {
    /// Its spans inside `[from, to)`: the whole of it once, or each weekly occurrence.
    pub fn spans(&self, tz: chrono_tz::Tz, from: i64, to: i64) -> Vec<crate::calendar::Span> {
        let (from, to) = (from.max(self.from), to.min(self.to));
        if from >= to {
            return Vec::new();
        }
        match &self.weekly {
            None => vec![crate::calendar::Span::new(from, to)],
            Some(w) => w.spans(tz, from, to),
        }
    }
}

/// A weekly rule as stored (JSON, checked when it was added).
pub fn weekly_of(stored: Option<String>) -> Option<Weekly> {
    stored.and_then(|s| serde_json::from_str(&s).ok())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reason {
    pub id: i64,
    pub category: String,
    pub name: String,
}

/// An operator's note on (a part of) a stop.
#[derive(Debug, Clone)]
pub struct StopPart {
    pub asset_id: AssetId,
    pub stop_start: i64,
    pub part_start: i64,
    pub reason_id: Option<i64>,
    pub comment: String,
}

fn asset_in_tenant(conn: &Connection, tenant_id: TenantId, asset_id: AssetId) -> Result<()> {
    conn.query_row(
        "SELECT 1 FROM assets WHERE id = ?1 AND tenant_id = ?2",
        params![asset_id, tenant_id],
        |_| Ok(()),
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

fn reason_in_tenant(conn: &Connection, tenant_id: TenantId, reason_id: i64) -> Result<()> {
    conn.query_row(
        "SELECT 1 FROM reasons WHERE id = ?1 AND tenant_id = ?2",
        params![reason_id, tenant_id],
        |_| Ok(()),
    )
    .optional()?
    .ok_or_else(|| StoreError::Conflict("no such downtime reason in this tenant".into()))
}

impl Sqlite {
    pub async fn settings(&self, tenant_id: TenantId) -> Result<Settings> {
        self.read(move |conn| {
            Ok(conn.query_row(
                "SELECT timezone, short_stop_threshold_s, retention_days, target_bp
                 FROM tenants WHERE id = ?1",
                [tenant_id],
                |r| {
                    Ok(Settings {
                        timezone: r.get(0)?,
                        short_stop_threshold_s: r.get(1)?,
                        retention_days: r.get(2)?,
                        target_availability: target_of(r.get(3)?),
                    })
                },
            )?)
        })
        .await
    }

    /// Changes what is given; `retention_days: Some(None)` keeps the history forever again.
    pub async fn update_settings(&self, tenant_id: TenantId, change: SettingsChange) -> Result<()> {
        self.write(move |conn| {
            let SettingsChange {
                timezone,
                threshold_s,
                retention_days,
                target_bp,
            } = change;
            // The retention and the target shape no figure: a change of them keeps the cached days.
            let reshapes = timezone.is_some() || threshold_s.is_some();
            conn.execute(
                "UPDATE tenants SET timezone = COALESCE(?1, timezone),
                 short_stop_threshold_s = COALESCE(?2, short_stop_threshold_s),
                 retention_days = CASE WHEN ?3 THEN ?4 ELSE retention_days END,
                 target_bp = CASE WHEN ?5 THEN ?6 ELSE target_bp END
                 WHERE id = ?7",
                params![
                    timezone,
                    threshold_s,
                    retention_days.is_some(),
                    retention_days.flatten(),
                    target_bp.is_some(),
                    target_bp.flatten(),
                    tenant_id
                ],
            )?;
            if reshapes {
                forget_tenant_days(conn, tenant_id)?;
            }
            Ok(())
        })
        .await
    }

    /// The tenant's shift calendars, each from its first day on, as checked when they were set.
    pub async fn shifts(&self, tenant_id: TenantId) -> Result<Calendars> {
        let stored: String = self
            .read(move |conn| {
                Ok(conn.query_row(
                    "SELECT shifts FROM tenants WHERE id = ?1",
                    [tenant_id],
                    |r| r.get(0),
                )?)
            })
            .await?;
        Calendars::from_stored(&stored).map_err(|e| {
            StoreError::Database(BackendError::from(format!(
                "tenant {tenant_id}'s stored calendar does not read: {e}"
            )))
        })
    }

    pub async fn set_shifts(&self, tenant_id: TenantId, calendars: Calendars) -> Result<()> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE tenants SET shifts = ?1 WHERE id = ?2",
                params![calendars.to_stored(), tenant_id],
            )?;
            forget_tenant_days(conn, tenant_id)
        })
        .await
    }

    pub async fn add_planned_downtime(
        &self,
        tenant_id: TenantId,
        asset_id: Option<AssetId>,
        (from, to): (i64, i64),
        note: String,
        weekly: Option<Weekly>,
    ) -> Result<PlannedDowntime> {
        self.write(move |conn| {
            if let Some(a) = asset_id {
                asset_in_tenant(conn, tenant_id, a)?;
            }
            let stored = weekly.as_ref().map(|w| serde_json::to_string(w).expect("a rule serializes"));
            conn.execute(
                "INSERT INTO planned_downtime (tenant_id, asset_id, start_ms, end_ms, note, created_at, weekly) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![tenant_id, asset_id, from, to, note, now_ms(), stored],
            )?;
            forget_tenant_days(conn, tenant_id)?;
            Ok(PlannedDowntime { id: conn.last_insert_rowid(), asset_id, from, to, note, weekly })
        })
        .await
    }

    /// Planned downtime of the tenant overlapping `[from, to)` (all of it when both are None).
    pub async fn planned_downtime(
        &self,
        tenant_id: TenantId,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Vec<PlannedDowntime>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, asset_id, start_ms, end_ms, note, weekly FROM planned_downtime
                 WHERE tenant_id = ?1 AND (?2 IS NULL OR end_ms > ?2) AND (?3 IS NULL OR start_ms < ?3)
                 ORDER BY start_ms, id",
            )?;
            let rows = stmt
                .query_map(params![tenant_id, from, to], |r| {
                    Ok(PlannedDowntime { id: r.get(0)?, asset_id: r.get(1)?, from: r.get(2)?, to: r.get(3)?, note: r.get(4)?, weekly: weekly_of(r.get(5)?) })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    pub async fn delete_planned_downtime(&self, tenant_id: TenantId, id: i64) -> Result<()> {
        self.write(move |conn| {
            match conn.execute(
                "DELETE FROM planned_downtime WHERE id = ?1 AND tenant_id = ?2",
                params![id, tenant_id],
            )? {
                0 => Err(StoreError::NotFound),
                _ => forget_tenant_days(conn, tenant_id),
            }
        })
        .await
    }

    pub async fn reasons(&self, tenant_id: TenantId) -> Result<Vec<Reason>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT id, category, name FROM reasons WHERE tenant_id = ?1 ORDER BY category, name")?;
            let rows = stmt
                .query_map([tenant_id], |r| Ok(Reason { id: r.get(0)?, category: r.get(1)?, name: r.get(2)? }))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    pub async fn add_reason(
        &self,
        tenant_id: TenantId,
        category: String,
        name: String,
    ) -> Result<Reason> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO reasons (tenant_id, category, name) VALUES (?1, ?2, ?3)",
                params![tenant_id, category, name],
            )
            .map_err(|e| on_unique(e, Unique::ReasonName))?;
            Ok(Reason {
                id: conn.last_insert_rowid(),
                category,
                name,
            })
        })
        .await
    }

    pub async fn update_reason(
        &self,
        tenant_id: TenantId,
        id: i64,
        category: Option<String>,
        name: Option<String>,
    ) -> Result<Reason> {
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE reasons SET category = COALESCE(?1, category), name = COALESCE(?2, name) WHERE id = ?3 AND tenant_id = ?4",
                    params![category, name, id, tenant_id],
                )
                .map_err(|e| on_unique(e, Unique::ReasonName))?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(conn.query_row("SELECT id, category, name FROM reasons WHERE id = ?1", [id], |r| {
                Ok(Reason { id: r.get(0)?, category: r.get(1)?, name: r.get(2)? })
            })?)
        })
        .await
    }

    /// Deletes a reason; stops that had it become unassigned.
    pub async fn delete_reason(&self, tenant_id: TenantId, id: i64) -> Result<()> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE stop_parts SET reason_id = NULL WHERE reason_id = ?1 AND tenant_id = ?2",
                params![id, tenant_id],
            )?;
            match conn.execute(
                "DELETE FROM reasons WHERE id = ?1 AND tenant_id = ?2",
                params![id, tenant_id],
            )? {
                0 => Err(StoreError::NotFound),
                _ => forget_tenant_days(conn, tenant_id),
            }
        })
        .await
    }

    /// Notes on the asset's stops that start in `[from, to)`.
    pub async fn stop_parts(
        &self,
        tenant_id: TenantId,
        asset_id: AssetId,
        from: i64,
        to: i64,
    ) -> Result<Vec<StopPart>> {
        self.read(move |conn| stop_parts(conn, tenant_id, asset_id, from, to))
            .await
    }

    /// Sets the reason and comment of one part of a stop (the part starting at `part_start`).
    pub async fn annotate_stop(&self, tenant_id: TenantId, part: StopPart) -> Result<()> {
        self.write(move |conn| {
            asset_in_tenant(conn, tenant_id, part.asset_id)?;
            if let Some(r) = part.reason_id {
                reason_in_tenant(conn, tenant_id, r)?;
            }
            conn.execute(
                "INSERT INTO stop_parts (tenant_id, asset_id, stop_start, part_start, reason_id, comment, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (asset_id, stop_start, part_start) DO UPDATE
                 SET reason_id = excluded.reason_id, comment = excluded.comment, updated_at = excluded.updated_at",
                params![tenant_id, part.asset_id, part.stop_start, part.part_start, part.reason_id, part.comment, now_ms()],
            )?;
            forget_asset_days(conn, part.asset_id, Some(part.stop_start))
        })
        .await
    }

    /// Splits a stop at `at`: a new part starts there, with no reason yet. The part it cuts
    /// keeps its reason; a split at an existing part start changes nothing.
    pub async fn split_stop(
        &self,
        tenant_id: TenantId,
        asset_id: AssetId,
        stop_start: i64,
        at: i64,
    ) -> Result<()> {
        self.write(move |conn| {
            asset_in_tenant(conn, tenant_id, asset_id)?;
            let now = now_ms();
            // The first part exists implicitly; make it explicit so the new part has a sibling.
            conn.execute(
                "INSERT OR IGNORE INTO stop_parts (tenant_id, asset_id, stop_start, part_start, updated_at) VALUES (?1, ?2, ?3, ?3, ?4)",
                params![tenant_id, asset_id, stop_start, now],
            )?;
            conn.execute(
                "INSERT OR IGNORE INTO stop_parts (tenant_id, asset_id, stop_start, part_start, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![tenant_id, asset_id, stop_start, at, now],
            )?;
            forget_asset_days(conn, asset_id, Some(stop_start))
        })
        .await
    }

    /// What the figures of each asked asset and window are computed from, in the order asked.
    /// Read in a few parallel transactions, not one per window: a year of 500 assets has
    /// 1,000 edge-day windows.
    pub async fn histories(
        &self,
        tenant_id: TenantId,
        asks: Vec<HistoryAsk>,
        now: i64,
    ) -> Result<Vec<HistoryRows>> {
        self.read_events_in_parts(asks, 64, move |tx, ask| {
            history_rows(tx, tenant_id, &ask, now)
        })
        .await
    }
}

/// One asset and window whose figures are asked for.
#[derive(Debug, Clone, Copy)]
pub struct HistoryAsk {
    pub asset_id: AssetId,
    pub logger_row: LoggerRow,
    pub from: i64,
    pub to: i64,
}

/// What one asset's figures over a window are computed from.
#[derive(Debug, Default)]
pub struct HistoryRows {
    /// The events the window needs, as (ts, seq or id, running), in time order: those before it
    /// back to the last RUNNING one (the state it starts in, and, when it starts in a stop, where
    /// that stop began, so notes on the stop's parts inside the window count), or the last one
    /// when none ran; those inside; and those after it up to the first RUNNING (so a stop that
    /// runs past `to` has its whole length).
    pub events: Vec<(i64, i64, bool)>,
    /// The logger's offline spans from the first of those events (or the window's start) to
    /// `max(to, now)`; an open span ends at `now`.
    pub offline: Vec<(i64, i64)>,
    /// The notes on the asset's stops that start from then until `to`: every stop that overlaps
    /// the window starts in that range.
    pub parts: Vec<StopPart>,
}

fn history_rows(
    conn: &Connection,
    tenant_id: TenantId,
    ask: &HistoryAsk,
    now: i64,
) -> Result<HistoryRows> {
    let &HistoryAsk {
        asset_id,
        logger_row,
        from,
        to,
    } = ask;
    let events = analytics_events(conn, tenant_id, asset_id, from, to)?;
    let since = events.first().map_or(from, |e| e.0.min(from));
    Ok(HistoryRows {
        offline: offline_spans(conn, logger_row, since, now.max(to), now)?,
        parts: stop_parts(conn, tenant_id, asset_id, since, to)?,
        events,
    })
}

/// Offline spans of a logger overlapping `[from, to)`; an open span ends at `now`.
fn offline_spans(
    conn: &Connection,
    logger_row: LoggerRow,
    from: i64,
    to: i64,
    now: i64,
) -> Result<Vec<(i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT start_ms, COALESCE(end_ms, ?4) FROM logger_offline
         WHERE logger_row = ?1 AND start_ms < ?3 AND COALESCE(end_ms, ?4) > ?2 ORDER BY start_ms",
    )?;
    let rows = stmt
        .query_map(params![logger_row, from, to, now], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The events of [`HistoryRows::events`].
fn analytics_events(
    conn: &Connection,
    tenant_id: TenantId,
    asset_id: AssetId,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, i64, bool)>> {
    let map = |r: &rusqlite::Row<'_>| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, bool>(2)?,
        ))
    };
    let mut out: Vec<(i64, i64, bool)> = Vec::new();
    let mut before = conn.prepare_cached(
        "SELECT ts, COALESCE(seq, id), running FROM events
         WHERE asset_id = ?1 AND tenant_id = ?3 AND ts < ?2
         AND ts >= COALESCE(
           (SELECT ts FROM events WHERE asset_id = ?1 AND tenant_id = ?3 AND ts < ?2 AND running = 1
            ORDER BY ts DESC LIMIT 1),
           (SELECT MAX(ts) FROM events WHERE asset_id = ?1 AND tenant_id = ?3 AND ts < ?2))
         ORDER BY ts",
    )?;
    for row in before.query_map(params![asset_id, from, tenant_id], map)? {
        out.push(row?);
    }
    let mut inside = conn.prepare_cached(
        "SELECT ts, COALESCE(seq, id), running FROM events
         WHERE asset_id = ?1 AND tenant_id = ?4 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
    )?;
    for row in inside.query_map(params![asset_id, from, to, tenant_id], map)? {
        out.push(row?);
    }
    let mut after = conn.prepare_cached(
        "SELECT ts, COALESCE(seq, id), running FROM events
         WHERE asset_id = ?1 AND tenant_id = ?3 AND ts >= ?2
         AND ts <= COALESCE((SELECT MIN(ts) FROM events
                             WHERE asset_id = ?1 AND tenant_id = ?3 AND ts >= ?2 AND running = 1), ?2)
         ORDER BY ts",
    )?;
    for row in after.query_map(params![asset_id, to, tenant_id], map)? {
        out.push(row?);
    }
    Ok(out)
}

/// Notes on the asset's stops that start in `[from, to)`.
fn stop_parts(
    conn: &Connection,
    tenant_id: TenantId,
    asset_id: AssetId,
    from: i64,
    to: i64,
) -> Result<Vec<StopPart>> {
    let mut stmt = conn.prepare_cached(
        "SELECT asset_id, stop_start, part_start, reason_id, comment FROM stop_parts
         WHERE tenant_id = ?1 AND asset_id = ?2 AND stop_start >= ?3 AND stop_start < ?4
         ORDER BY stop_start, part_start",
    )?;
    let rows = stmt
        .query_map(params![tenant_id, asset_id, from, to], |r| {
            Ok(StopPart {
                asset_id: r.get(0)?,
                stop_start: r.get(1)?,
                part_start: r.get(2)?,
                reason_id: r.get(3)?,
                comment: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}
