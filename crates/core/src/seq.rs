//! Acknowledgement arithmetic: which prefix of a logger's sequence numbers is complete.

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
    }
}
