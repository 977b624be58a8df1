//! Exponential backoff with jitter, for every logger that retries a server: the Linux agent, the
//! simulator and the ESP32-C3 firmware.

use crate::sim::Rng;
use core::time::Duration;

/// Exponential backoff with jitter: each wait is drawn from the upper half of a window that
/// doubles from `min` to `max`, so a fleet that lost the server together does not come back in
/// step.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    window: Duration,
    rng: Rng,
}

impl Backoff {
    /// Waits start at `min` and double up to `max` (raised to `min` if below it); `seed` feeds the
    /// jitter and should differ between loggers and boots.
    pub fn new(min: Duration, max: Duration, seed: u64) -> Self {
        Self {
            min,
            max: max.max(min),
            window: min,
            rng: Rng::new(seed),
        }
    }

    /// The next wait: in `[window / 2, window]`, then the window doubles.
    pub fn next_delay(&mut self) -> Duration {
        let wait = self.window / 2 + self.window.mul_f64(self.rng.unit() / 2.0);
        self.window = (self.window * 2).min(self.max);
        wait
    }

    /// After a success: the next failure waits about `min` again.
    pub fn reset(&mut self) {
        self.window = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000), 9);
        let windows = [100, 200, 400, 800, 1000, 1000];
        for w in windows {
            let d = b.next_delay().as_millis() as u64;
            assert!(d >= w / 2 && d <= w, "{d} not in [{}, {w}]", w / 2);
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn two_seeds_wait_differently() {
        let min = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        let mut a = Backoff::new(min, max, 1);
        let mut b = Backoff::new(min, max, 2);
        let a: alloc::vec::Vec<_> = (0..5).map(|_| a.next_delay()).collect();
        let b: alloc::vec::Vec<_> = (0..5).map(|_| b.next_delay()).collect();
        assert_ne!(a, b);
    }
}
