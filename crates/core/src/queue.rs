//! Logger-side queue bookkeeping: numbering and timestamping events, and deciding which ones to
//! keep, upload and release. Storing them (flash on the ESP32-C3, a file on the Linux agent) is the
//! caller's; this module only says what the store should hold.
//!
//! - [`SeqAllocator`] numbers events 1, 2, 3, … and resumes after a restart. The server stores an
//!   event once per logger and seq, so a seq handed out twice is an event silently lost: persist
//!   [`SeqAllocator::last`] no later than the event that used it.
//! - [`MonotonicTs`] keeps event times from going backwards when the wall clock steps back (an SNTP
//!   correction, a drifting RTC), so seq order and time order agree.
//! - [`EventQueue`] is the bounded queue of events not yet acknowledged: the oldest are dropped and
//!   counted when it is full, the oldest are uploaded first, and an acknowledgement releases them.
//!
//! ```
//! use assetlog_core::queue::{EventQueue, MonotonicTs, SeqAllocator};
//! use assetlog_core::{IngestAck, StateChange};
//!
//! let mut seqs = SeqAllocator::resume(41); // read back from storage
//! let mut clock = MonotonicTs::new();
//! let mut queue = EventQueue::new(1000);
//!
//! for (pin, running, wall_ms) in [(0, true, 1_764_000_000_000), (1, false, 1_763_999_999_000)] {
//!     let event = StateChange { seq: seqs.allocate(), pin, running, ts: clock.stamp(wall_ms) };
//!     queue.push(event);
//! }
//! let batch = queue.batch(100).to_vec();
//! assert_eq!(batch.iter().map(|e| (e.seq, e.ts)).collect::<Vec<_>>(),
//!            [(42, 1_764_000_000_000), (43, 1_764_000_000_000)]);
//!
//! // ... POST the batch; the server answers how far it has stored:
//! let ack = IngestAck { acked_seq: 43 };
//! assert_eq!(queue.ack(ack.acked_seq), 2);
//! assert_eq!(queue.depth(), 0);
//! ```

use crate::wire::{MAX_BATCH_EVENTS, StateChange};
use alloc::collections::VecDeque;

/// Hands out a logger's event sequence numbers: 1, 2, 3, … strictly increasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeqAllocator {
    last: u64,
}

impl SeqAllocator {
    /// A logger that has never numbered an event: the first seq is 1.
    pub const fn new() -> Self {
        Self { last: 0 }
    }

    /// Continues after `last_seq`, the highest seq ever handed out (0 for none).
    pub const fn resume(last_seq: u64) -> Self {
        Self { last: last_seq }
    }

    /// The next seq.
    ///
    /// # Panics
    /// After `u64::MAX`, rather than reuse a seq: at one event a millisecond that is 584 million
    /// years away, so reaching it means the persisted last seq was corrupt.
    pub fn allocate(&mut self) -> u64 {
        self.last = self.last.checked_add(1).expect("event seq space exhausted");
        self.last
    }

    /// The highest seq handed out so far (0 for none): what to persist.
    pub const fn last(&self) -> u64 {
        self.last
    }
}

/// Turns wall-clock readings into event times that never go backwards.
///
/// A reading earlier than the previous event's time is clamped up to it. The clamp trusts the
/// highest reading it has seen, so stamp events only once the clock has been set (after SNTP):
/// a reading far in the future would hold every later event at that time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MonotonicTs {
    last: Option<i64>,
}

impl MonotonicTs {
    /// No event yet: the first reading is taken as is.
    pub const fn new() -> Self {
        Self { last: None }
    }

    /// Continues after an event stamped `last_ts` (the newest event's ts, read back from storage).
    pub const fn resume(last_ts: i64) -> Self {
        Self {
            last: Some(last_ts),
        }
    }

    /// The ts to record for an event read at `wall_ms` (epoch milliseconds): `wall_ms`, or the
    /// previous event's ts if the clock has stepped back below it.
    pub fn stamp(&mut self, wall_ms: i64) -> i64 {
        let ts = self.last.map_or(wall_ms, |last| wall_ms.max(last));
        self.last = Some(ts);
        ts
    }

    /// The ts of the latest stamped event, if any.
    pub const fn last(&self) -> Option<i64> {
        self.last
    }
}

/// The bounded queue of events waiting for the server's acknowledgement, oldest first.
///
/// Events are expected in seq order (as [`SeqAllocator`] hands them out); releasing is by seq, not
/// by position, so an event is only ever released by an acknowledgement that covers it.
#[derive(Debug, Clone)]
pub struct EventQueue {
    events: VecDeque<StateChange>,
    capacity: usize,
    dropped: u64,
}

impl EventQueue {
    /// An empty queue holding at most `capacity` events. The room is allocated up front, so a
    /// firmware learns at boot, not after hours offline, whether it fits in memory.
    pub fn new(capacity: usize) -> Self {
        Self {
            events: VecDeque::with_capacity(capacity),
            capacity,
            dropped: 0,
        }
    }

    /// Appends an event. When the queue is full the oldest event is dropped, counted in
    /// [`dropped`](Self::dropped), and returned so the caller can drop it from storage too.
    /// (A queue of capacity 0 drops and returns the new event itself.) Events come in increasing
    /// seq order, as [`SeqAllocator`] hands them out.
    pub fn push(&mut self, event: StateChange) -> Option<StateChange> {
        debug_assert!(
            self.events.back().is_none_or(|last| last.seq < event.seq),
            "events are queued in increasing seq order"
        );
        if self.capacity == 0 {
            self.dropped += 1;
            return Some(event);
        }
        let evicted = if self.events.len() >= self.capacity {
            self.dropped += 1;
            self.events.pop_front()
        } else {
            None
        };
        self.events.push_back(event);
        evicted
    }

    /// How many events are waiting.
    pub fn depth(&self) -> usize {
        self.events.len()
    }

    /// The most events the queue holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many events were dropped, unsent, because the queue was full: reported in heartbeats.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The oldest events to upload next: at most `max`, and never more than one ingest request may
    /// carry ([`MAX_BATCH_EVENTS`]). They stay queued until acknowledged.
    pub fn batch(&mut self, max: usize) -> &[StateChange] {
        let n = max.min(MAX_BATCH_EVENTS).min(self.events.len());
        &self.events.make_contiguous()[..n]
    }

    /// Releases every queued event with `seq <= acked_seq`; returns how many were released.
    ///
    /// Call it with the server's [`IngestAck::acked_seq`](crate::IngestAck). Where an endpoint only
    /// answers success for a whole batch, call it with the batch's last seq, not with a count: the
    /// queue may have dropped its oldest events while the upload was in flight, and a count would
    /// then release events that were never sent.
    pub fn ack(&mut self, acked_seq: u64) -> usize {
        // Queued in seq order, so the released ones are at the front: a long backlog drains in
        // time proportional to what is released, not to what is queued.
        let mut released = 0;
        while self.events.front().is_some_and(|e| e.seq <= acked_seq) {
            self.events.pop_front();
            released += 1;
        }
        released
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn event(seq: u64) -> StateChange {
        StateChange {
            seq,
            pin: 0,
            running: seq % 2 == 1,
            ts: 1_764_000_000_000 + seq as i64,
        }
    }

    fn seqs(q: &EventQueue) -> Vec<u64> {
        q.events.iter().map(|e| e.seq).collect()
    }

    fn queue_of(capacity: usize, seqs: impl IntoIterator<Item = u64>) -> EventQueue {
        let mut q = EventQueue::new(capacity);
        for s in seqs {
            q.push(event(s));
        }
        q
    }

    #[test]
    fn seqs_start_at_1_and_resume_after_the_last() {
        let mut fresh = SeqAllocator::new();
        assert_eq!(fresh.last(), 0);
        assert_eq!([fresh.allocate(), fresh.allocate()], [1, 2]);
        assert_eq!(fresh.last(), 2);
        assert_eq!(SeqAllocator::default(), SeqAllocator::new());

        let mut resumed = SeqAllocator::resume(41);
        assert_eq!(resumed.allocate(), 42);
        assert_eq!(SeqAllocator::resume(u64::MAX - 1).allocate(), u64::MAX);
    }

    #[test]
    #[should_panic(expected = "exhausted")]
    fn seqs_are_never_reused() {
        SeqAllocator::resume(u64::MAX).allocate();
    }

    /// A name, the ts to resume from, the wall-clock readings, and the ts expected for each.
    type ClockCase<'a> = (&'a str, Option<i64>, &'a [i64], &'a [i64]);

    #[test]
    fn a_clock_that_steps_back_is_held_at_the_previous_ts() {
        #[rustfmt::skip]
        let cases: &[ClockCase<'_>] = &[
            ("a steady clock passes through", None, &[100, 200, 300], &[100, 200, 300]),
            ("equal readings stay equal", None, &[100, 100], &[100, 100]),
            ("a step back is clamped until the clock catches up", None,
                &[100, 200, 150, 199, 250, 10], &[100, 200, 200, 200, 250, 250]),
            ("the first reading is taken as is, however early", None, &[-5, 0], &[-5, 0]),
            ("a resumed clock clamps to the stored ts", Some(500), &[400, 600], &[500, 600]),
        ];
        for (name, resume, readings, expected) in cases {
            let mut clock = resume.map_or(MonotonicTs::new(), MonotonicTs::resume);
            let got: Vec<i64> = readings.iter().map(|&r| clock.stamp(r)).collect();
            assert_eq!(got, *expected, "{name}");
            assert_eq!(clock.last(), expected.last().copied(), "{name}");
        }
    }

    #[test]
    fn a_full_queue_drops_its_oldest() {
        let mut q = queue_of(3, 1..=3);
        assert_eq!((q.depth(), q.dropped()), (3, 0));
        assert_eq!(q.push(event(4)), Some(event(1)));
        assert_eq!(q.push(event(5)), Some(event(2)));
        assert_eq!((q.depth(), q.capacity(), q.dropped()), (3, 3, 2));
        assert_eq!(seqs(&q), [3, 4, 5]);
    }

    #[test]
    fn a_queue_without_room_drops_everything() {
        let mut q = EventQueue::new(0);
        assert_eq!(q.push(event(1)), Some(event(1)));
        assert_eq!((q.depth(), q.dropped()), (0, 1));
        assert!(q.batch(10).is_empty());
    }

    #[test]
    fn batches_are_the_oldest_events() {
        let mut q = queue_of(2000, 1..=1500);
        assert!(q.batch(0).is_empty());
        assert_eq!(q.batch(2), [event(1), event(2)]);
        assert_eq!(q.batch(usize::MAX).len(), MAX_BATCH_EVENTS);
        assert_eq!(q.depth(), 1500, "a batch stays queued until acknowledged");

        let mut short = queue_of(10, 1..=3);
        assert_eq!(short.batch(100).len(), 3);
    }

    #[test]
    fn batches_are_contiguous_after_the_ring_wraps() {
        let mut q = queue_of(4, 1..=4);
        q.ack(2);
        q.push(event(5));
        q.push(event(6));
        assert_eq!(q.batch(4), [event(3), event(4), event(5), event(6)]);
    }

    #[test]
    fn an_ack_releases_everything_up_to_its_seq() {
        #[rustfmt::skip]
        let cases: &[(&str, u64, usize, &[u64])] = &[
            ("nothing acknowledged yet", 0, 0, &[3, 4, 5, 6]),
            ("an old ack releases nothing", 2, 0, &[3, 4, 5, 6]),
            ("a partial ack keeps the rest", 4, 2, &[5, 6]),
            ("a full ack empties the queue", 6, 4, &[]),
            ("an ack beyond the queue empties it", 99, 4, &[]),
        ];
        for (name, acked, released, left) in cases {
            let mut q = queue_of(10, 3..=6);
            assert_eq!(q.ack(*acked), *released, "{name}");
            assert_eq!(seqs(&q), *left, "{name}");
        }
    }

    #[test]
    fn a_batch_released_by_seq_never_releases_unsent_events() {
        let mut q = queue_of(4, 1..=4);
        let sent = q.batch(4).to_vec();
        // Offline for a while: new events push the oldest out while the upload is in flight.
        q.push(event(5));
        q.push(event(6));
        assert_eq!(q.ack(sent.last().unwrap().seq), 2);
        assert_eq!(seqs(&q), [5, 6]);
        assert_eq!(q.dropped(), 2);
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// An edge at this wall-clock reading.
        Record(i64),
        /// The server acknowledges up to this many seqs before the newest handed out.
        Ack(u64),
        /// Take a batch of at most this many events for upload.
        Send(usize),
        /// The server answers 200 to the batch in flight.
        Accept,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (1_764_000_000_000i64..1_764_000_100_000).prop_map(Op::Record),
            1 => (0u64..20).prop_map(Op::Ack),
            1 => (0usize..12).prop_map(Op::Send),
            1 => Just(Op::Accept),
        ]
    }

    proptest! {
        #[test]
        fn allocated_seqs_strictly_increase(last in 0u64..u64::MAX / 2, n in 1usize..50) {
            let mut alloc = SeqAllocator::resume(last);
            let mut prev = last;
            for _ in 0..n {
                let seq = alloc.allocate();
                prop_assert!(seq > prev);
                prev = seq;
            }
            prop_assert_eq!(alloc.last(), last + n as u64);
        }

        #[test]
        fn stamped_times_never_decrease(readings in proptest::collection::vec(any::<i64>(), 0..50)) {
            let mut clock = MonotonicTs::new();
            let mut prev = i64::MIN;
            for r in readings {
                let ts = clock.stamp(r);
                prop_assert!(ts >= prev && ts >= r);
                // Only clamped when the clock actually stepped back.
                prop_assert!(ts == r || ts == prev);
                prev = ts;
            }
        }

        #[test]
        fn the_queue_keeps_its_books(
            capacity in 0usize..10,
            resume in 0u64..1000,
            ops in proptest::collection::vec(op(), 0..120),
        ) {
            let mut seqs_out = SeqAllocator::resume(resume);
            let mut clock = MonotonicTs::new();
            let mut q = EventQueue::new(capacity);
            let (mut pushed, mut released) = (0u64, 0u64);
            let mut in_flight: Option<Vec<StateChange>> = None;

            for op in ops {
                let before: Vec<StateChange> = q.events.iter().copied().collect();
                match op {
                    Op::Record(wall_ms) => {
                        let e = StateChange { seq: seqs_out.allocate(), pin: 1, running: true, ts: clock.stamp(wall_ms) };
                        let evicted = q.push(e);
                        pushed += 1;
                        if capacity > 0 {
                            prop_assert_eq!(evicted, (before.len() == capacity).then(|| before[0]));
                        } else {
                            prop_assert_eq!(evicted, Some(e));
                        }
                    }
                    Op::Ack(back) => {
                        let acked = seqs_out.last().saturating_sub(back);
                        let n = q.ack(acked);
                        released += n as u64;
                        prop_assert!(q.events.iter().all(|e| e.seq > acked));
                        let kept: Vec<_> = before.iter().copied().filter(|e| e.seq > acked).collect();
                        prop_assert_eq!(q.events.iter().copied().collect::<Vec<_>>(), kept);
                        prop_assert_eq!(n, before.len() - q.depth());
                    }
                    Op::Send(max) => {
                        let batch = q.batch(max).to_vec();
                        prop_assert_eq!(&batch[..], &before[..max.min(before.len())]);
                        prop_assert_eq!(q.depth(), before.len());
                        in_flight = Some(batch);
                    }
                    Op::Accept => {
                        if let Some(sent) = in_flight.take().filter(|b| !b.is_empty()) {
                            let n = q.ack(sent.last().unwrap().seq);
                            released += n as u64;
                            for gone in before.iter().filter(|e| !q.events.contains(e)) {
                                prop_assert!(sent.contains(gone), "released an unsent event");
                            }
                        }
                    }
                }
                prop_assert!(q.depth() <= capacity);
                prop_assert_eq!(pushed, q.depth() as u64 + released + q.dropped());
                for pair in q.events.iter().collect::<Vec<_>>().windows(2) {
                    prop_assert!(pair[0].seq < pair[1].seq);
                    prop_assert!(pair[0].ts <= pair[1].ts);
                }
            }
        }
    }
}
