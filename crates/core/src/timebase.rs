//! Event times on a logger whose wall clock may not be set yet.
//!
//! The ESP32-C3 has no battery-backed clock: after power-on it knows only its uptime until SNTP
//! answers, which may be minutes or days later (no network). A change is never held back for
//! that. It is stamped with what the logger knows at the moment it happens ([`EventTime`]), kept
//! in the flash log that way, and turned into a wire time when it is uploaded:
//!
//! 1. Once the clock is set in the same boot, every uptime of that boot maps to a wall time:
//!    `ts = boot start + uptime`, where SNTP fixes the wall time of the boot's start. That is
//!    exact to the precision of the SNTP answer, also for changes before the sync.
//! 2. Before the first sync the event goes up with its age instead of a ts
//!    (`{"age_ms": …}`, see [`WireEvent`](crate::wire::WireEvent)): the server places it at its
//!    receive time minus the age. The error is the request's transit time, well under a second.
//! 3. Changes of an earlier boot that never learned the time (power lost before SNTP answered)
//!    cannot be placed exactly: how long the logger was off is unknown. [`EarlierBoots`] places
//!    them end to end just before the current boot's start, each boot's changes keeping their
//!    spacing, so durations inside a boot stay true and only the power-off gaps are lost.
//!    Because every such boot really began after the previous one ended, the placed times never
//!    fall before a change that was stamped earlier, and seq order and time order still agree.

use alloc::vec::Vec;

/// When a change happened, as the logger knew it at that moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTime {
    /// Wall-clock time, epoch milliseconds UTC.
    Wall { ts_ms: i64 },
    /// No wall clock yet: milliseconds since the start of boot number `boot` (a counter the
    /// logger keeps in flash and increments at every start).
    Uptime { boot: u32, ms: u64 },
}

/// How an event's time travels to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireTime {
    /// Epoch milliseconds UTC (`"ts"`).
    Ts(i64),
    /// Milliseconds between the change and the upload (`"age_ms"`): the server places the event
    /// at its receive time minus this.
    AgeMs(u64),
}

/// What one boot of a logger knows about the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBase {
    boot: u32,
    /// Wall time at uptime 0 of this boot, once SNTP has answered.
    boot_start_ms: Option<i64>,
}

impl TimeBase {
    /// Boot number `boot`, clock not set yet.
    pub const fn new(boot: u32) -> Self {
        Self {
            boot,
            boot_start_ms: None,
        }
    }

    /// This boot's number.
    pub const fn boot(&self) -> u32 {
        self.boot
    }

    /// SNTP answered `wall_ms` when the uptime was `uptime_ms`. Later answers correct the earlier
    /// ones (the crystal drifts by seconds a day).
    pub fn synced(&mut self, uptime_ms: u64, wall_ms: i64) {
        self.boot_start_ms = Some(wall_ms.saturating_sub(clamp_i64(uptime_ms)));
    }

    /// Whether the clock has been set in this boot.
    pub const fn is_synced(&self) -> bool {
        self.boot_start_ms.is_some()
    }

    /// Wall time at uptime 0 of this boot, once known.
    pub const fn boot_start_ms(&self) -> Option<i64> {
        self.boot_start_ms
    }

    /// The wall time at `uptime_ms`, once known.
    pub fn wall_at(&self, uptime_ms: u64) -> Option<i64> {
        self.boot_start_ms
            .map(|start| start.saturating_add(clamp_i64(uptime_ms)))
    }

    /// How to record a change seen at `uptime_ms`.
    pub fn stamp(&self, uptime_ms: u64) -> EventTime {
        match self.wall_at(uptime_ms) {
            Some(ts_ms) => EventTime::Wall { ts_ms },
            None => EventTime::Uptime {
                boot: self.boot,
                ms: uptime_ms,
            },
        }
    }

    /// How to upload a change recorded as `time`, now that the uptime is `uptime_now_ms`.
    /// `None` for a change of an earlier boot without a wall time: place it with
    /// [`EarlierBoots`].
    pub fn wire_time(&self, time: EventTime, uptime_now_ms: u64) -> Option<WireTime> {
        match time {
            EventTime::Wall { ts_ms } => Some(WireTime::Ts(ts_ms)),
            EventTime::Uptime { boot, ms } if boot == self.boot => Some(match self.wall_at(ms) {
                Some(ts) => WireTime::Ts(ts),
                None => WireTime::AgeMs(uptime_now_ms.saturating_sub(ms)),
            }),
            EventTime::Uptime { .. } => None,
        }
    }
}

/// The earlier boots found in a logger's log whose changes never got a wall time, and how to
/// place them (rule 3 of the [module docs](self)).
///
/// Feed every recorded time of the log to [`observe`](Self::observe) once (at start, or when the
/// backlog is read), then ask [`place`](Self::place) for each change while uploading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EarlierBoots {
    /// `(boot, latest uptime seen in it)`, ascending by boot.
    boots: Vec<(u32, u64)>,
}

impl EarlierBoots {
    pub const fn new() -> Self {
        Self { boots: Vec::new() }
    }

    /// Notes one recorded change. `current_boot` is the running boot's number; its own changes
    /// and wall-clock ones are not earlier-boot changes and are ignored.
    pub fn observe(&mut self, time: EventTime, current_boot: u32) {
        let EventTime::Uptime { boot, ms } = time else {
            return;
        };
        if boot == current_boot {
            return;
        }
        match self.boots.binary_search_by_key(&boot, |(b, _)| *b) {
            Ok(i) => self.boots[i].1 = self.boots[i].1.max(ms),
            Err(i) => self.boots.insert(i, (boot, ms)),
        }
    }

    /// Whether any earlier boot left changes without a wall time.
    pub fn is_empty(&self) -> bool {
        self.boots.is_empty()
    }

    /// The wall time of an earlier-boot change, once the current boot knows its start. The last
    /// earlier boot ends at the current boot's start, the one before it ends where that one
    /// begins, and so on. `None` while unsynced or for a boot never observed.
    pub fn place(&self, time: EventTime, now: &TimeBase) -> Option<i64> {
        let EventTime::Uptime { boot, ms } = time else {
            return None;
        };
        let start = now.boot_start_ms()?;
        let i = self.boots.binary_search_by_key(&boot, |(b, _)| *b).ok()?;
        // Boots are numbered in the order they ran (the counter only grows), so the boots after
        // `i` in the list ran between this one and the current boot.
        let later: u64 = self.boots[i + 1..].iter().map(|(_, last)| *last).sum();
        let end_of_boot = start.saturating_sub(clamp_i64(later));
        let last = self.boots[i].1;
        Some(end_of_boot.saturating_sub(clamp_i64(last.saturating_sub(ms))))
    }
}

fn clamp_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: i64 = 1_764_000_000_000;

    #[test]
    fn before_the_sync_changes_travel_with_their_age_after_it_with_their_time() {
        let mut clock = TimeBase::new(7);
        let early = clock.stamp(10_000);
        assert_eq!(
            early,
            EventTime::Uptime {
                boot: 7,
                ms: 10_000
            }
        );
        assert_eq!(
            clock.wire_time(early, 25_000),
            Some(WireTime::AgeMs(15_000))
        );

        clock.synced(30_000, T0);
        // The same change, uploaded after the sync, gets its exact time.
        assert_eq!(
            clock.wire_time(early, 31_000),
            Some(WireTime::Ts(T0 - 20_000))
        );
        assert_eq!(clock.stamp(40_000), EventTime::Wall { ts_ms: T0 + 10_000 });
    }

    #[test]
    fn a_later_sync_corrects_the_boot_start() {
        let mut clock = TimeBase::new(1);
        clock.synced(1_000, T0);
        clock.synced(3_600_000, T0 + 3_599_000 + 2_000); // the crystal ran 2 s slow
        assert_eq!(clock.boot_start_ms(), Some(T0 - 1_000 + 2_000));
    }

    #[test]
    fn earlier_boot_changes_wait_for_a_sync_then_sit_end_to_end_before_this_boot() {
        // Boot 3 ran 60 s unsynced, boot 4 ran 10 s unsynced, boot 5 syncs.
        let log = [
            EventTime::Wall {
                ts_ms: T0 - 500_000,
            },
            EventTime::Uptime { boot: 3, ms: 5_000 },
            EventTime::Uptime {
                boot: 3,
                ms: 60_000,
            },
            EventTime::Uptime { boot: 4, ms: 2_000 },
            EventTime::Uptime {
                boot: 4,
                ms: 10_000,
            },
            EventTime::Uptime { boot: 5, ms: 1_000 },
        ];
        let mut clock = TimeBase::new(5);
        let mut earlier = EarlierBoots::new();
        for t in log {
            earlier.observe(t, clock.boot());
        }
        assert_eq!(clock.wire_time(log[1], 2_000), None);
        assert_eq!(earlier.place(log[1], &clock), None, "not synced yet");

        clock.synced(20_000, T0);
        let start = T0 - 20_000;
        assert_eq!(earlier.place(log[4], &clock), Some(start));
        assert_eq!(earlier.place(log[3], &clock), Some(start - 8_000));
        assert_eq!(earlier.place(log[2], &clock), Some(start - 10_000));
        assert_eq!(earlier.place(log[1], &clock), Some(start - 10_000 - 55_000));
        assert_eq!(
            earlier.place(log[0], &clock),
            None,
            "wall times need no placing"
        );
        assert_eq!(
            clock.wire_time(log[5], 30_000),
            Some(WireTime::Ts(start + 1_000))
        );
    }

    proptest! {
        /// Whatever boots ran unsynced, and however long the logger was off in between, the placed
        /// times keep seq order, keep the spacing inside each boot, and never go below the real
        /// time of an earlier change or above the real time of a later one's boot start.
        #[test]
        fn placed_times_keep_order_and_spacing(
            boots in proptest::collection::vec(
                (proptest::collection::vec(0u64..100_000, 1..6), 0u64..1_000_000, 0i64..1_000_000),
                1..5,
            ),
            sync_after in 0u64..100_000,
        ) {
            // Real history: boot b starts at `real_start`; its changes at sorted uptimes; then it
            // runs on `tail` ms, then the logger is off for `off` ms.
            let mut real_start = T0;
            let mut log = Vec::new();
            for (b, (uptimes, tail, off)) in boots.iter().enumerate() {
                let mut uptimes = uptimes.clone();
                uptimes.sort_unstable();
                for ms in &uptimes {
                    log.push((EventTime::Uptime { boot: b as u32, ms: *ms }, real_start + *ms as i64));
                }
                real_start += (*uptimes.last().unwrap() + tail) as i64 + off;
            }
            let mut clock = TimeBase::new(boots.len() as u32);
            clock.synced(sync_after, real_start + sync_after as i64);
            let mut earlier = EarlierBoots::new();
            for (t, _) in &log {
                earlier.observe(*t, clock.boot());
            }
            let placed: Vec<i64> = log.iter().map(|(t, _)| earlier.place(*t, &clock).unwrap()).collect();
            for i in 1..log.len() {
                prop_assert!(placed[i] >= placed[i - 1]);
                if let (EventTime::Uptime { boot: a, ms: x }, EventTime::Uptime { boot: b, ms: y }) = (log[i - 1].0, log[i].0)
                    && a == b
                {
                    prop_assert_eq!(placed[i] - placed[i - 1], (y - x) as i64);
                }
            }
            for (i, (_, real)) in log.iter().enumerate() {
                prop_assert!(placed[i] >= *real, "placed before it happened");
                prop_assert!(placed[i] <= real_start);
            }
        }
    }
}
