//! Input debouncing and edge detection: one [`Debouncer`] per input pin turns raw level samples,
//! taken whenever the logger gets round to it, into the RUNNING/STOPPED changes it queues.
//!
//! A level becomes the stable state once it has been seen continuously for `debounce_ms`; contact
//! bounce and electrical noise shorter than that produce nothing. The first stable level after start
//! is reported as well, flagged [`Edge::initial`], so the server learns each machine's state at boot.
//!
//! Time is the caller's monotonic clock in milliseconds (uptime on the firmware). An edge carries
//! the time its level was first seen, not the time it was confirmed: the machine changed state
//! then, and the debounce delay should not shift every interval the analytics cut.
//!
//! ```
//! use assetlog_core::debounce::{DebounceConfig, Debouncer};
//!
//! let mut input = Debouncer::new(DebounceConfig { debounce_ms: 50, active_low: false });
//! assert_eq!(input.sample(true, 0), None); // not yet stable
//! let edge = input.sample(true, 50).unwrap(); // held for 50 ms: the state at boot
//! assert!(edge.initial && edge.running && edge.since_ms == 0);
//! assert_eq!(input.sample(false, 60), None); // a 10 ms bounce...
//! assert_eq!(input.sample(true, 70), None); // ...is ignored
//! ```

/// How one input is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebounceConfig {
    /// How long a new level must be seen without interruption before it counts; 0 takes every
    /// sample at face value.
    pub debounce_ms: u64,
    /// The input reads low while the machine runs (an inverted or pulled-up signal).
    pub active_low: bool,
}

/// A stable state and since when it holds, on the caller's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stable {
    pub running: bool,
    /// When this state was first seen (before debouncing confirmed it).
    pub since_ms: u64,
}

/// A change of the stable state, to be queued as a `StateChange`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// The new state.
    pub running: bool,
    /// When the new state was first seen. The confirming sample came `debounce_ms` or more later.
    pub since_ms: u64,
    /// This is the first stable state since start, not a transition the debouncer watched happen.
    pub initial: bool,
}

/// The debouncer and edge detector of one input.
#[derive(Debug, Clone)]
pub struct Debouncer {
    config: DebounceConfig,
    stable: Option<Stable>,
    /// The level of the latest sample and when the current unbroken run of it began.
    candidate: Option<Stable>,
}

impl Debouncer {
    /// A debouncer that has seen nothing yet: its first stable level will be an initial edge.
    pub fn new(config: DebounceConfig) -> Self {
        Self {
            config,
            stable: None,
            candidate: None,
        }
    }

    /// Feeds one raw electrical level (`true` = high) read at `now_ms`; returns the edge it
    /// completes, if any.
    ///
    /// `now_ms` should not go backwards. If it does, the pending level's wait restarts from
    /// `now_ms` rather than stalling until the clock catches up again.
    pub fn sample(&mut self, level: bool, now_ms: u64) -> Option<Edge> {
        let running = level != self.config.active_low;
        let candidate = match self.candidate {
            Some(c) if c.running == running && c.since_ms <= now_ms => c,
            _ => Stable {
                running,
                since_ms: now_ms,
            },
        };
        self.candidate = Some(candidate);

        if self.stable.is_some_and(|s| s.running == running) {
            return None;
        }
        if now_ms - candidate.since_ms < self.config.debounce_ms {
            return None;
        }
        let initial = self.stable.is_none();
        self.stable = Some(candidate);
        Some(Edge {
            running,
            since_ms: candidate.since_ms,
            initial,
        })
    }

    /// The current stable state and since when; `None` until the first level has been confirmed.
    pub fn stable(&self) -> Option<Stable> {
        self.stable
    }

    /// The configuration this debouncer was built with.
    pub fn config(&self) -> DebounceConfig {
        self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn debouncer(debounce_ms: u64) -> Debouncer {
        Debouncer::new(DebounceConfig {
            debounce_ms,
            active_low: false,
        })
    }

    /// Feeds `(level, now_ms)` samples and collects `(sample index, edge)` for every edge.
    fn run(d: &mut Debouncer, samples: &[(bool, u64)]) -> Vec<(usize, Edge)> {
        samples
            .iter()
            .enumerate()
            .filter_map(|(i, &(level, now))| d.sample(level, now).map(|e| (i, e)))
            .collect()
    }

    fn edge(running: bool, since_ms: u64, initial: bool) -> Edge {
        Edge {
            running,
            since_ms,
            initial,
        }
    }

    /// A name, `debounce_ms`, the `(level, now_ms)` samples, and the `(sample index, edge)` expected.
    type Case<'a> = (&'a str, u64, &'a [(bool, u64)], &'a [(usize, Edge)]);

    #[test]
    fn edges_follow_the_table() {
        let on = true;
        let off = false;
        #[rustfmt::skip]
        let cases: &[Case<'_>] = &[
            ("nothing sampled, nothing reported", 50, &[], &[]),
            ("one sample is not yet stable", 50, &[(on, 0)], &[]),
            ("the state at boot is reported once confirmed", 50,
                &[(on, 0), (on, 49), (on, 50), (on, 500)],
                &[(2, edge(on, 0, true))]),
            ("a stopped machine at boot is reported too", 50,
                &[(off, 10), (off, 60)],
                &[(1, edge(off, 10, true))]),
            ("zero debounce reports every change at once", 0,
                &[(on, 0), (on, 5), (off, 7), (on, 8)],
                &[(0, edge(on, 0, true)), (2, edge(off, 7, false)), (3, edge(on, 8, false))]),
            ("a change is dated from when it was first seen", 50,
                &[(on, 0), (on, 50), (off, 100), (off, 120), (off, 160)],
                &[(1, edge(on, 0, true)), (4, edge(off, 100, false))]),
            ("bounce shorter than debounce_ms is ignored", 50,
                &[(on, 0), (on, 50), (off, 60), (on, 70), (off, 80), (off, 129), (on, 130), (on, 400)],
                &[(1, edge(on, 0, true))]),
            ("bounce at boot delays the initial edge", 50,
                &[(on, 0), (off, 10), (on, 20), (on, 60), (on, 70)],
                &[(4, edge(on, 20, true))]),
            ("a level seen only once never counts, however long the gap", 50,
                &[(on, 0), (on, 100), (off, 200), (on, 1000), (on, 1001)],
                &[(1, edge(on, 0, true))]),
        ];
        for (name, debounce_ms, samples, expected) in cases {
            let got = run(&mut debouncer(*debounce_ms), samples);
            assert_eq!(got, *expected, "{name}");
        }
    }

    #[test]
    fn the_stable_state_keeps_its_start_through_bounce() {
        let mut d = debouncer(50);
        assert_eq!(d.stable(), None);
        d.sample(false, 1_000);
        d.sample(false, 1_050);
        d.sample(true, 2_000);
        d.sample(false, 2_010);
        d.sample(false, 9_000);
        assert_eq!(
            d.stable(),
            Some(Stable {
                running: false,
                since_ms: 1_000
            })
        );
    }

    #[test]
    fn active_low_inputs_run_while_low() {
        let mut d = Debouncer::new(DebounceConfig {
            debounce_ms: 0,
            active_low: true,
        });
        assert_eq!(d.sample(false, 0), Some(edge(true, 0, true)));
        assert_eq!(d.sample(true, 1), Some(edge(false, 1, false)));
        assert!(d.config().active_low);
    }

    #[test]
    fn a_clock_that_steps_back_restarts_the_wait() {
        let mut d = debouncer(50);
        d.sample(true, 10_000);
        assert_eq!(d.sample(true, 100), None);
        assert_eq!(d.sample(true, 149), None);
        assert_eq!(d.sample(true, 150), Some(edge(true, 100, true)));
    }

    /// Samples as `(level, gap since the previous sample)`, turned into absolute times.
    fn timed(samples: &[(bool, u64)]) -> Vec<(bool, u64)> {
        let mut now = 0;
        samples
            .iter()
            .map(|&(level, gap)| {
                now += gap;
                (level, now)
            })
            .collect()
    }

    /// Index of the first sample of the unbroken run of equal levels that ends at `i`.
    fn run_start(samples: &[(bool, u64)], i: usize) -> usize {
        let mut j = i;
        while j > 0 && samples[j - 1].0 == samples[i].0 {
            j -= 1;
        }
        j
    }

    fn samples_strategy() -> impl Strategy<Value = Vec<(bool, u64)>> {
        proptest::collection::vec((any::<bool>(), 0u64..120), 0..80)
    }

    proptest! {
        #[test]
        fn edges_alternate_and_only_the_first_is_initial(
            debounce_ms in 0u64..300,
            samples in samples_strategy(),
        ) {
            let edges = run(&mut debouncer(debounce_ms), &timed(&samples));
            for (k, (_, e)) in edges.iter().enumerate() {
                prop_assert_eq!(e.initial, k == 0);
            }
            for pair in edges.windows(2) {
                prop_assert_ne!(pair[0].1.running, pair[1].1.running);
            }
        }

        #[test]
        fn every_edge_was_held_for_debounce_ms_since_its_start(
            debounce_ms in 0u64..300,
            samples in samples_strategy(),
        ) {
            let samples = timed(&samples);
            let mut d = debouncer(debounce_ms);
            for (i, e) in run(&mut d, &samples) {
                let start = run_start(&samples, i);
                prop_assert_eq!(e.running, samples[i].0);
                prop_assert_eq!(e.since_ms, samples[start].1);
                prop_assert!(samples[i].1 - e.since_ms >= debounce_ms);
            }
        }

        #[test]
        fn a_level_held_longer_than_debounce_ms_ends_reported(
            debounce_ms in 0u64..300,
            samples in samples_strategy(),
            level: bool,
            hold_ms in 0u64..400,
            extra_samples in 0usize..5,
        ) {
            let mut samples = timed(&samples);
            let start = samples.last().map_or(0, |s| s.1 + 1);
            samples.push((level, start));
            for k in 0..extra_samples {
                samples.push((level, start + k as u64 * (debounce_ms + hold_ms) / 5));
            }
            samples.push((level, start + debounce_ms + hold_ms));
            let mut d = debouncer(debounce_ms);
            let edges = run(&mut d, &samples);
            prop_assert_eq!(edges.last().map(|(_, e)| e.running), Some(level));
            prop_assert_eq!(d.stable().map(|s| s.running), Some(level));
        }

        #[test]
        fn pulses_shorter_than_debounce_ms_never_produce_an_edge(
            debounce_ms in 1u64..300,
            base: bool,
            // (time at the base level before the pulse, samples inside the pulse as fractions of
            // debounce_ms)
            pulses in proptest::collection::vec(
                (0u64..1000, proptest::collection::vec(0u64..1000, 1..5)),
                0..20,
            ),
        ) {
            let mut samples = Vec::from([(base, 0), (base, debounce_ms)]);
            let mut now = debounce_ms;
            for (gap, inside) in &pulses {
                now += gap + 1;
                let mut offsets: Vec<u64> = inside.iter().map(|f| f * (debounce_ms - 1) / 1000).collect();
                offsets.sort_unstable();
                for o in &offsets {
                    samples.push((!base, now + o));
                }
                now += offsets.last().unwrap() + 1;
                samples.push((base, now));
            }
            let mut d = debouncer(debounce_ms);
            let edges = run(&mut d, &samples);
            prop_assert_eq!(edges.len(), 1);
            prop_assert_eq!(d.stable(), Some(Stable { running: base, since_ms: 0 }));
        }

        #[test]
        fn the_stable_state_is_the_last_edge(
            debounce_ms in 0u64..300,
            samples in samples_strategy(),
        ) {
            let samples = timed(&samples);
            let mut d = debouncer(debounce_ms);
            let mut last = None;
            for &(level, now) in &samples {
                if let Some(e) = d.sample(level, now) {
                    last = Some(Stable { running: e.running, since_ms: e.since_ms });
                }
                prop_assert_eq!(d.stable(), last);
            }
        }

        #[test]
        fn active_low_mirrors_active_high(
            debounce_ms in 0u64..300,
            samples in samples_strategy(),
        ) {
            let samples = timed(&samples);
            let inverted: Vec<_> = samples.iter().map(|&(level, now)| (!level, now)).collect();
            let high = run(&mut debouncer(debounce_ms), &samples);
            let mut low = Debouncer::new(DebounceConfig { debounce_ms, active_low: true });
            prop_assert_eq!(run(&mut low, &inverted), high);
        }
    }
}
