//! One asset's history around a window, digested: its timeline of states, its stops, its
//! planned time, and the notes operators left on its stops.

use std::collections::HashMap;

use assetlog_core::kpi::{self, Event, Figures, Interval, Span, Stop};
use serde::Serialize;

use super::{Result, Rules};
use crate::calendar;
use crate::domain::{AssetId, TenantId};
use crate::store::{Asset, HistoryAsk, HistoryRows, StopPart, Store};

/// One asset's history around a window, digested.
pub struct History {
    pub(super) timeline: Vec<Interval>,
    pub stops: Vec<Stop>,
    planned: Option<Vec<Span>>,
    pub(super) threshold_ms: i64,
    /// Notes on the stops that overlap the window (and maybe on a few that do not).
    pub(super) parts: Vec<StopPart>,
}

impl History {
    fn new(
        rules: &Rules,
        asset: &Asset,
        downtime: &[(Option<AssetId>, i64, i64)],
        (from, to): (i64, i64),
        now: i64,
        rows: HistoryRows,
    ) -> Self {
        let events: Vec<Event> = rows
            .events
            .iter()
            .map(|&(ts, seq, running)| Event { ts, seq, running })
            .collect();
        let offline: Vec<Span> = rows.offline.iter().map(|&(s, e)| Span::new(s, e)).collect();
        let timeline = kpi::timeline(&events, &offline, now);
        let stops = kpi::stops(&timeline, now);
        let own_downtime: Vec<Span> = downtime
            .iter()
            .filter(|(a, _, _)| a.is_none_or(|a| a == asset.id))
            .map(|&(_, s, e)| Span::new(s, e))
            .collect();
        let planned = (!rules.calendar.is_empty() || !own_downtime.is_empty())
            .then(|| calendar::planned_spans(&rules.calendar, rules.tz, from, to, &own_downtime));
        let threshold_ms = asset
            .short_stop_threshold_s
            .map_or(rules.threshold_ms, |s| s * 1000);
        Self {
            timeline,
            stops,
            planned,
            threshold_ms,
            parts: rows.parts,
        }
    }

    pub(super) fn planned(&self) -> Option<&[Span]> {
        self.planned.as_deref()
    }

    /// Whether `t` is planned time (as analytics counts a stop that begins at `t`).
    pub(super) fn is_planned(&self, t: i64) -> bool {
        self.planned().is_none_or(|spans| {
            let i = spans.partition_point(|s| s.end <= t);
            spans.get(i).is_some_and(|s| s.contains(t))
        })
    }

    pub(super) fn figures(&self, from: i64, to: i64, now: i64) -> Figures {
        kpi::figures(
            &self.timeline,
            &self.stops,
            Span::new(from, to),
            self.planned(),
            now,
            self.threshold_ms,
        )
    }

    /// The stops that overlap `[from, to)`, cut into their annotated parts.
    pub(super) fn annotated_stops(
        &self,
        asset_id: AssetId,
        (from, to): (i64, i64),
    ) -> Vec<StopView> {
        let overlapping: Vec<Stop> = self
            .stops
            .iter()
            .copied()
            .filter(|s| s.start < to && s.end > from)
            .collect();
        stop_views(asset_id, self, &self.parts, &overlapping)
    }
}

/// The histories of several assets' windows, read in one trip to the database.
pub(super) async fn histories(
    store: &Store,
    tenant_id: TenantId,
    rules: &Rules,
    downtime: &[(Option<AssetId>, i64, i64)],
    now: i64,
    windows: &[(&Asset, (i64, i64))],
) -> Result<Vec<History>> {
    let asks = windows
        .iter()
        .map(|(asset, (from, to))| HistoryAsk {
            asset_id: asset.id,
            logger_row: asset.logger_row,
            from: *from,
            to: *to,
        })
        .collect();
    let rows = store.histories(tenant_id, asks, now).await?;
    Ok(windows
        .iter()
        .zip(rows)
        .map(|((asset, range), rows)| History::new(rules, asset, downtime, *range, now, rows))
        .collect())
}

/// One part of a stop as operators see it: the part's own span, reason and comment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StopView {
    /// `{asset_id}-{stop_start}-{part_start}`: see [`super::StopId`].
    pub id: String,
    pub asset_id: AssetId,
    pub stop_start: i64,
    pub start: i64,
    pub end: i64,
    pub duration_ms: i64,
    pub stop_duration_ms: i64,
    pub ongoing: bool,
    pub short: bool,
    pub reason_id: Option<i64>,
    pub comment: String,
}

/// Cuts each stop into its annotated parts (a stop never split is one part).
pub(super) fn stop_views(
    asset_id: AssetId,
    history: &History,
    parts: &[StopPart],
    stops: &[Stop],
) -> Vec<StopView> {
    let mut by_stop: HashMap<i64, Vec<&StopPart>> = HashMap::new();
    for part in parts.iter().filter(|p| p.asset_id == asset_id) {
        by_stop.entry(part.stop_start).or_default().push(part);
    }
    let mut out = Vec::new();
    for stop in stops {
        let mut notes: Vec<&StopPart> = by_stop.remove(&stop.start).unwrap_or_default();
        notes.retain(|p| p.part_start >= stop.start && p.part_start < stop.end.max(stop.start + 1));
        notes.sort_by_key(|p| p.part_start);
        let mut starts: Vec<i64> = notes.iter().map(|p| p.part_start).collect();
        if starts.first() != Some(&stop.start) {
            starts.insert(0, stop.start);
        }
        for (i, &start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(stop.end);
            let note = notes.iter().find(|p| p.part_start == start);
            out.push(StopView {
                id: super::StopId {
                    asset_id,
                    stop_start: stop.start,
                    part_start: start,
                }
                .to_string(),
                asset_id,
                stop_start: stop.start,
                start,
                end,
                duration_ms: end - start,
                stop_duration_ms: stop.duration_ms,
                ongoing: stop.ongoing && i + 1 == starts.len(),
                short: stop.is_short(history.threshold_ms),
                reason_id: note.and_then(|p| p.reason_id),
                comment: note.map(|p| p.comment.clone()).unwrap_or_default(),
            });
        }
    }
    out
}
