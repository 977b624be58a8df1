//! Down time by reason: each stop part's reason, tallied per window, merged over days and
//! assets, and named for the answer (a Pareto, largest first).

use std::collections::{BTreeMap, HashMap};

use assetlog_core::kpi::{self, Figures, Span};
use serde::Serialize;

use super::history::{History, StopView};
use crate::store::Reason;

/// Down time and stops of one reason, as the API shows them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReasonShare {
    pub reason_id: Option<i64>,
    pub name: String,
    pub category: Option<String>,
    pub stops: u64,
    pub down_ms: i64,
}

/// Down time and stops of one reason: `(reason_id, or None for unassigned, stops, down_ms)`.
pub type Tally = (Option<i64>, u64, i64);

/// Down time of the window by reason; what no reason covers (unannotated stops, and down time
/// after an unknown state, which is no stop) is "unassigned". In reason id order; see [`named`].
///
/// A stop counts once, as the figures count it (it begins inside the window and inside planned
/// time), under the reason of its first part; the later parts of a split stop add their down
/// time to their own reasons but no stop. So the stops of all reasons add up to the figures'
/// `stops`, and the down time to their `down_ms`.
pub(super) fn downtime_by_reason(
    views: &[StopView],
    history: &History,
    figures: &Figures,
    (from, to): (i64, i64),
    now: i64,
    reasons: &HashMap<i64, &Reason>,
) -> Vec<Tally> {
    let mut shares: BTreeMap<Option<i64>, (u64, i64)> = BTreeMap::new();
    let window = Span::new(from, to);
    let mut assigned_ms = 0;
    for v in views {
        let down = kpi::down_ms_in(Span::new(v.start, v.end), window, history.planned(), now);
        let counted = v.start == v.stop_start
            && (from..to).contains(&v.stop_start)
            && history.is_planned(v.stop_start);
        if down == 0 && !counted {
            continue;
        }
        let reason = v.reason_id.filter(|r| reasons.contains_key(r));
        let entry = shares.entry(reason).or_default();
        entry.0 += u64::from(counted);
        entry.1 += down;
        if reason.is_some() {
            assigned_ms += down;
        }
    }
    let unassigned = shares.entry(None).or_default();
    unassigned.1 = figures.down_ms - assigned_ms;
    shares
        .into_iter()
        .filter(|(id, (stops, down))| id.is_some() || *stops > 0 || *down > 0)
        .map(|(id, (stops, down_ms))| (id, stops, down_ms))
        .collect()
}

/// Adds tallies of several windows or assets, reason by reason (in reason id order).
pub(super) fn merge_tallies(all: impl IntoIterator<Item = Tally>) -> Vec<Tally> {
    let mut merged: BTreeMap<Option<i64>, (u64, i64)> = BTreeMap::new();
    for (id, stops, down_ms) in all {
        let entry = merged.entry(id).or_default();
        entry.0 += stops;
        entry.1 += down_ms;
    }
    merged
        .into_iter()
        .map(|(id, (stops, down_ms))| (id, stops, down_ms))
        .collect()
}

/// The tallies as the API shows them: named, a reason deleted since counted as unassigned (its
/// deletion also forgets the rollups that named it), largest first (a Pareto).
pub(super) fn named(tallies: &[Tally], reasons: &HashMap<i64, &Reason>) -> Vec<ReasonShare> {
    let known = merge_tallies(
        tallies
            .iter()
            .map(|&(id, stops, down)| (id.filter(|r| reasons.contains_key(r)), stops, down)),
    );
    let mut out: Vec<ReasonShare> = known
        .into_iter()
        .filter(|(id, stops, down)| id.is_some() || *stops > 0 || *down > 0)
        .map(|(id, stops, down_ms)| {
            let reason = id.and_then(|r| reasons.get(&r));
            ReasonShare {
                reason_id: id,
                name: reason.map_or_else(|| "Unassigned".to_owned(), |r| r.name.clone()),
                category: reason.map(|r| r.category.clone()),
                stops,
                down_ms,
            }
        })
        .collect();
    out.sort_by(|a, b| b.down_ms.cmp(&a.down_ms).then(b.stops.cmp(&a.stops)));
    out
}
