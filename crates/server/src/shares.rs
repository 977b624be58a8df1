//! Work split into one share per CPU, for the few requests big enough to use both cores.

/// `items` cut into consecutive shares, one per CPU, each of at least `min_share` items (so a
/// short list stays whole), in order. No items, no shares.
pub fn per_cpu<T>(items: Vec<T>, min_share: usize) -> Vec<Vec<T>> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let share = items.len().div_ceil(cpus).max(min_share).max(1);
    let mut items = items.into_iter().peekable();
    let mut shares = Vec::new();
    while items.peek().is_some() {
        shares.push(items.by_ref().take(share).collect());
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_keep_every_item_in_order() {
        for (n, min) in [
            (0, 1),
            (1, 1),
            (7, 1),
            (100, 1),
            (63, 64),
            (65, 64),
            (500, 64),
        ] {
            let shares = per_cpu((0..n).collect::<Vec<u32>>(), min);
            assert!(shares.iter().all(|s| !s.is_empty()));
            assert!(shares.len() <= n.max(1) as usize);
            let back: Vec<u32> = shares.into_iter().flatten().collect();
            assert_eq!(back, (0..n).collect::<Vec<_>>());
        }
    }
}
