//! One window's states per asset, as the timeline draws them: the same timeline of states (an
//! offline logger's time UNKNOWN), planned time and planned downtime that the figures are
//! computed from, and the shifts of the window. A chart drawn from this agrees with the figures:
//! its RUNNING, STOPPED and UNKNOWN inside planned time add up to `run_ms`, `down_ms` and
//! `unknown_ms`, and the rest is not scheduled.

use assetlog_core::kpi::Span;
use assetlog_core::state::RunState;
use serde::Serialize;

use super::history::histories;
use super::{Result, Scope};
use crate::calendar;
use crate::domain::{AssetId, Refusal};
use crate::store::Store;

/// Most state spans one timeline answer may hold, over all its assets: a day of 40 machines
/// that change state every ten seconds is 350,000; beyond that nobody reads the chart, and the
/// answer would be tens of megabytes.
pub const MAX_SPANS: usize = 400_000;

/// Longest window a timeline may cover: a week and a day (a week's shifts, across midnight).
pub const MAX_WINDOW_MS: i64 = 8 * 86_400_000;

/// `[start, end)` in epoch ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Stretch {
    pub start: i64,
    pub end: i64,
}

impl From<Span> for Stretch {
    fn from(s: Span) -> Self {
        Self {
            start: s.start,
            end: s.end,
        }
    }
}

/// A stretch in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StateSpan {
    pub start: i64,
    pub end: i64,
    /// `RUNNING`, `STOPPED` or `UNKNOWN`.
    #[schema(value_type = String, example = "STOPPED")]
    pub state: RunState,
}

/// One asset's states over the window.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssetTimeline {
    pub asset_id: AssetId,
    pub asset_name: String,
    /// Back to back from `from` to the earlier of `to` and `now`.
    pub states: Vec<StateSpan>,
    /// Planned time of the window (the whole window without a calendar or planned downtime):
    /// what the figures count. Sorted, disjoint, inside the window.
    pub planned: Vec<Stretch>,
    /// Planned downtime of this asset (its own and the tenant's), clipped to the window.
    pub downtime: Vec<Stretch>,
}

/// One shift of the window.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ShiftStretch {
    pub name: String,
    /// The whole shift, breaks included (not clipped to the window).
    pub start: i64,
    pub end: i64,
    /// The breaks.
    pub breaks: Vec<Stretch>,
}

impl From<calendar::Occurrence> for ShiftStretch {
    fn from(o: calendar::Occurrence) -> Self {
        Self {
            breaks: calendar::subtract(&[o.span], &o.working)
                .into_iter()
                .map(Stretch::from)
                .collect(),
            name: o.name,
            start: o.span.start,
            end: o.span.end,
        }
    }
}

/// The timeline answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Timeline {
    pub from: i64,
    pub to: i64,
    pub now: i64,
    pub timezone: &'static str,
    /// The shift occurrences that overlap the window, in time order.
    pub shifts: Vec<ShiftStretch>,
    pub assets: Vec<AssetTimeline>,
}

/// The scope's assets' states over its window (at most [`MAX_WINDOW_MS`]).
pub async fn timeline(store: &Store, scope: &Scope) -> Result<Timeline> {
    let (from, to, now) = (scope.from, scope.to, scope.now);
    if to - from > MAX_WINDOW_MS {
        return Err(Refusal::new(
            "invalid_query",
            "a timeline covers at most 8 days: ask for a shorter window",
        )
        .into());
    }
    let windows: Vec<_> = scope.assets.iter().map(|a| (a, (from, to))).collect();
    let all = histories(
        store,
        scope.tenant_id,
        &scope.rules,
        &scope.downtime,
        now,
        &windows,
    )
    .await?;
    let end = to.min(now);
    let window = Span::new(from, to);
    let mut assets = Vec::with_capacity(all.len());
    let mut count = 0;
    for (asset, history) in scope.assets.iter().zip(&all) {
        let states = states(&history.timeline, from, end);
        count += states.len();
        if count > MAX_SPANS {
            return Err(Refusal::new(
                "query_too_large",
                format!(
                    "this timeline holds more than {MAX_SPANS} spans of state: ask for a \
                     shorter window or fewer assets"
                ),
            )
            .into());
        }
        let planned = match history.planned() {
            Some(spans) => spans.iter().map(|&s| s.into()).collect(),
            None => vec![window.into()],
        };
        let downtime = calendar::merge(
            scope
                .downtime
                .iter()
                .filter(|(a, _, _)| a.is_none_or(|a| a == asset.id))
                .map(|&(_, s, e)| Span::new(s, e).intersect(window))
                .collect(),
        );
        assets.push(AssetTimeline {
            asset_id: asset.id,
            asset_name: asset.name.clone(),
            states,
            planned,
            downtime: downtime.into_iter().map(Stretch::from).collect(),
        });
    }
    let shifts = calendar::occurrences(&scope.rules.calendar, scope.rules.tz, from, to)
        .into_iter()
        .map(ShiftStretch::from)
        .collect();
    Ok(Timeline {
        from,
        to,
        now,
        timezone: scope.rules.tz.name(),
        shifts,
        assets,
    })
}

/// The timeline's intervals over `[from, end)`, back to back: time no interval covers is
/// UNKNOWN (as the figures count it), and neighbours in the same state are one span.
fn states(timeline: &[assetlog_core::kpi::Interval], from: i64, end: i64) -> Vec<StateSpan> {
    let mut out: Vec<StateSpan> = Vec::new();
    let mut push = |start: i64, stop: i64, state: RunState| {
        if start >= stop {
            return;
        }
        match out.last_mut() {
            Some(last) if last.state == state && last.end == start => last.end = stop,
            _ => out.push(StateSpan {
                start,
                end: stop,
                state,
            }),
        }
    };
    let mut cursor = from;
    let first = timeline.partition_point(|i| i.span.end <= from);
    for interval in timeline[first..].iter().take_while(|i| i.span.start < end) {
        let span = interval.span.intersect(Span::new(from, end));
        push(cursor, span.start, RunState::Unknown);
        push(span.start, span.end, interval.state);
        cursor = cursor.max(span.end);
    }
    push(cursor, end, RunState::Unknown);
    out
}

#[cfg(test)]
mod tests {
    use assetlog_core::kpi::Interval;

    use super::*;

    #[test]
    fn states_cover_the_window_back_to_back_with_gaps_unknown() {
        let iv = |s, e, state| Interval {
            span: Span::new(s, e),
            state,
        };
        let timeline = [
            iv(0, 10, RunState::Running),
            iv(10, 20, RunState::Stopped),
            iv(30, 40, RunState::Unknown),
            iv(40, 50, RunState::Unknown),
            iv(50, 100, RunState::Running),
        ];
        let got = states(&timeline, 5, 60);
        let want = [
            (5, 10, RunState::Running),
            (10, 20, RunState::Stopped),
            (20, 50, RunState::Unknown),
            (50, 60, RunState::Running),
        ];
        let got: Vec<_> = got.iter().map(|s| (s.start, s.end, s.state)).collect();
        assert_eq!(got, want);
        assert_eq!(
            states(&[], 0, 10),
            [StateSpan {
                start: 0,
                end: 10,
                state: RunState::Unknown
            }]
        );
        assert!(states(&timeline, 10, 10).is_empty());
    }
}
