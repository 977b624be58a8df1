//! The day plan: most of a long window's figures come from day rollups (store/rollups.rs);
//! the plan finds which days must be computed from events, computes them, and keeps the whole,
//! settled ones to store. Also the buckets a window is cut into.

use std::collections::HashMap;

use assetlog_core::kpi::Figures;

use super::Rules;
use super::history::History;
use super::reasons::{Tally, downtime_by_reason};
use crate::calendar::{self, Bucket};
use crate::store::{Asset, DayRollup, NewDays, Reason, StoredDays};

/// Bucket spans of the window (with a name for shift buckets).
pub(super) fn bucket_spans(
    kind: Bucket,
    rules: &Rules,
    (from, to): (i64, i64),
) -> Vec<(i64, i64, Option<String>)> {
    match kind {
        Bucket::Shift => calendar::occurrences(&rules.calendar, rules.tz, from, to)
            .into_iter()
            .map(|o| (o.span.start.max(from), o.span.end.min(to), Some(o.name)))
            .filter(|(s, e, _)| s < e)
            .collect(),
        other => calendar::buckets(other, rules.tz, from, to)
            .into_iter()
            .map(|(s, e)| (s, e, None))
            .collect(),
    }
}

/// How many figures one asset's answer needs: a bucket's worth for hour and shift buckets, a
/// day's for the rest (summed from days).
pub(super) fn figures_per_asset(
    bucket: Option<Bucket>,
    rules: &Rules,
    window: (i64, i64),
) -> usize {
    match bucket {
        Some(kind @ (Bucket::Hour | Bucket::Shift)) => bucket_spans(kind, rules, window).len(),
        _ => calendar::days(rules.tz, window.0, window.1).len(),
    }
}

/// One asset's figures and down time by reason over one span.
pub(super) type SpanFigures = (Figures, Vec<Tally>);

/// One asset's figures over each local day of the window (the first and last clipped to it),
/// in two steps: [`DayPlan::new`] takes the whole settled days from the day rollups and finds
/// the runs of days left to compute; [`DayPlan::finish`] computes them from the events (one
/// history per run, all assets' read together) and keeps those that are whole and settled, to
/// store as rollups (see `store::rollups` for why that is safe).
pub(super) struct DayPlan<'a> {
    pub(super) asset: &'a Asset,
    generation: i64,
    settled_until: Option<i64>,
    /// Each day's figures: known from a rollup, or `None` until computed.
    per_day: Vec<Option<SpanFigures>>,
    /// Runs of consecutive days to compute, as day index ranges.
    pub(super) runs: Vec<std::ops::Range<usize>>,
}

impl<'a> DayPlan<'a> {
    pub(super) fn new(
        asset: &'a Asset,
        days: &[(i64, i64, bool)],
        stored: StoredDays,
        now: i64,
    ) -> Self {
        // Both in day order: walk them together.
        let mut stored_days = stored.days.into_iter().peekable();
        let per_day: Vec<Option<SpanFigures>> = days
            .iter()
            .map(|&(start, end, whole)| {
                while stored_days.next_if(|d| d.day_start < start).is_some() {}
                stored_days
                    .next_if(|d| d.day_start == start)
                    .filter(|d| whole && d.day_end == end)
                    .map(|d| (d.figures, d.reasons))
            })
            .collect();
        let mut runs = Vec::new();
        let mut i = 0;
        while i < days.len() {
            if per_day[i].is_some() {
                i += 1;
                continue;
            }
            let j = (i..days.len())
                .find(|&k| per_day[k].is_some())
                .unwrap_or(days.len());
            runs.push(i..j);
            i = j;
        }
        Self {
            asset,
            generation: stored.generation,
            settled_until: stored.settled_until.map(|t| t.min(now)),
            per_day,
            runs,
        }
    }

    /// The windows whose events the missing days need, one per run.
    pub(super) fn windows<'d>(
        &'d self,
        days: &'d [(i64, i64, bool)],
    ) -> impl Iterator<Item = (&'a Asset, (i64, i64))> + 'd {
        self.runs
            .iter()
            .map(|run| (self.asset, (days[run.start].0, days[run.end - 1].1)))
    }

    /// Computes the missing days from `histories` (one per run, in order): the figures of every
    /// day, and the whole, settled days computed, worth storing.
    pub(super) fn finish(
        mut self,
        days: &[(i64, i64, bool)],
        histories: &mut impl Iterator<Item = History>,
        now: i64,
        reasons: &HashMap<i64, &Reason>,
    ) -> (Vec<SpanFigures>, Option<NewDays>) {
        let mut computed = Vec::new();
        for run in std::mem::take(&mut self.runs) {
            let Some(history) = histories.next() else {
                break;
            };
            let range = (days[run.start].0, days[run.end - 1].1);
            let views = history.annotated_stops(self.asset.id, range);
            for k in run {
                let (start, end, whole) = days[k];
                let figures = history.figures(start, end, now);
                let shares =
                    downtime_by_reason(&views, &history, &figures, (start, end), now, reasons);
                if whole && self.settled_until.is_some_and(|t| end <= t) {
                    computed.push(DayRollup {
                        day_start: start,
                        day_end: end,
                        figures,
                        reasons: shares.clone(),
                    });
                }
                self.per_day[k] = Some((figures, shares));
            }
        }
        let settle = (!computed.is_empty()).then_some(NewDays {
            asset_id: self.asset.id,
            generation: self.generation,
            days: computed,
        });
        (self.per_day.into_iter().flatten().collect(), settle)
    }
}

/// Adds the day figures that lie inside each bucket (every day, week and month edge is a local
/// midnight, so each day falls into exactly one bucket; both lists are in time order).
pub(super) fn sum_days(
    days: &[(i64, i64, bool)],
    per_day: &[SpanFigures],
    buckets: &[(i64, i64, Option<String>)],
) -> Vec<Figures> {
    let mut day = days.iter().zip(per_day).peekable();
    buckets
        .iter()
        .map(|(_, end, _)| {
            std::iter::from_fn(|| day.next_if(|((_, e, _), _)| e <= end))
                .map(|(_, (figures, _))| *figures)
                .sum()
        })
        .collect()
}
