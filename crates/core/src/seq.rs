//! Acknowledgement arithmetic: which prefix of a logger's sequence numbers is complete.

use alloc::vec::Vec;

/// Advances an acknowledgement watermark over stored sequence numbers.
///
/// `acked` is the current watermark (every seq `1..=acked` is stored; 0 when none is). `stored` is
/// any set of stored seqs above it, in ascending order; the result is the highest seq such that
/// every seq up to it is stored.
pub fn advance_ack(acked: u64, stored_ascending: impl IntoIterator<Item = u64>) -> u64 {
    let mut acked = acked;
    for seq in stored_ascending {
        if seq <= acked {
            continue;
        }
        if seq != acked + 1 {
            break;
        }
        acked = seq;
    }
    acked
}

/// A set of sequence numbers kept as runs `first..=last`: sorted, disjoint, and never touching
/// (two runs that would touch are one run). A logger numbers its events one after the other, so
/// the seqs it has stored are a handful of runs however many events there are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqRuns {
    runs: Vec<(u64, u64)>,
}

impl SeqRuns {
    /// The set holding every seq of the given runs, in any order, overlapping or not.
    pub fn from_runs(runs: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut given: Vec<(u64, u64)> = runs.into_iter().filter(|(f, l)| f <= l).collect();
        given.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(given.len());
        for (first, last) in given {
            match merged.last_mut() {
                Some(prev) if first <= prev.1.saturating_add(1) => prev.1 = prev.1.max(last),
                _ => merged.push((first, last)),
            }
        }
        Self { runs: merged }
    }

    /// The runs, ascending.
    pub fn runs(&self) -> &[(u64, u64)] {
        &self.runs
    }

    /// Index of the first run that starts after `seq`.
    fn after(&self, seq: u64) -> usize {
        self.runs.partition_point(|&(first, _)| first <= seq)
    }

    pub fn contains(&self, seq: u64) -> bool {
        let i = self.after(seq);
        i > 0 && seq <= self.runs[i - 1].1
    }

    /// Adds `seq`; false when it was already there.
    pub fn insert(&mut self, seq: u64) -> bool {
        let i = self.after(seq);
        let joins_prev = match i.checked_sub(1).map(|p| self.runs[p]) {
            Some((_, last)) if seq <= last => return false,
            Some((_, last)) => last.checked_add(1) == Some(seq),
            None => false,
        };
        let joins_next = self
            .runs
            .get(i)
            .is_some_and(|&(first, _)| seq.checked_add(1) == Some(first));
        match (joins_prev, joins_next) {
            (true, true) => {
                self.runs[i - 1].1 = self.runs[i].1;
                self.runs.remove(i);
            }
            (true, false) => self.runs[i - 1].1 = seq,
            (false, true) => self.runs[i].0 = seq,
            (false, false) => self.runs.insert(i, (seq, seq)),
        }
        true
    }

    /// The highest seq such that every seq from `acked + 1` up to it is in the set, or `acked`
    /// when `acked + 1` is not: [`advance_ack`] over the runs.
    pub fn advance(&self, acked: u64) -> u64 {
        match acked.checked_add(1) {
            Some(next) if self.contains(next) => self.runs[self.after(next) - 1].1,
            _ => acked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_watermark_stops_at_the_first_gap() {
        assert_eq!(advance_ack(0, []), 0);
        assert_eq!(advance_ack(0, [1, 2, 3]), 3);
        assert_eq!(advance_ack(0, [2, 3]), 0);
        assert_eq!(advance_ack(3, [4, 6, 7]), 4);
        assert_eq!(advance_ack(5, [1, 2, 6]), 6);
        assert_eq!(advance_ack(5, [5, 5, 6, 6, 7]), 7);
    }

    #[test]
    fn runs_grow_join_and_refuse_repeats() {
        let mut runs = SeqRuns::default();
        assert!(runs.insert(5));
        assert!(runs.insert(7));
        assert_eq!(runs.runs(), [(5, 5), (7, 7)]);
        assert!(!runs.insert(5));
        assert!(runs.insert(6));
        assert_eq!(runs.runs(), [(5, 7)]);
        assert!(runs.insert(4));
        assert!(runs.insert(8));
        assert!(runs.insert(1));
        assert_eq!(runs.runs(), [(1, 1), (4, 8)]);
        assert_eq!(runs.advance(0), 1);
        assert_eq!(runs.advance(1), 1);
        assert_eq!(runs.advance(3), 8);
        assert_eq!(runs.advance(6), 8);
        assert_eq!(runs.advance(9), 9);
        assert!(runs.insert(u64::MAX));
        assert!(!runs.insert(u64::MAX));
        assert_eq!(runs.advance(u64::MAX), u64::MAX);
        assert_eq!(
            SeqRuns::from_runs([(9, 12), (1, 3), (4, 4), (2, 2), (20, 10), (13, 15)]).runs(),
            [(1, 4), (9, 15)]
        );
    }

    proptest! {
        #[test]
        fn the_watermark_is_the_longest_complete_prefix(mut seqs in proptest::collection::vec(1u64..60, 0..80)) {
            seqs.sort_unstable();
            let acked = advance_ack(0, seqs.iter().copied());
            for s in 1..=acked {
                prop_assert!(seqs.contains(&s));
            }
            prop_assert!(!seqs.contains(&(acked + 1)));
        }

        #[test]
        fn runs_hold_exactly_the_inserted_seqs(seqs in proptest::collection::vec(1u64..80, 0..120), acked in 0u64..80) {
            let mut runs = SeqRuns::default();
            let mut set = std::collections::BTreeSet::new();
            for &s in &seqs {
                prop_assert_eq!(runs.insert(s), set.insert(s));
            }
            for s in 0..90 {
                prop_assert_eq!(runs.contains(s), set.contains(&s));
            }
            // Maximal: sorted, non-empty, and a gap of at least one seq between runs.
            for pair in runs.runs().windows(2) {
                prop_assert!(pair[0].1 + 1 < pair[1].0);
            }
            let expanded: Vec<u64> = runs.runs().iter().flat_map(|&(f, l)| f..=l).collect();
            prop_assert_eq!(&expanded, &set.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(SeqRuns::from_runs(runs.runs().iter().rev().copied()), runs.clone());
            prop_assert_eq!(runs.advance(acked), advance_ack(acked, set.iter().copied()));
        }
    }
}
