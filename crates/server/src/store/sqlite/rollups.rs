//! Day rollups: the analytics figures of one asset's settled local days, kept so that a year of
//! 500 assets reads 180,000 rows instead of 27 million events.
//!
//! The rollups are a cache of what `crate::analytics` computes from the events; they are never
//! the truth. The rules that keep them right:
//!
//! - **Only settled days are stored.** A day is settled when it ends before the asset's last
//!   change of state ([`Sqlite::day_rollups`] reads that time): an event arriving in order (at or after the
//!   newest one) changes the state only from its own time on, and the only stop it can end
//!   began at that last change or later, so no settled day moves.
//! - **Whatever else could move a day deletes it**: a late event deletes the days from the last
//!   RUNNING event before it (where the stop it falls into began at the earliest) on; an offline
//!   span, the days from its start on; a note on a stop, the days from the stop's start on; a
//!   change of the tenant's settings, calendar, planned downtime or reasons, or of the asset's
//!   threshold, all of them.
//! - **No rollup computed before such a change is stored after it.** Each deletion bumps the
//!   asset's `rollup_gen` in the same transaction; a reader takes the generation before reading
//!   the events, and the store keeps its rollups only while the generation is unchanged.

use assetlog_core::kpi::Figures;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, Sqlite};
use crate::domain::{AssetId, LoggerRow, TenantId};

/// Down time of a day by reason: `(reason id or None for unassigned, stops, down_ms)`.
pub type Reasons = Vec<(Option<i64>, u64, i64)>;

/// One asset's figures over one settled local day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayRollup {
    pub day_start: i64,
    pub day_end: i64,
    pub figures: Figures,
    /// Down time by reason.
    pub reasons: Reasons,
}

/// Days of one asset computed from the events, to store if the asset's rollups were not
/// invalidated since `generation` was read.
pub struct NewDays {
    pub asset_id: AssetId,
    pub generation: i64,
    pub days: Vec<DayRollup>,
}

/// An asset's stored days and what deciding about new ones needs (see [`Sqlite::day_rollups`]).
pub struct StoredDays {
    pub generation: i64,
    pub settled_until: Option<i64>,
    pub days: Vec<DayRollup>,
}

impl Sqlite {
    /// What the day rollups of these assets inside `[from, to)` need: per asset, in the order
    /// given, its rollup generation, until when its days are settled (the time of the latest
    /// event whose state differs from the newest event's; `None` when it never changed state),
    /// and the stored days. Each asset's part is read in one transaction; many assets are read
    /// in a few parallel parts (a year of 500 assets is 182,500 rows).
    pub async fn day_rollups(
        &self,
        tenant_id: TenantId,
        asset_ids: Vec<AssetId>,
        from: i64,
        to: i64,
    ) -> Result<Vec<StoredDays>> {
        self.read_events_in_parts(asset_ids, 64, move |tx, asset_id| {
            stored_days(tx, tenant_id, asset_id, from, to)
        })
        .await
    }

    /// Stores computed days of several assets in one transaction; an asset's days are dropped
    /// instead when its rollups were invalidated since their `generation` was read (they may be
    /// stale). Returns how many assets' days were stored.
    pub async fn save_day_rollups(
        &self,
        tenant_id: TenantId,
        assets: Vec<NewDays>,
    ) -> Result<usize> {
        self.write(move |conn| {
            let mut saved = 0;
            for NewDays {
                asset_id,
                generation,
                days,
            } in &assets
            {
                let current: Option<i64> = conn
                    .prepare_cached("SELECT rollup_gen FROM assets WHERE id = ?1 AND tenant_id = ?2")?
                    .query_row(params![asset_id, tenant_id], |r| r.get(0))
                    .optional()?;
                if current != Some(*generation) {
                    continue;
                }
                let mut insert = conn.prepare_cached(
                    "INSERT OR REPLACE INTO day_rollups (asset_id, day_start, tenant_id, day_end, figures)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for d in days {
                    insert.execute(params![asset_id, d.day_start, tenant_id, d.day_end, encode(d)])?;
                }
                saved += 1;
            }
            Ok(saved)
        })
        .await
    }
}

/// One asset's part of [`Sqlite::day_rollups`].
fn stored_days(
    tx: &Connection,
    tenant_id: TenantId,
    asset_id: AssetId,
    from: i64,
    to: i64,
) -> Result<StoredDays> {
    let generation: i64 = tx
        .prepare_cached("SELECT rollup_gen FROM assets WHERE id = ?1 AND tenant_id = ?2")?
        .query_row(params![asset_id, tenant_id], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let newest: Option<(i64, bool)> = tx
        .prepare_cached(
            "SELECT ts, running FROM events WHERE asset_id = ?1 AND tenant_id = ?2
             ORDER BY ts DESC, COALESCE(seq, id) DESC LIMIT 1",
        )?
        .query_row(params![asset_id, tenant_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    // Walks the (asset_id, ts) index backwards to the first event of the other state
    // (a MAX() with this filter would read the asset's whole history).
    let settled_until: Option<i64> = match newest {
        None => None,
        Some((ts, running)) => tx
            .prepare_cached(
                "SELECT ts FROM events
                 WHERE asset_id = ?1 AND tenant_id = ?4 AND ts <= ?2 AND running != ?3
                 ORDER BY ts DESC LIMIT 1",
            )?
            .query_row(params![asset_id, ts, running, tenant_id], |r| r.get(0))
            .optional()?,
    };
    let mut stmt = tx.prepare_cached(
        "SELECT day_start, day_end, figures FROM day_rollups
         WHERE asset_id = ?1 AND tenant_id = ?4 AND day_start >= ?2 AND day_start < ?3
           AND day_end <= ?3
         ORDER BY day_start",
    )?;
    let mut days = Vec::new();
    let mut rows = stmt.query(params![asset_id, from, to, tenant_id])?;
    while let Some(r) = rows.next()? {
        // Written by this module; a row that does not decode is left out and computed again.
        let packed = r.get_ref(2)?.as_blob().ok().and_then(decode);
        if let Some((figures, reasons)) = packed {
            days.push(DayRollup {
                day_start: r.get(0)?,
                day_end: r.get(1)?,
                figures,
                reasons,
            });
        }
    }
    drop(rows);
    drop(stmt);
    Ok(StoredDays {
        generation,
        settled_until,
        days,
    })
}

/// The `figures` column: 48 bytes of figures, then 24 bytes per reason; all little-endian
/// i64s (see migration 0005). A year of 500 assets is 182,500 rows, so it is read without a
/// parser.
pub(crate) fn encode(day: &DayRollup) -> Vec<u8> {
    let f = &day.figures;
    let mut out = Vec::with_capacity(48 + day.reasons.len() * 24);
    for word in [
        f.run_ms,
        f.down_ms,
        f.unknown_ms,
        f.unplanned_ms,
        f.short_stops as i64,
        f.long_stops as i64,
    ] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    for &(id, stops, down_ms) in &day.reasons {
        out.extend_from_slice(&id.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&(stops as i64).to_le_bytes());
        out.extend_from_slice(&down_ms.to_le_bytes());
    }
    out
}

/// Above any time (ms) or count one day can hold (35 years of milliseconds), far below where
/// the sums of a year of many assets' days could overflow.
const PLAUSIBLE: i64 = 1 << 40;

pub(crate) fn decode(bytes: &[u8]) -> Option<(Figures, Reasons)> {
    if bytes.len() < 48 || !(bytes.len() - 48).is_multiple_of(24) {
        return None;
    }
    let word = |i: usize| {
        let at = i * 8;
        <[u8; 8]>::try_from(&bytes[at..at + 8])
            .map(i64::from_le_bytes)
            .ok()
    };
    // A day's times and counts are never negative, nor anywhere near PLAUSIBLE: a word beyond
    // is a damaged row, and would overflow the sums of the figures.
    let ms = |i: usize| word(i).filter(|n| (0..=PLAUSIBLE).contains(n));
    let count = |i: usize| ms(i).and_then(|n| u64::try_from(n).ok());
    let figures = Figures::from_parts(ms(0)?, ms(1)?, ms(2)?, ms(3)?, count(4)?, count(5)?);
    let reasons = (0..(bytes.len() - 48) / 24)
        .map(|k| {
            let at = 6 + 3 * k;
            let id = word(at)?;
            Some(((id != 0).then_some(id), count(at + 1)?, ms(at + 2)?))
        })
        .collect::<Option<_>>()?;
    Some((figures, reasons))
}

/// What the fuzz target `rollup_decode` (fuzz/) and its regression tests check of any bytes in
/// the `figures` column: decoding never panics, and a row it accepts packs back into one that
/// decodes the same.
#[doc(hidden)]
pub fn check_rollup_decoding(bytes: &[u8]) {
    if let Some((figures, reasons)) = decode(bytes) {
        let day = DayRollup {
            day_start: 0,
            day_end: 0,
            figures,
            reasons,
        };
        assert_eq!(
            decode(&encode(&day)),
            Some((day.figures, day.reasons.clone()))
        );
    }
}

/// Forgets the asset's days that end after `after` (all of them for `None`).
pub(crate) fn forget_asset_days(
    conn: &Connection,
    asset_id: AssetId,
    after: Option<i64>,
) -> Result<()> {
    conn.prepare_cached("DELETE FROM day_rollups WHERE asset_id = ?1 AND day_end > ?2")?
        .execute(params![asset_id, after.unwrap_or(i64::MIN)])?;
    conn.prepare_cached("UPDATE assets SET rollup_gen = rollup_gen + 1 WHERE id = ?1")?
        .execute([asset_id])?;
    Ok(())
}

/// A late event of the asset at `ts`: forgets the days from the last RUNNING event before it on
/// (the stop `ts` falls into, if any, began at or after that event).
pub(crate) fn forget_days_for_late_event(
    conn: &Connection,
    asset_id: AssetId,
    ts: i64,
) -> Result<()> {
    let last_running: Option<i64> = conn
        .prepare_cached(
            "SELECT ts FROM events WHERE asset_id = ?1 AND ts < ?2 AND running = 1
             ORDER BY ts DESC LIMIT 1",
        )?
        .query_row(params![asset_id, ts], |r| r.get(0))
        .optional()?;
    forget_asset_days(conn, asset_id, last_running)
}

/// Forgets the days of every asset of a logger that end after `after`.
pub(crate) fn forget_logger_days(
    conn: &Connection,
    logger_row: LoggerRow,
    after: i64,
) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM day_rollups WHERE day_end > ?2 AND asset_id IN (SELECT id FROM assets WHERE logger_row = ?1)",
    )?
    .execute(params![logger_row, after])?;
    conn.prepare_cached("UPDATE assets SET rollup_gen = rollup_gen + 1 WHERE logger_row = ?1")?
        .execute([logger_row])?;
    Ok(())
}

/// Forgets every day of a tenant (its settings, calendar, planned downtime or reasons changed).
pub(crate) fn forget_tenant_days(conn: &Connection, tenant_id: TenantId) -> Result<()> {
    conn.prepare_cached("DELETE FROM day_rollups WHERE tenant_id = ?1")?
        .execute([tenant_id])?;
    conn.prepare_cached("UPDATE assets SET rollup_gen = rollup_gen + 1 WHERE tenant_id = ?1")?
        .execute([tenant_id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_figures_read_back_and_damaged_ones_are_refused() {
        let day = DayRollup {
            day_start: 0,
            day_end: 86_400_000,
            figures: Figures::from_parts(50_000_000, 30_000_000, 6_400_000, 0, 3, 2),
            reasons: vec![(None, 2, 10_000_000), (Some(7), 3, 20_000_000)],
        };
        let bytes = encode(&day);
        assert_eq!(bytes.len(), 48 + 2 * 24);
        assert_eq!(decode(&bytes), Some((day.figures, day.reasons.clone())));
        let no_reasons = DayRollup {
            reasons: vec![],
            ..day.clone()
        };
        assert_eq!(decode(&encode(&no_reasons)), Some((day.figures, vec![])));
        // Cut short, or a reason entry cut, or a negative count: not a day.
        assert_eq!(decode(&bytes[..40]), None);
        assert_eq!(decode(&bytes[..bytes.len() - 8]), None);
        let mut negative = bytes.clone();
        negative[32..40].copy_from_slice(&(-1_i64).to_le_bytes());
        assert_eq!(decode(&negative), None);
    }

    /// Found writing the fuzz target `rollup_decode` (what it checks): huge times overflowed `run + down` in
    /// `Figures::from_parts` (a panic in debug builds, a wrapped figure in release ones).
    #[test]
    fn fuzz_regression_huge_figures_are_a_damaged_row() {
        let mut bytes = vec![0_u8; 48];
        bytes[..8].copy_from_slice(&i64::MAX.to_le_bytes());
        bytes[8..16].copy_from_slice(&1_i64.to_le_bytes());
        check_rollup_decoding(&bytes);
        assert_eq!(decode(&bytes), None);
        let mut stops = vec![0_u8; 48];
        stops[32..40].copy_from_slice(&i64::MAX.to_le_bytes());
        stops[40..48].copy_from_slice(&i64::MAX.to_le_bytes());
        check_rollup_decoding(&stops);
        assert_eq!(decode(&stops), None);
    }
}
