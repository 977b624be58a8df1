//! The KPI arithmetic: one asset's RUNNING/STOPPED events become a [`timeline`] of intervals, its
//! [`stops`], and the [`figures`] of a window (run, down, unknown and unplanned time,
//! availability, stops, short and long stops, MTBF, MTTR), whole or [`bucketed`].
//!
//! Nothing here knows about calendars or time zones. Every time is UTC epoch milliseconds, and
//! the caller (the server) turns the tenant's zone, shifts, breaks and planned downtime into
//! plain [`Span`]s and bucket boundaries before calling in. `now` is a parameter too: time at or
//! after `now` counts nowhere.
//!
//! # The rules
//! For one asset:
//! - **Events.** Each event sets the state from its `ts` until the next event's `ts`. Events are
//!   ordered by `(ts, seq)` whatever order they arrive in; exact duplicates count once; events at
//!   the same `ts` apply in `seq` order, so the last of them holds from that `ts` on (the others
//!   last zero time). A repeat of the current state changes nothing. Events at or after `now`
//!   are ignored. Before the first event the state is UNKNOWN.
//! - **Offline spans.** While the asset's logger is offline, from its last contact `start` until
//!   it reports again `end`, the state is UNKNOWN from `start` until the first event with
//!   `start < ts < end` (a backfilled event), and from that event on the events say the state. So
//!   a backfilled batch covers the gap from its first event; a gap with no event inside is
//!   UNKNOWN throughout; after `end` the events say the state again (the last event before the
//!   gap if none came during it). An event at exactly `start` is the last contact itself, not a
//!   backfill, and does not cover the gap. Each offline span is judged on its own: where spans
//!   overlap, a moment is UNKNOWN if any of them makes it so.
//! - **Stops.** A stop is a STOPPED interval that directly follows a RUNNING interval; a STOPPED
//!   interval after UNKNOWN (or first of all) is down time but not a stop, since nobody knows
//!   when it began. A stop lasts its whole STOPPED interval: until the next RUNNING, or until the
//!   state becomes UNKNOWN (the logger went offline), or until `now`, in which case it is
//!   *ongoing*. Its duration is that whole length, also beyond a window's end.
//! - **Short and long.** A stop is short when its duration is below the threshold, long when at
//!   or above it; an ongoing stop is short until it reaches the threshold.
//!
//! For a window `[from, to)`, only the part before `now` counts, and of that only planned time
//! (`planned`: sorted, non-overlapping spans; `None` means all time is planned):
//! - `run_ms`, `down_ms`, `unknown_ms`: planned time RUNNING, STOPPED, UNKNOWN;
//!   `unplanned_ms`: the rest. The four always sum to `max(0, min(to, now) - from)`.
//! - `stops`, `short_stops`, `long_stops`: stops that begin inside the window and inside planned
//!   time.
//! - `availability = run_ms / (run_ms + down_ms)`, `None` when both are 0.
//! - `mtbf_ms = run_ms / stops`, `mttr_ms = down_ms / stops`, in whole milliseconds rounded down,
//!   `None` when there is no stop.
//! - Buckets `[b_i, b_i+1)` carry the same figures; a stop belongs to the bucket it begins in,
//!   so the buckets of a window always add up to the whole window.
//!
//! ```
//! use assetlog_core::kpi::{self, Event, Span};
//!
//! let min = 60_000;
//! let events = [
//!     Event { ts: 0, seq: 1, running: true },
//!     Event { ts: 60 * min, seq: 2, running: false },
//!     Event { ts: 64 * min, seq: 3, running: true },
//! ];
//! let now = 120 * min;
//! let timeline = kpi::timeline(&events, &[], now);
//! let stops = kpi::stops(&timeline, now);
//! let f = kpi::figures(&timeline, &stops, Span::new(0, now), None, now, 5 * min);
//! assert_eq!((f.run_ms, f.down_ms, f.stops, f.short_stops), (116 * min, 4 * min, 1, 1));
//! assert_eq!(f.mttr_ms, Some(4 * min));
//! ```

use alloc::vec::Vec;
use core::cmp::{max, min};
use core::iter::Sum;
use core::ops::Add;

use serde::{Deserialize, Serialize};

use crate::RunState;

/// One stored state change of an asset.
///
/// The derived order, `(ts, seq, running)`, is the order events apply in. Two events that differ
/// only in `running` (no logger sends such a pair) thus resolve to RUNNING, whatever their arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Event {
    /// When the change happened, UTC epoch milliseconds.
    pub ts: i64,
    /// Orders events with the same `ts` (the logger's sequence number).
    pub seq: i64,
    /// The new state.
    pub running: bool,
}

/// A half-open span of time `[start, end)`, UTC epoch milliseconds. A span with `end <= start`
/// is empty. Ordered by start, then end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Span {
    pub start: i64,
    pub end: i64,
}

impl Span {
    pub const fn new(start: i64, end: i64) -> Self {
        Self { start, end }
    }

    /// The length in milliseconds; 0 when empty.
    pub const fn len_ms(self) -> i64 {
        if self.end > self.start {
            self.end - self.start
        } else {
            0
        }
    }

    /// Whether `t` lies in `[start, end)`.
    pub const fn contains(self, t: i64) -> bool {
        self.start <= t && t < self.end
    }

    /// The part of `self` that lies inside `other` (possibly empty).
    pub fn intersect(self, other: Span) -> Span {
        Span::new(max(self.start, other.start), min(self.end, other.end))
    }
}

/// A stretch of time in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Interval {
    pub span: Span,
    pub state: RunState,
}

/// A STOPPED interval that directly follows a RUNNING one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stop {
    /// When the asset stopped.
    pub start: i64,
    /// When the STOPPED interval ended: the asset ran again, its logger went offline, or `now`.
    pub end: i64,
    /// `end - start`: the whole stop, also the part outside any window.
    pub duration_ms: i64,
    /// Still stopped at `now`; `end` is `now` and the duration still grows.
    pub ongoing: bool,
}

impl Stop {
    /// Below the short-stop threshold. An ongoing stop is short until it reaches the threshold.
    pub const fn is_short(&self, short_stop_ms: i64) -> bool {
        self.duration_ms < short_stop_ms
    }
}

/// The figures of one asset (or of several, summed with `+` or [`Sum`]) over one window.
///
/// Field names are the API's.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Figures {
    /// Planned time RUNNING.
    pub run_ms: i64,
    /// Planned time STOPPED.
    pub down_ms: i64,
    /// Planned time with no trustworthy state: before the first event, logger offline.
    pub unknown_ms: i64,
    /// Window time outside planned time (before `now`).
    pub unplanned_ms: i64,
    /// Stops that begin inside the window and inside planned time.
    pub stops: u64,
    /// Of `stops`, those shorter than the threshold.
    pub short_stops: u64,
    /// Of `stops`, those at or above the threshold.
    pub long_stops: u64,
    /// `run_ms / (run_ms + down_ms)`; `None` when both are 0.
    pub availability: Option<f64>,
    /// `run_ms / stops`, rounded down; `None` when there is no stop.
    pub mtbf_ms: Option<i64>,
    /// `down_ms / stops`, rounded down; `None` when there is no stop.
    pub mttr_ms: Option<i64>,
}

impl Figures {
    /// Figures from the summed times and counts; availability, MTBF and MTTR derived from them.
    pub fn from_parts(
        run_ms: i64,
        down_ms: i64,
        unknown_ms: i64,
        unplanned_ms: i64,
        short_stops: u64,
        long_stops: u64,
    ) -> Self {
        let stops = short_stops + long_stops;
        let known = run_ms + down_ms;
        let per_stop = |ms: i64| (stops > 0).then(|| ms / stops as i64);
        Self {
            run_ms,
            down_ms,
            unknown_ms,
            unplanned_ms,
            stops,
            short_stops,
            long_stops,
            availability: (known > 0).then(|| run_ms as f64 / known as f64),
            mtbf_ms: per_stop(run_ms),
            mttr_ms: per_stop(down_ms),
        }
    }

    /// The whole time the figures cover: `run_ms + down_ms + unknown_ms + unplanned_ms`.
    pub const fn total_ms(&self) -> i64 {
        self.run_ms + self.down_ms + self.unknown_ms + self.unplanned_ms
    }
}

/// Sums times and counts (several assets, or several windows) and derives availability, MTBF
/// and MTTR again from the sums: never an average of ratios.
impl Add for Figures {
    type Output = Figures;

    fn add(self, other: Figures) -> Figures {
        Figures::from_parts(
            self.run_ms + other.run_ms,
            self.down_ms + other.down_ms,
            self.unknown_ms + other.unknown_ms,
            self.unplanned_ms + other.unplanned_ms,
            self.short_stops + other.short_stops,
            self.long_stops + other.long_stops,
        )
    }
}

impl Sum for Figures {
    /// Adds the times and counts, then derives availability, MTBF and MTTR once.
    fn sum<I: Iterator<Item = Figures>>(iter: I) -> Figures {
        let (mut run, mut down, mut unknown, mut unplanned, mut short, mut long) =
            (0, 0, 0, 0, 0, 0);
        for f in iter {
            run += f.run_ms;
            down += f.down_ms;
            unknown += f.unknown_ms;
            unplanned += f.unplanned_ms;
            short += f.short_stops;
            long += f.long_stops;
        }
        Figures::from_parts(run, down, unknown, unplanned, short, long)
    }
}

impl<'a> Sum<&'a Figures> for Figures {
    fn sum<I: Iterator<Item = &'a Figures>>(iter: I) -> Figures {
        iter.copied().sum()
    }
}

/// The asset's timeline: sorted, non-overlapping intervals, adjacent ones always of different
/// states, covering `[first event's ts, now)` without a gap. Before it every moment is UNKNOWN.
/// Empty when no event lies before `now`.
///
/// `events` may come in any order and hold exact duplicates. `offline` are the logger's offline
/// spans (last contact to next report), in any order, overlapping or not. See the module doc for
/// the rules.
pub fn timeline(events: &[Event], offline: &[Span], now: i64) -> Vec<Interval> {
    // One change per distinct ts: the state after the last event (in seq order) at that ts.
    let mut sorted: Vec<Event> = events.iter().copied().filter(|e| e.ts < now).collect();
    sorted.sort_unstable();
    let mut changes: Vec<(i64, RunState)> = Vec::with_capacity(sorted.len());
    for e in sorted {
        let state = RunState::from_running(e.running);
        match changes.last_mut() {
            Some(last) if last.0 == e.ts => last.1 = state,
            _ => changes.push((e.ts, state)),
        }
    }

    // The UNKNOWN part of each offline span: from its start to its first event strictly inside.
    // Each span is judged on its own; the parts may overlap, which the overlay below allows.
    let mut unknown: Vec<Span> = offline
        .iter()
        .map(|gap| {
            let next = changes.partition_point(|c| c.0 <= gap.start);
            let covered_from = changes.get(next).map_or(gap.end, |c| min(c.0, gap.end));
            Span::new(gap.start, min(covered_from, now))
        })
        .filter(|s| s.len_ms() > 0)
        .collect();
    unknown.sort_unstable_by_key(|s| s.start);

    // Lay the event states down and the UNKNOWN spans over them. Every span before `u` has ended
    // by `at`; they are sorted by start, so when `unknown[u]` has not begun, no later one has.
    let mut out: Vec<Interval> = Vec::with_capacity(changes.len() + 2 * unknown.len());
    let mut push = |start: i64, end: i64, state: RunState| {
        if end <= start {
            return;
        }
        match out.last_mut() {
            Some(last) if last.state == state && last.span.end == start => last.span.end = end,
            _ => out.push(Interval {
                span: Span::new(start, end),
                state,
            }),
        }
    };
    let mut u = 0;
    for (i, &(start, state)) in changes.iter().enumerate() {
        let end = changes.get(i + 1).map_or(now, |c| c.0);
        let mut at = start;
        while at < end {
            while u < unknown.len() && unknown[u].end <= at {
                u += 1;
            }
            match unknown.get(u) {
                Some(gap) if gap.start <= at => {
                    let until = min(gap.end, end);
                    push(at, until, RunState::Unknown);
                    at = until;
                }
                Some(gap) => {
                    let until = min(gap.start, end);
                    push(at, until, state);
                    at = until;
                }
                None => {
                    push(at, end, state);
                    at = end;
                }
            }
        }
    }
    out
}

/// The stops in a timeline, in order of start. `timeline` is sorted and non-overlapping, as
/// [`timeline`] returns it; a stop is ongoing when its interval reaches `now`.
pub fn stops(timeline: &[Interval], now: i64) -> Vec<Stop> {
    timeline
        .windows(2)
        .filter(|w| {
            w[0].state == RunState::Running
                && w[1].state == RunState::Stopped
                && w[0].span.end == w[1].span.start
        })
        .map(|w| Stop {
            start: w[1].span.start,
            end: w[1].span.end,
            duration_ms: w[1].span.len_ms(),
            ongoing: w[1].span.end >= now,
        })
        .collect()
}

/// The figures of `window`: see the module doc.
///
/// `timeline` and `stops` are what [`timeline`] and [`stops`] returned for the same `now`;
/// time the timeline does not cover counts as UNKNOWN. `planned` is sorted and non-overlapping,
/// `None` when all time is planned. A stop is short when its duration is below `short_stop_ms`.
pub fn figures(
    timeline: &[Interval],
    stops: &[Stop],
    window: Span,
    planned: Option<&[Span]>,
    now: i64,
    short_stop_ms: i64,
) -> Figures {
    let window = Span::new(window.start, min(window.end, now));
    if window.len_ms() == 0 {
        return Figures::default();
    }
    let planned_ms = planned_ms_in(window, planned);
    let (mut run_ms, mut down_ms) = (0, 0);
    let first = timeline.partition_point(|i| i.span.end <= window.start);
    for interval in timeline[first..]
        .iter()
        .take_while(|i| i.span.start < window.end)
    {
        let ms = planned_ms_in(interval.span.intersect(window), planned);
        match interval.state {
            RunState::Running => run_ms += ms,
            RunState::Stopped => down_ms += ms,
            RunState::Unknown => {}
        }
    }
    let (mut short, mut long) = (0, 0);
    let first = stops.partition_point(|s| s.start < window.start);
    for stop in stops[first..]
        .iter()
        .take_while(|s| s.start < window.end)
        .filter(|s| is_planned(s.start, planned))
    {
        if stop.is_short(short_stop_ms) {
            short += 1;
        } else {
            long += 1;
        }
    }
    Figures::from_parts(
        run_ms,
        down_ms,
        planned_ms - run_ms - down_ms,
        window.len_ms() - planned_ms,
        short,
        long,
    )
}

/// The figures of each bucket `[boundaries[i], boundaries[i + 1])`; `boundaries` sorted (local
/// midnights, shift starts, …, already turned into UTC). One fewer bucket than boundaries.
pub fn bucketed(
    timeline: &[Interval],
    stops: &[Stop],
    boundaries: &[i64],
    planned: Option<&[Span]>,
    now: i64,
    short_stop_ms: i64,
) -> Vec<Figures> {
    boundaries
        .windows(2)
        .map(|b| {
            let window = Span::new(b[0], b[1]);
            figures(timeline, stops, window, planned, now, short_stop_ms)
        })
        .collect()
}

/// The down time that a STOPPED `span` (a stop, or one part of a stop split for its reasons)
/// adds to `window`'s `down_ms`: its part inside the window, before `now`, in planned time.
pub fn down_ms_in(span: Span, window: Span, planned: Option<&[Span]>, now: i64) -> i64 {
    let span = span.intersect(window).intersect(Span::new(span.start, now));
    planned_ms_in(span, planned)
}

/// How much of `span` is planned.
fn planned_ms_in(span: Span, planned: Option<&[Span]>) -> i64 {
    let Some(planned) = planned else {
        return span.len_ms();
    };
    if span.len_ms() == 0 {
        return 0;
    }
    let first = planned.partition_point(|p| p.end <= span.start);
    planned[first..]
        .iter()
        .take_while(|p| p.start < span.end)
        .map(|p| p.intersect(span).len_ms())
        .sum()
}

fn is_planned(t: i64, planned: Option<&[Span]>) -> bool {
    let Some(planned) = planned else {
        return true;
    };
    let first = planned.partition_point(|p| p.end <= t);
    planned.get(first).is_some_and(|p| p.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    /// Monday 2024-03-04 00:00 UTC.
    const DAY0: i64 = 1_709_510_400_000;
    /// The default short-stop threshold, 300 s.
    const SHORT: i64 = 5 * MIN;

    /// `h:m` on DAY0 (hours past 24 run into the next days).
    fn at(h: i64, m: i64) -> i64 {
        DAY0 + h * HOUR + m * MIN
    }

    /// Events at `(h, m, running)`, numbered 1, 2, 3, … in the order given.
    fn events(list: &[(i64, i64, bool)]) -> Vec<Event> {
        list.iter()
            .zip(1..)
            .map(|(&(h, m, running), seq)| Event {
                ts: at(h, m),
                seq,
                running,
            })
            .collect()
    }

    fn span(from: (i64, i64), to: (i64, i64)) -> Span {
        Span::new(at(from.0, from.1), at(to.0, to.1))
    }

    fn iv(from: (i64, i64), to: (i64, i64), state: RunState) -> Interval {
        Interval {
            span: span(from, to),
            state,
        }
    }

    fn day() -> Span {
        span((0, 0), (24, 0))
    }

    /// The timeline, stops and figures of one asset.
    fn compute(
        events: &[Event],
        offline: &[Span],
        window: Span,
        planned: Option<&[Span]>,
        now: i64,
    ) -> (Vec<Interval>, Vec<Stop>, Figures) {
        let tl = timeline(events, offline, now);
        let st = stops(&tl, now);
        let f = figures(&tl, &st, window, planned, now, SHORT);
        (tl, st, f)
    }

    const RUN: bool = true;
    const STOP: bool = false;
    use RunState::{Running as R, Stopped as S, Unknown as U};

    /// RUNNING from 06:00; a 4 min stop at 09:58 (short); a 45 min stop at 12:00 (long); the
    /// logger offline 14:00–15:00 with nothing backfilled; running to midnight.
    fn hand_worked_day() -> (Vec<Event>, Vec<Span>) {
        let ev = events(&[
            (6, 0, RUN),
            (9, 58, STOP),
            (10, 2, RUN),
            (12, 0, STOP),
            (12, 45, RUN),
        ]);
        (ev, vec![span((14, 0), (15, 0))])
    }

    #[test]
    fn a_hand_worked_day() {
        let (ev, offline) = hand_worked_day();
        let (tl, st, f) = compute(&ev, &offline, day(), None, at(24, 0));
        assert_eq!(
            tl,
            [
                iv((6, 0), (9, 58), R),
                iv((9, 58), (10, 2), S),
                iv((10, 2), (12, 0), R),
                iv((12, 0), (12, 45), S),
                iv((12, 45), (14, 0), R),
                iv((14, 0), (15, 0), U),
                iv((15, 0), (24, 0), R),
            ]
        );
        let stop = |start, end| Stop {
            start,
            end,
            duration_ms: end - start,
            ongoing: false,
        };
        assert_eq!(
            st,
            [stop(at(9, 58), at(10, 2)), stop(at(12, 0), at(12, 45))]
        );
        // run 3:58 + 1:58 + 1:15 + 9:00; down 4 + 45 min; unknown 00:00–06:00 and 14:00–15:00.
        assert_eq!(
            f,
            Figures {
                run_ms: 971 * MIN,
                down_ms: 49 * MIN,
                unknown_ms: 7 * HOUR,
                unplanned_ms: 0,
                stops: 2,
                short_stops: 1,
                long_stops: 1,
                availability: Some(971.0 / 1020.0),
                mtbf_ms: Some(971 * MIN / 2),
                mttr_ms: Some(49 * MIN / 2),
            }
        );
        assert_eq!(f.total_ms(), 24 * HOUR);
    }

    #[test]
    fn only_planned_time_counts() {
        // Two shifts 06:00–14:00 and 14:00–22:00, a break 10:00–10:30 in the first.
        let (ev, offline) = hand_worked_day();
        let planned = [span((6, 0), (10, 0)), span((10, 30), (22, 0))];
        let (_, _, f) = compute(&ev, &offline, day(), Some(&planned), at(24, 0));
        // run 06:00–09:58, 10:30–12:00, 12:45–14:00, 15:00–22:00; down 09:58–10:00, 12:00–12:45.
        assert_eq!(
            f,
            Figures {
                run_ms: (238 + 90 + 75 + 420) * MIN,
                down_ms: 47 * MIN,
                unknown_ms: HOUR,
                unplanned_ms: 24 * HOUR - 930 * MIN,
                stops: 2,
                // the 09:58 stop lasts 4 min although only 2 of them are planned
                short_stops: 1,
                long_stops: 1,
                availability: Some(823.0 / 870.0),
                mtbf_ms: Some(823 * MIN / 2),
                mttr_ms: Some(47 * MIN / 2),
            }
        );
    }

    #[test]
    fn a_stop_that_begins_in_a_break_is_down_time_but_not_counted() {
        let ev = events(&[(6, 0, RUN), (10, 10, STOP), (10, 50, RUN)]);
        let planned = [span((6, 0), (10, 0)), span((10, 30), (14, 0))];
        let window = span((6, 0), (14, 0));
        let (_, st, f) = compute(&ev, &[], window, Some(&planned), at(24, 0));
        assert_eq!(st.len(), 1);
        assert_eq!((f.stops, f.down_ms, f.mttr_ms), (0, 20 * MIN, None));
        assert_eq!(f.run_ms, 4 * HOUR + 190 * MIN);
        assert_eq!(f.unplanned_ms, 30 * MIN);
    }

    /// A name, the events, the offline spans, `now`, and the timeline expected.
    type TimelineCase<'a> = (&'a str, Vec<Event>, Vec<Span>, i64, Vec<Interval>);

    #[test]
    fn timelines_follow_the_table() {
        let now = at(24, 0);
        #[rustfmt::skip]
        let cases: Vec<TimelineCase<'_>> = vec![
            ("no events, no timeline", vec![], vec![span((1, 0), (2, 0))], now, vec![]),
            ("the last state runs to now",
                events(&[(6, 0, RUN)]), vec![], at(7, 0),
                vec![iv((6, 0), (7, 0), R)]),
            ("events at or after now are ignored",
                events(&[(6, 0, RUN), (7, 0, STOP), (8, 0, STOP)]), vec![], at(7, 0),
                vec![iv((6, 0), (7, 0), R)]),
            ("a repeat of the current state changes nothing",
                events(&[(6, 0, RUN), (7, 0, RUN), (8, 0, STOP), (8, 30, STOP), (9, 0, RUN)]),
                vec![], at(10, 0),
                vec![iv((6, 0), (8, 0), R), iv((8, 0), (9, 0), S), iv((9, 0), (10, 0), R)]),
            ("an offline gap with nothing backfilled is unknown, then the last state goes on",
                events(&[(6, 0, RUN)]), vec![span((8, 0), (9, 0))], at(10, 0),
                vec![iv((6, 0), (8, 0), R), iv((8, 0), (9, 0), U), iv((9, 0), (10, 0), R)]),
            ("a backfilled batch covers the gap from its first event",
                events(&[(6, 0, RUN), (8, 20, RUN), (8, 40, STOP), (9, 30, RUN)]),
                vec![span((8, 0), (9, 0))], at(10, 0),
                vec![iv((6, 0), (8, 0), R), iv((8, 0), (8, 20), U), iv((8, 20), (8, 40), R),
                     iv((8, 40), (9, 30), S), iv((9, 30), (10, 0), R)]),
            ("an event at the gap's start is the last contact, not a backfill",
                events(&[(6, 0, RUN), (8, 0, STOP)]), vec![span((8, 0), (9, 0))], at(10, 0),
                vec![iv((6, 0), (8, 0), R), iv((8, 0), (9, 0), U), iv((9, 0), (10, 0), S)]),
            ("an event at the gap's end is no backfill either",
                events(&[(6, 0, RUN), (9, 0, STOP)]), vec![span((8, 0), (9, 0))], at(10, 0),
                vec![iv((6, 0), (8, 0), R), iv((8, 0), (9, 0), U), iv((9, 0), (10, 0), S)]),
            ("a logger offline now leaves the state unknown until now",
                events(&[(6, 0, RUN)]), vec![span((8, 0), (30, 0))], at(10, 0),
                vec![iv((6, 0), (8, 0), R), iv((8, 0), (10, 0), U)]),
            ("overlapping offline spans are each judged on their own",
                events(&[(6, 0, RUN), (8, 10, STOP)]),
                vec![span((8, 30), (9, 30)), span((8, 0), (9, 0))], at(10, 0),
                vec![iv((6, 0), (8, 0), R), iv((8, 0), (8, 10), U), iv((8, 10), (8, 30), S),
                     iv((8, 30), (9, 30), U), iv((9, 30), (10, 0), S)]),
            ("overlapping unknown parts join",
                events(&[(6, 0, RUN), (8, 40, STOP)]),
                vec![span((8, 30), (9, 30)), span((8, 0), (9, 0))], at(10, 0),
                vec![iv((6, 0), (8, 0), R), iv((8, 0), (8, 40), U), iv((8, 40), (10, 0), S)]),
            ("a gap before the first event changes nothing",
                events(&[(6, 0, RUN)]), vec![span((1, 0), (2, 0)), span((5, 0), (6, 30))], at(7, 0),
                vec![iv((6, 0), (7, 0), R)]),
            ("a gap that the first event falls in is unknown before it anyway",
                events(&[(6, 0, STOP)]), vec![span((5, 0), (8, 0))], at(9, 0),
                vec![iv((6, 0), (9, 0), S)]),
        ];
        for (name, ev, offline, now, expected) in cases {
            assert_eq!(timeline(&ev, &offline, now), expected, "{name}");
        }
    }

    #[test]
    fn events_with_equal_ts_apply_in_seq_order_whatever_their_arrival() {
        let e = |seq, running| Event {
            ts: at(8, 0),
            seq,
            running,
        };
        let start = Event {
            ts: at(6, 0),
            seq: 1,
            running: false,
        };
        let now = at(9, 0);
        // STOPPED, then RUNNING and STOPPED at 08:00: the asset stays stopped, no stop counted.
        let tl = timeline(&[e(3, false), start, e(2, true)], &[], now);
        assert_eq!(tl, [iv((6, 0), (9, 0), S)]);
        assert!(stops(&tl, now).is_empty());
        // STOPPED and RUNNING at 08:00 in that seq order: it runs from 08:00.
        let tl = timeline(&[e(3, true), start, e(2, false)], &[], now);
        assert_eq!(tl, [iv((6, 0), (8, 0), S), iv((8, 0), (9, 0), R)]);
    }

    #[test]
    fn exact_duplicates_count_once() {
        let ev = events(&[(6, 0, RUN), (7, 0, STOP), (7, 10, RUN)]);
        let doubled: Vec<Event> = ev.iter().chain(ev.iter().rev()).copied().collect();
        let now = at(8, 0);
        let (tl, st, f) = compute(&doubled, &[], day(), None, now);
        assert_eq!(tl, timeline(&ev, &[], now));
        assert_eq!(st.len(), 1);
        assert_eq!((f.run_ms, f.down_ms, f.stops), (110 * MIN, 10 * MIN, 1));
    }

    #[test]
    fn stopped_after_unknown_is_down_time_but_not_a_stop() {
        let now = at(12, 0);
        // The first event says STOPPED: nobody knows when it stopped.
        let (_, st, f) = compute(&events(&[(6, 0, STOP)]), &[], day(), None, now);
        assert!(st.is_empty());
        assert_eq!(
            (f.down_ms, f.stops, f.availability),
            (6 * HOUR, 0, Some(0.0))
        );

        // Running before an offline gap, the first backfilled event says STOPPED.
        let ev = events(&[(6, 0, RUN), (8, 20, STOP), (9, 30, RUN), (10, 0, STOP)]);
        let (_, st, f) = compute(&ev, &[span((8, 0), (9, 0))], day(), None, now);
        assert_eq!(st.iter().map(|s| s.start).collect::<Vec<_>>(), [at(10, 0)]);
        assert_eq!(f.down_ms, 70 * MIN + 2 * HOUR);
        assert_eq!(f.unknown_ms, 6 * HOUR + 20 * MIN);

        // A backfilled batch that starts RUNNING makes its stops count.
        let ev = events(&[(6, 0, RUN), (8, 10, RUN), (8, 20, STOP), (9, 30, RUN)]);
        let (_, st, _) = compute(&ev, &[span((8, 0), (9, 0))], day(), None, now);
        assert_eq!(st.iter().map(|s| s.start).collect::<Vec<_>>(), [at(8, 20)]);
    }

    #[test]
    fn a_stop_ends_where_its_logger_goes_offline() {
        let ev = events(&[(6, 0, RUN), (7, 0, STOP)]);
        let now = at(12, 0);
        let (tl, st, f) = compute(&ev, &[span((7, 30), (8, 0))], day(), None, now);
        let ended = Stop {
            start: at(7, 0),
            end: at(7, 30),
            duration_ms: 30 * MIN,
            ongoing: false,
        };
        assert_eq!(st, [ended]);
        // after the gap it is still STOPPED, as the last event said, but that is no new stop
        assert_eq!(tl.last(), Some(&iv((8, 0), (12, 0), S)));
        assert_eq!((f.stops, f.down_ms), (1, 30 * MIN + 4 * HOUR));
    }

    #[test]
    fn an_ongoing_stop_is_short_until_it_reaches_the_threshold() {
        let ev = events(&[(6, 0, RUN), (10, 0, STOP)]);
        let window = day();

        let now = at(10, 3);
        let (_, st, f) = compute(&ev, &[], window, None, now);
        let ongoing = Stop {
            start: at(10, 0),
            end: now,
            duration_ms: 3 * MIN,
            ongoing: true,
        };
        assert_eq!(st, [ongoing]);
        assert!(ongoing.is_short(SHORT));
        assert_eq!((f.short_stops, f.long_stops), (1, 0));
        assert_eq!(
            (f.run_ms, f.down_ms, f.unknown_ms),
            (4 * HOUR, 3 * MIN, 6 * HOUR)
        );
        assert_eq!(f.total_ms(), now - window.start);

        let now = at(10, 5);
        let (_, st, f) = compute(&ev, &[], window, None, now);
        assert_eq!((st[0].duration_ms, st[0].ongoing), (SHORT, true));
        assert_eq!((f.short_stops, f.long_stops), (0, 1));

        // once it ran again, it is over
        let ev = events(&[(6, 0, RUN), (10, 0, STOP), (10, 7, RUN)]);
        let (_, st, _) = compute(&ev, &[], window, None, at(11, 0));
        assert_eq!((st[0].duration_ms, st[0].ongoing), (7 * MIN, false));
    }

    #[test]
    fn a_window_counts_nothing_after_now() {
        let ev = events(&[(6, 0, RUN)]);
        let (_, _, f) = compute(&ev, &[], day(), None, at(8, 0));
        assert_eq!(
            (f.run_ms, f.unknown_ms, f.total_ms()),
            (2 * HOUR, 6 * HOUR, 8 * HOUR)
        );
        let (_, _, f) = compute(&ev, &[], span((9, 0), (10, 0)), None, at(8, 0));
        assert_eq!(f, Figures::default());
        assert_eq!(f.availability, None);
        let (_, _, f) = compute(&[], &[], day(), None, at(30, 0));
        assert_eq!(
            (f.unknown_ms, f.total_ms(), f.availability),
            (24 * HOUR, 24 * HOUR, None)
        );
    }

    #[test]
    fn a_stop_belongs_to_the_bucket_it_begins_in() {
        // stopped 23:50 to 00:20 the next day
        let ev = events(&[(22, 0, RUN), (23, 50, STOP), (24, 20, RUN)]);
        let now = at(48, 0);
        let tl = timeline(&ev, &[], now);
        let st = stops(&tl, now);
        let boundaries = [at(0, 0), at(24, 0), at(48, 0)];
        let b = bucketed(&tl, &st, &boundaries, None, now, SHORT);
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0].stops, b[0].long_stops, b[0].down_ms),
            (1, 1, 10 * MIN)
        );
        assert_eq!(
            (b[1].stops, b[1].down_ms, b[1].mttr_ms),
            (0, 20 * MIN, None)
        );
        let whole = figures(&tl, &st, span((0, 0), (48, 0)), None, now, SHORT);
        assert_eq!(b.iter().sum::<Figures>(), whole);

        // a 23 h day and a 25 h day: the stop now begins in the second bucket
        let boundaries = [at(0, 0), at(23, 0), at(48, 0)];
        let b = bucketed(&tl, &st, &boundaries, None, now, SHORT);
        assert_eq!((b[0].total_ms(), b[1].total_ms()), (23 * HOUR, 25 * HOUR));
        assert_eq!((b[0].stops, b[1].stops), (0, 1));
        assert!(bucketed(&tl, &st, &boundaries[..1], None, now, SHORT).is_empty());
    }

    #[test]
    fn a_total_sums_times_and_counts_and_derives_the_ratios_again() {
        let a = Figures::from_parts(9 * HOUR, HOUR, 0, 0, 1, 0);
        let b = Figures::from_parts(HOUR, 3 * HOUR, 2 * HOUR, 4 * HOUR, 1, 2);
        let total = [a, b].iter().sum::<Figures>();
        assert_eq!(
            total,
            Figures {
                run_ms: 10 * HOUR,
                down_ms: 4 * HOUR,
                unknown_ms: 2 * HOUR,
                unplanned_ms: 4 * HOUR,
                stops: 4,
                short_stops: 2,
                long_stops: 2,
                availability: Some(10.0 / 14.0),
                mtbf_ms: Some(10 * HOUR / 4),
                mttr_ms: Some(HOUR),
            }
        );
        assert_eq!(a + b, total);
        assert_eq!(
            core::iter::empty::<Figures>().sum::<Figures>(),
            Figures::default()
        );
    }

    #[test]
    fn a_split_stop_shares_its_down_time_between_its_parts() {
        // stopped 09:40–11:00, split at 10:15; a break 10:00–10:30; the window ends at 10:50
        let planned = [span((6, 0), (10, 0)), span((10, 30), (14, 0))];
        let window = span((6, 0), (10, 50));
        let now = at(12, 0);
        let first = down_ms_in(span((9, 40), (10, 15)), window, Some(&planned), now);
        let second = down_ms_in(span((10, 15), (11, 0)), window, Some(&planned), now);
        assert_eq!((first, second), (20 * MIN, 20 * MIN));

        let ev = events(&[(6, 0, RUN), (9, 40, STOP), (11, 0, RUN)]);
        let (_, _, f) = compute(&ev, &[], window, Some(&planned), now);
        assert_eq!(f.down_ms, first + second);
        // before now only, and all of it without a calendar
        assert_eq!(
            down_ms_in(span((10, 15), (11, 0)), day(), None, at(10, 45)),
            30 * MIN
        );
    }

    // Properties, on small integer times so that a per-millisecond model can check every rule.

    /// The state at `t` as the module doc states it, one moment at a time. `t < now`.
    fn state_at(events: &[Event], offline: &[Span], t: i64) -> RunState {
        let Some(last) = events.iter().filter(|e| e.ts <= t).max() else {
            return U;
        };
        let in_gap = offline
            .iter()
            .any(|g| g.contains(t) && !events.iter().any(|e| g.start < e.ts && e.ts <= t));
        if in_gap {
            U
        } else {
            RunState::from_running(last.running)
        }
    }

    /// The figures as the module doc states them, one millisecond at a time.
    fn model(
        events: &[Event],
        offline: &[Span],
        window: Span,
        planned: Option<&[Span]>,
        now: i64,
        short_stop_ms: i64,
    ) -> Figures {
        let state = |t| state_at(events, offline, t);
        let (mut run, mut down, mut unknown, mut unplanned, mut short, mut long) =
            (0, 0, 0, 0, 0, 0);
        for t in window.start..min(window.end, now) {
            if !planned.is_none_or(|p| p.iter().any(|s| s.contains(t))) {
                unplanned += 1;
                continue;
            }
            match state(t) {
                R => run += 1,
                S => down += 1,
                U => unknown += 1,
            }
            if state(t) == S && state(t - 1) == R {
                let end = (t..now).find(|&u| state(u) != S).unwrap_or(now);
                if end - t < short_stop_ms {
                    short += 1;
                } else {
                    long += 1;
                }
            }
        }
        Figures::from_parts(run, down, unknown, unplanned, short, long)
    }

    fn arb_events() -> impl Strategy<Value = Vec<Event>> {
        proptest::collection::vec(
            (0i64..120, 0i64..4, any::<bool>()).prop_map(|(ts, seq, running)| Event {
                ts,
                seq,
                running,
            }),
            0..25,
        )
    }

    /// Sorted spans, neither overlapping nor touching.
    fn arb_spans() -> impl Strategy<Value = Vec<Span>> {
        proptest::collection::btree_set(-5i64..140, 0..10).prop_map(|cuts| {
            let cuts: Vec<i64> = cuts.into_iter().collect();
            cuts.chunks_exact(2)
                .map(|c| Span::new(c[0], c[1]))
                .collect()
        })
    }

    /// Spans in any order, overlapping or not.
    fn arb_offline() -> impl Strategy<Value = Vec<Span>> {
        proptest::collection::vec(
            (-5i64..140, 0i64..50).prop_map(|(start, len)| Span::new(start, start + len)),
            0..5,
        )
    }

    fn arb_window() -> impl Strategy<Value = Span> {
        (-10i64..150, 0i64..160).prop_map(|(from, len)| Span::new(from, from + len))
    }

    prop_compose! {
        fn arb_case()(
            events in arb_events(),
            offline in prop_oneof![arb_spans(), arb_offline()],
            planned in proptest::option::of(arb_spans()),
            window in arb_window(),
            now in -5i64..160,
            short in 0i64..30,
        ) -> (Vec<Event>, Vec<Span>, Option<Vec<Span>>, Span, i64, i64) {
            (events, offline, planned, window, now, short)
        }
    }

    fn all_figures(
        events: &[Event],
        offline: &[Span],
        window: Span,
        planned: Option<&[Span]>,
        now: i64,
        short: i64,
    ) -> (Vec<Interval>, Vec<Stop>, Figures) {
        let tl = timeline(events, offline, now);
        let st = stops(&tl, now);
        let f = figures(&tl, &st, window, planned, now, short);
        (tl, st, f)
    }

    proptest! {
        #[test]
        fn figures_match_the_rules_moment_by_moment(
            (ev, offline, planned, window, now, short) in arb_case()
        ) {
            let planned = planned.as_deref();
            let (tl, _, f) = all_figures(&ev, &offline, window, planned, now, short);
            prop_assert_eq!(f, model(&ev, &offline, window, planned, now, short));
            // the timeline covers [first event, now) without gaps, each interval a new state
            let first = ev.iter().map(|e| e.ts).filter(|&ts| ts < now).min();
            prop_assert_eq!(tl.first().map(|i| i.span.start), first);
            prop_assert_eq!(tl.last().map(|i| i.span.end), first.map(|_| now));
            prop_assert!(tl.iter().all(|i| i.span.len_ms() > 0));
            for w in tl.windows(2) {
                prop_assert_eq!(w[0].span.end, w[1].span.start);
                prop_assert_ne!(w[0].state, w[1].state);
            }
        }

        #[test]
        fn the_four_parts_sum_to_the_window_up_to_now(
            (ev, offline, planned, window, now, short) in arb_case()
        ) {
            let (_, _, f) = all_figures(&ev, &offline, window, planned.as_deref(), now, short);
            prop_assert_eq!(f.total_ms(), max(0, min(window.end, now) - window.start));
            let parts = [f.run_ms, f.down_ms, f.unknown_ms, f.unplanned_ms];
            prop_assert!(parts.iter().all(|&ms| ms >= 0));
            prop_assert_eq!(f.stops, f.short_stops + f.long_stops);
        }

        #[test]
        fn buckets_sum_to_the_whole(
            (ev, offline, planned, _, now, short) in arb_case(),
            cuts in proptest::collection::vec(-10i64..170, 2..8),
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let planned = planned.as_deref();
            let whole = Span::new(cuts[0], cuts[cuts.len() - 1]);
            let (tl, st, f) = all_figures(&ev, &offline, whole, planned, now, short);
            let buckets = bucketed(&tl, &st, &cuts, planned, now, short);
            prop_assert_eq!(buckets.len(), cuts.len() - 1);
            prop_assert_eq!(buckets.iter().sum::<Figures>(), f);
        }

        #[test]
        fn duplicate_events_change_nothing(
            (ev, offline, planned, window, now, short) in arb_case(),
            picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..10),
        ) {
            prop_assume!(!ev.is_empty());
            let mut doubled = ev.clone();
            doubled.extend(picks.iter().map(|i| ev[i.index(ev.len())]));
            let planned = planned.as_deref();
            prop_assert_eq!(
                all_figures(&doubled, &offline, window, planned, now, short),
                all_figures(&ev, &offline, window, planned, now, short)
            );
        }

        #[test]
        fn arrival_order_changes_nothing(
            ((ev, offline, planned, window, now, short), shuffled, shuffled_offline) in arb_case()
                .prop_flat_map(|case| {
                    let ev = Just(case.0.clone()).prop_shuffle();
                    let offline = Just(case.1.clone()).prop_shuffle();
                    (Just(case), ev, offline)
                })
        ) {
            let planned = planned.as_deref();
            prop_assert_eq!(
                all_figures(&shuffled, &shuffled_offline, window, planned, now, short),
                all_figures(&ev, &offline, window, planned, now, short)
            );
        }
    }
}
