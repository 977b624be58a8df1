//! A seeded random machine: the RUNNING/STOPPED changes a real machine's run signal would show,
//! for the agent's `sim` input, its simulator mode, and the server's demo with its backfilled week.
//!
//! The model is what a shop floor looks like from a run signal: long runs, frequent short stops
//! (a jam, a material change), rare long ones (a breakdown, a tool change), and a shift rhythm (the
//! machine is stopped outside its daily production window and on days off). Run and stop
//! durations are exponential, so a machine observed at any moment has the same outlook whatever
//! it did before, which lets a model start in the middle of a run without a warm-up.
//!
//! Nothing here reads a clock: a [`Machine`] is a generator of changes on the caller's epoch
//! millisecond time line, so a caller can play it live (sleep until [`Machine::peek`]'s time) or
//! generate a week of history at once ([`backfill`]). Same parameters and seed, same changes.
//!
//! ```
//! use assetlog_core::sim::{Machine, MachineParams};
//!
//! let start = 1_764_000_000_000;
//! let mut m = Machine::new(MachineParams::always_on(), 7, start).unwrap();
//! let initial = m.state(); // the state at `start`, to report as the first event
//! assert_eq!(initial.at_ms, start);
//! let next = m.next_change();
//! assert!(next.at_ms > start && next.running != initial.running);
//! ```

use alloc::vec::Vec;
use core::fmt;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;

/// A small, fast, seedable pseudo-random generator (SplitMix64). Statistically fine for
/// simulation and jitter; not for secrets.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `(0, 1]`: never 0, so its logarithm is finite.
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Exponentially distributed with the given mean, in whole milliseconds, at least 1.
    pub fn exp_ms(&mut self, mean_ms: u64) -> i64 {
        let d = -ln(self.unit()) * mean_ms as f64;
        // `as` saturates, and no stop lasts a year: clamping keeps later sums far from overflow.
        (d as i64).clamp(1, 365 * DAY_MS)
    }
}

/// Natural logarithm of a positive finite `x`, without `std` (core has no `f64::ln`): split off
/// the binary exponent, then the atanh series on the mantissa, accurate to about 1e-15.
fn ln(x: f64) -> f64 {
    debug_assert!(x > 0.0 && x.is_finite());
    let bits = x.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64 - 1023;
    // The mantissa with exponent 0, so m in [1, 2); subnormals cannot come from `Rng::unit`.
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    // Centre m on 1 (m in [0.707, 1.414)) so the series converges fast.
    if m > core::f64::consts::SQRT_2 {
        m /= 2.0;
        exp += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    let mut k = 1.0;
    while k < 40.0 {
        sum += term / k;
        term *= s2;
        k += 2.0;
    }
    2.0 * sum + exp as f64 * core::f64::consts::LN_2
}

/// Days of the week as a bit set, bit 0 = Monday.
pub type Weekdays = u8;
pub const MONDAY_TO_FRIDAY: Weekdays = 0b0001_1111;
pub const EVERY_DAY: Weekdays = 0b0111_1111;

/// The daily production window: the machine only runs inside it. Local time is UTC plus a fixed
/// offset (no daylight saving: the model has no time-zone database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    /// Minute of the day the window opens, `0..1440`.
    pub start_min: u16,
    /// Minute of the day it closes, `0..1440`, not equal to `start_min`. Before `start_min`
    /// means the window runs past midnight (22:00–06:00); it then belongs to the day it opens.
    pub end_min: u16,
    /// The days on which the window opens.
    pub days: Weekdays,
    /// Local time minus UTC, in minutes (+60 for CET).
    pub utc_offset_min: i16,
}

impl Shift {
    /// `[start, end)` of the first window occurrence that ends after `t_ms`: it contains `t_ms` if
    /// its start is at or before it, else it is the next one.
    pub fn window_at_or_after(&self, t_ms: i64) -> (i64, i64) {
        let offset = i64::from(self.utc_offset_min) * MINUTE_MS;
        let start = i64::from(self.start_min) * MINUTE_MS;
        let len =
            (i64::from(self.end_min) - i64::from(self.start_min)).rem_euclid(1440) * MINUTE_MS;
        let local = t_ms.saturating_add(offset);
        let today = local.div_euclid(DAY_MS);
        // Yesterday's window may run past midnight; any 7 days hold an open day.
        for day in today - 1..=today + 7 {
            if self.days & (1 << weekday(day)) == 0 {
                continue;
            }
            let open = day * DAY_MS + start;
            if open + len > local {
                return (open - offset, open + len - offset);
            }
        }
        unreachable!("a validated shift opens at least one day a week")
    }

    /// Whether the machine may run at `t_ms`.
    pub fn is_open(&self, t_ms: i64) -> bool {
        self.window_at_or_after(t_ms).0 <= t_ms
    }
}

/// Monday = 0 for the day `day` days after 1970-01-01, which was a Thursday.
fn weekday(day: i64) -> u32 {
    (day + 3).rem_euclid(7) as u32
}

/// How a machine behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MachineParams {
    /// Mean length of an uninterrupted run.
    pub mean_run_ms: u64,
    /// Mean length of a short stop (a jam, a material change).
    pub mean_short_stop_ms: u64,
    /// Mean length of a long stop (a breakdown, a changeover).
    pub mean_long_stop_ms: u64,
    /// Share of stops that are short, `0.0..=1.0`.
    pub short_stop_share: f64,
    /// The production window; `None` runs around the clock.
    pub shift: Option<Shift>,
}

/// Why a set of [`MachineParams`] cannot drive a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamsError {
    ZeroMean,
    ShareOutOfRange,
    BadShiftMinute,
    EmptyShift,
    NoWorkday,
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ZeroMean => "mean run and stop durations must be above zero",
            Self::ShareOutOfRange => "short_stop_share must be between 0 and 1",
            Self::BadShiftMinute => "shift start and end must be times of day (00:00 to 23:59)",
            Self::EmptyShift => "shift start and end must differ",
            Self::NoWorkday => "a shift needs at least one working day",
        })
    }
}

impl MachineParams {
    /// A machine that runs around the clock: 20 min runs, 85 % of stops short (70 s), the rest
    /// long (25 min); about 81 % available.
    pub const fn always_on() -> Self {
        Self {
            mean_run_ms: 20 * 60_000,
            mean_short_stop_ms: 70_000,
            mean_long_stop_ms: 25 * 60_000,
            short_stop_share: 0.85,
            shift: None,
        }
    }

    /// [`always_on`](Self::always_on) on two shifts, 06:00–22:00 Monday to Friday, UTC.
    pub const fn typical() -> Self {
        let mut p = Self::always_on();
        p.shift = Some(Shift {
            start_min: 6 * 60,
            end_min: 22 * 60,
            days: MONDAY_TO_FRIDAY,
            utc_offset_min: 0,
        });
        p
    }

    /// [`typical`](Self::typical), varied by `seed`, so that a fleet has good and bad machines:
    /// runs from half to one and a half times as long, 70–95 % short stops, long stops of 10–40
    /// min. The shift is kept.
    pub fn varied(seed: u64) -> Self {
        let mut rng = Rng::new(seed ^ 0x05ee_d0fa_55e7);
        let mut p = Self::typical();
        p.mean_run_ms = (p.mean_run_ms as f64 * (0.5 + rng.unit())) as u64;
        p.mean_short_stop_ms = (p.mean_short_stop_ms as f64 * (0.6 + 0.8 * rng.unit())) as u64;
        p.mean_long_stop_ms = 10 * 60_000 + (30.0 * 60_000.0 * rng.unit()) as u64;
        p.short_stop_share = 0.70 + 0.25 * rng.unit();
        p
    }

    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.mean_run_ms == 0 || self.mean_short_stop_ms == 0 || self.mean_long_stop_ms == 0 {
            return Err(ParamsError::ZeroMean);
        }
        if !(0.0..=1.0).contains(&self.short_stop_share) {
            return Err(ParamsError::ShareOutOfRange);
        }
        if let Some(s) = self.shift {
            if s.start_min >= 1440 || s.end_min >= 1440 {
                return Err(ParamsError::BadShiftMinute);
            }
            if s.start_min == s.end_min {
                return Err(ParamsError::EmptyShift);
            }
            if s.days & EVERY_DAY == 0 {
                return Err(ParamsError::NoWorkday);
            }
        }
        Ok(())
    }

    /// The mean stop length over short and long stops.
    fn mean_stop_ms(&self) -> f64 {
        self.short_stop_share * self.mean_short_stop_ms as f64
            + (1.0 - self.short_stop_share) * self.mean_long_stop_ms as f64
    }
}

/// Why a machine changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Started again after a stop inside the production window.
    Resume,
    /// Started because the production window opened.
    ShiftStart,
    ShortStop,
    LongStop,
    /// Stopped because the production window closed.
    ShiftEnd,
}

/// A state change, or the state a machine is in (with since when).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub running: bool,
    /// Epoch milliseconds.
    pub at_ms: i64,
    pub reason: Reason,
}

/// One simulated machine: its current state and its next change, drawn ahead of time.
#[derive(Debug, Clone)]
pub struct Machine {
    params: MachineParams,
    rng: Rng,
    current: Change,
    next: Change,
}

impl Machine {
    /// A machine observed from `start_ms` on, in a state drawn to match its long-run behaviour:
    /// stopped outside the production window, else running with the share of time it runs.
    pub fn new(params: MachineParams, seed: u64, start_ms: i64) -> Result<Self, ParamsError> {
        params.validate()?;
        let mut rng = Rng::new(seed);
        let open = params.shift.is_none_or(|s| s.is_open(start_ms));
        let run_share =
            params.mean_run_ms as f64 / (params.mean_run_ms as f64 + params.mean_stop_ms());
        let current = if !open {
            Change {
                running: false,
                at_ms: start_ms,
                reason: Reason::ShiftEnd,
            }
        } else if rng.unit() <= run_share {
            Change {
                running: true,
                at_ms: start_ms,
                reason: Reason::Resume,
            }
        } else {
            Change {
                running: false,
                at_ms: start_ms,
                reason: stop_kind(&params, &mut rng),
            }
        };
        let mut m = Self {
            params,
            rng,
            current,
            next: current,
        };
        m.next = m.plan();
        Ok(m)
    }

    pub fn params(&self) -> &MachineParams {
        &self.params
    }

    /// The current state and when it began (at first, the start time given to [`Machine::new`]).
    pub fn state(&self) -> Change {
        self.current
    }

    /// The next change, without making it.
    pub fn peek(&self) -> Change {
        self.next
    }

    /// Makes the next change and returns it. Changes alternate between running and stopped, and
    /// each comes strictly later than the one before.
    pub fn next_change(&mut self) -> Change {
        self.current = self.next;
        self.next = self.plan();
        self.current
    }

    /// Makes every change due at or before `now_ms`, in order.
    pub fn changes_until(&mut self, now_ms: i64) -> Vec<Change> {
        let mut out = Vec::new();
        while self.next.at_ms <= now_ms {
            out.push(self.next_change());
        }
        out
    }

    /// Draws the change that ends the current state.
    fn plan(&mut self) -> Change {
        let Change {
            running,
            at_ms: at,
            reason,
        } = self.current;
        let p = self.params;
        if running {
            let close = p.shift.map_or(i64::MAX, |s| s.window_at_or_after(at).1);
            let end = at.saturating_add(self.rng.exp_ms(p.mean_run_ms));
            if end >= close {
                return Change {
                    running: false,
                    at_ms: close,
                    reason: Reason::ShiftEnd,
                };
            }
            return Change {
                running: false,
                at_ms: end,
                reason: stop_kind(&p, &mut self.rng),
            };
        }
        let ready = match reason {
            Reason::ShortStop => at + self.rng.exp_ms(p.mean_short_stop_ms),
            Reason::LongStop => at + self.rng.exp_ms(p.mean_long_stop_ms),
            // Off shift: ready the moment the window opens (still strictly after `at`).
            _ => at + 1,
        };
        match p.shift.map(|s| s.window_at_or_after(ready)) {
            Some((open, _)) if open > ready => Change {
                running: true,
                at_ms: open,
                reason: Reason::ShiftStart,
            },
            _ => Change {
                running: true,
                at_ms: ready,
                reason: if reason == Reason::ShiftEnd {
                    Reason::ShiftStart
                } else {
                    Reason::Resume
                },
            },
        }
    }
}

fn stop_kind(p: &MachineParams, rng: &mut Rng) -> Reason {
    if rng.unit() <= p.short_stop_share {
        Reason::ShortStop
    } else {
        Reason::LongStop
    }
}

/// A machine's history over `[now_ms - span_ms, now_ms]`: its state at the start of the span,
/// every change since, and the machine itself, ready to go on live from `now_ms` (its next
/// change is after `now_ms`), so a demo's backfill and its live part join without a seam.
pub fn backfill(
    params: MachineParams,
    seed: u64,
    now_ms: i64,
    span_ms: i64,
) -> Result<(Vec<Change>, Machine), ParamsError> {
    let mut machine = Machine::new(params, seed, now_ms - span_ms)?;
    let mut history = Vec::from([machine.state()]);
    history.extend(machine.changes_until(now_ms));
    Ok((history, machine))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Monday 2025-11-24 00:00:00 UTC.
    const MONDAY: i64 = 1_763_942_400_000;
    const H: i64 = 3_600_000;

    fn shift(start_min: u16, end_min: u16, days: Weekdays, utc_offset_min: i16) -> Shift {
        Shift {
            start_min,
            end_min,
            days,
            utc_offset_min,
        }
    }

    #[test]
    fn the_logarithm_matches_std() {
        for x in [
            1e-16, 1e-9, 0.001, 0.3, 0.5, 0.70712, 0.75, 1.0, 1.5, 2.0, 1e6,
        ] {
            let (ours, std) = (ln(x), x.ln());
            assert!(
                (ours - std).abs() <= 1e-13 * std.abs().max(1.0),
                "ln({x}) = {ours}, not {std}"
            );
        }
    }

    #[test]
    fn monday_is_a_monday() {
        assert_eq!(weekday(MONDAY / DAY_MS), 0);
        assert_eq!(weekday(0), 3, "1970-01-01 was a Thursday");
        assert_eq!(weekday(-1), 2);
    }

    #[test]
    fn windows_follow_the_table() {
        let day_shift = shift(6 * 60, 22 * 60, MONDAY_TO_FRIDAY, 0);
        let night = shift(22 * 60, 6 * 60, MONDAY_TO_FRIDAY, 0);
        let cet = shift(6 * 60, 14 * 60, EVERY_DAY, 60);
        #[rustfmt::skip]
        let cases: &[(&str, Shift, i64, (i64, i64))] = &[
            ("before Monday's window: the next one", day_shift, MONDAY + 5 * H,
                (MONDAY + 6 * H, MONDAY + 22 * H)),
            ("inside it", day_shift, MONDAY + 12 * H, (MONDAY + 6 * H, MONDAY + 22 * H)),
            ("its opening minute is inside", day_shift, MONDAY + 6 * H, (MONDAY + 6 * H, MONDAY + 22 * H)),
            ("its closing minute is outside", day_shift, MONDAY + 22 * H,
                (MONDAY + 30 * H, MONDAY + 46 * H)),
            ("Friday night skips the weekend", day_shift, MONDAY + 4 * DAY_MS + 23 * H,
                (MONDAY + 7 * DAY_MS + 6 * H, MONDAY + 7 * DAY_MS + 22 * H)),
            ("a night shift belongs to the evening it opens", night, MONDAY + 3 * H,
                (MONDAY + 22 * H, MONDAY + 30 * H)),
            ("Tuesday 03:00 is in Monday's night shift", night, MONDAY + 27 * H,
                (MONDAY + 22 * H, MONDAY + 30 * H)),
            ("Saturday 03:00 is in Friday's night shift", night, MONDAY + 5 * DAY_MS + 3 * H,
                (MONDAY + 4 * DAY_MS + 22 * H, MONDAY + 5 * DAY_MS + 6 * H)),
            ("Sunday 03:00 waits for Monday night", night, MONDAY - DAY_MS + 3 * H,
                (MONDAY + 22 * H, MONDAY + 30 * H)),
            ("local 06:00 CET is 05:00 UTC", cet, MONDAY, (MONDAY + 5 * H, MONDAY + 13 * H)),
        ];
        for (name, s, t, expected) in cases {
            assert_eq!(s.window_at_or_after(*t), *expected, "{name}");
            assert_eq!(s.is_open(*t), expected.0 <= *t, "{name}");
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        let ok = MachineParams::typical();
        let with = |f: fn(&mut MachineParams)| {
            let mut p = ok;
            f(&mut p);
            Machine::new(p, 1, MONDAY).err()
        };
        assert_eq!(with(|_| {}), None);
        assert_eq!(with(|p| p.mean_run_ms = 0), Some(ParamsError::ZeroMean));
        assert_eq!(
            with(|p| p.mean_long_stop_ms = 0),
            Some(ParamsError::ZeroMean)
        );
        assert_eq!(
            with(|p| p.short_stop_share = 1.5),
            Some(ParamsError::ShareOutOfRange)
        );
        assert_eq!(
            with(|p| p.short_stop_share = f64::NAN),
            Some(ParamsError::ShareOutOfRange)
        );
        assert_eq!(
            with(|p| p.shift = Some(shift(1440, 0, 1, 0))),
            Some(ParamsError::BadShiftMinute)
        );
        assert_eq!(
            with(|p| p.shift = Some(shift(60, 60, 1, 0))),
            Some(ParamsError::EmptyShift)
        );
        assert_eq!(
            with(|p| p.shift = Some(shift(0, 60, 0b1000_0000, 0))),
            Some(ParamsError::NoWorkday)
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_machine() {
        let run = |seed| {
            let mut m = Machine::new(MachineParams::typical(), seed, MONDAY).unwrap();
            (0..200).map(|_| m.next_change()).collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    /// Long-run averages of an always-on machine, from fixed seeds (so never flaky).
    #[test]
    fn durations_and_shares_match_the_parameters() {
        let p = MachineParams::always_on();
        let mut m = Machine::new(p, 11, MONDAY).unwrap();
        let (mut run, mut stop, mut runs, mut short, mut stops) = (0i64, 0i64, 0i64, 0i64, 0i64);
        let mut prev = m.state();
        for _ in 0..40_000 {
            let c = m.next_change();
            let d = c.at_ms - prev.at_ms;
            if prev.running {
                run += d;
                runs += 1;
            } else {
                stop += d;
            }
            if !c.running {
                stops += 1;
                short += i64::from(c.reason == Reason::ShortStop);
            }
            prev = c;
        }
        let mean_run = run as f64 / runs as f64;
        assert!(
            (mean_run / p.mean_run_ms as f64 - 1.0).abs() < 0.05,
            "mean run {mean_run}"
        );
        let share = short as f64 / stops as f64;
        assert!(
            (share - p.short_stop_share).abs() < 0.02,
            "short share {share}"
        );
        let availability = run as f64 / (run + stop) as f64;
        let expected = p.mean_run_ms as f64 / (p.mean_run_ms as f64 + p.mean_stop_ms());
        assert!(
            (availability - expected).abs() < 0.03,
            "availability {availability}"
        );
    }

    #[test]
    fn a_week_of_backfill_ends_at_now_and_goes_on_live() {
        let now = MONDAY + 7 * DAY_MS + 10 * H;
        let (history, mut machine) =
            backfill(MachineParams::varied(5), 5, now, 7 * DAY_MS).unwrap();
        assert_eq!(history[0].at_ms, now - 7 * DAY_MS);
        assert!(history.len() > 50, "a busy week: {} changes", history.len());
        assert!(history.iter().all(|c| c.at_ms <= now));
        assert_eq!(machine.state(), *history.last().unwrap());
        assert!(machine.peek().at_ms > now);
        let next = machine.next_change();
        assert_ne!(next.running, history.last().unwrap().running);
        // Five working days, two idle ones: nothing runs at the weekend.
        let weekend = (MONDAY + 5 * DAY_MS, MONDAY + 7 * DAY_MS);
        assert!(
            !history
                .iter()
                .any(|c| c.running && c.at_ms >= weekend.0 && c.at_ms < weekend.1)
        );
    }

    fn params() -> impl Strategy<Value = MachineParams> {
        let shift = prop_oneof![
            Just(None),
            (0u16..1440, 1u16..1440, 1u8..128, -720i16..=840)
                .prop_map(|(s, len, days, off)| { Some(shift(s, (s + len) % 1440, days, off)) }),
        ];
        (
            1u64..100_000,
            1u64..100_000,
            1u64..1_000_000,
            0.0f64..=1.0,
            shift,
        )
            .prop_map(|(run, short, long, share, shift)| MachineParams {
                mean_run_ms: run,
                mean_short_stop_ms: short,
                mean_long_stop_ms: long,
                short_stop_share: share,
                shift,
            })
    }

    proptest! {
        #[test]
        fn changes_alternate_strictly_later_and_respect_the_shift(
            p in params(),
            seed: u64,
            start in MONDAY - 400 * DAY_MS..MONDAY + 400 * DAY_MS,
        ) {
            let mut m = Machine::new(p, seed, start).unwrap();
            let mut prev = m.state();
            prop_assert_eq!(prev.at_ms, start);
            for _ in 0..300 {
                let peeked = m.peek();
                let c = m.next_change();
                prop_assert_eq!(c, peeked);
                prop_assert!(c.at_ms > prev.at_ms);
                prop_assert_ne!(c.running, prev.running);
                if let Some(s) = p.shift {
                    // A run starts inside the window and ends by its close.
                    if c.running {
                        prop_assert!(s.is_open(c.at_ms));
                    } else {
                        prop_assert!(c.at_ms <= s.window_at_or_after(prev.at_ms).1);
                    }
                    prop_assert_eq!(c.reason == Reason::ShiftEnd, !c.running && !s.is_open(c.at_ms));
                }
                prev = c;
            }
        }

        #[test]
        fn changes_until_stops_at_now(p in params(), seed: u64, span in 0i64..30 * DAY_MS) {
            let (history, m) = backfill(p, seed, MONDAY, span).unwrap();
            prop_assert!(history.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
            prop_assert!(history.iter().all(|c| c.at_ms <= MONDAY));
            prop_assert!(m.peek().at_ms > MONDAY);
        }
    }
}
