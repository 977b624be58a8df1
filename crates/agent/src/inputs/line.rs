//! A digital line read by level, woken by edges: the GPIO input, written against the
//! [`LineSource`] trait so the same logic runs on a fake line in tests.
//!
//! The loop reads the level, feeds it to the core debouncer, and then sleeps until either the
//! line reports an edge or a pending level has been held long enough to be confirmed. An idle
//! machine costs one wake-up a second per input (a safety re-read in case an edge was missed).

use std::io;
use std::time::Duration;

use assetlog_core::debounce::{DebounceConfig, Debouncer};

use super::{Clock, InputCtx};
use crate::config::{Bias, GpioInput};

/// The longest the loop sleeps without re-reading the level.
const IDLE_REREAD: Duration = Duration::from_secs(1);

/// A digital input line.
pub trait LineSource {
    /// The electrical level now (`true` = high).
    fn level(&mut self) -> io::Result<bool>;
    /// Blocks until the line may have changed level or `timeout` has passed.
    fn wait(&mut self, timeout: Duration) -> io::Result<()>;
}

/// Watches `source` until the agent stops (the channel closes) or the line fails; each
/// confirmed change is sent with the wall time its level was first seen.
pub fn watch(
    source: &mut impl LineSource,
    debounce: DebounceConfig,
    ctx: &InputCtx,
) -> io::Result<()> {
    watch_with(source, debounce, ctx.clock, |running, wall_ms| {
        ctx.blocking_send(running, wall_ms)
    })
}

/// [`watch`] with the sink as a closure (returning false to stop), for tests.
pub fn watch_with(
    source: &mut impl LineSource,
    debounce: DebounceConfig,
    clock: Clock,
    mut emit: impl FnMut(bool, i64) -> bool,
) -> io::Result<()> {
    let mut debouncer = Debouncer::new(debounce);
    // The level seen last and since when (monotonic ms): how long a pending level still has to
    // hold before the debouncer can confirm it.
    let mut seen: Option<(bool, u64)> = None;
    loop {
        let now = clock.mono_ms();
        let level = source.level()?;
        if seen.is_none_or(|(l, _)| l != level) {
            seen = Some((level, now));
        }
        if let Some(edge) = debouncer.sample(level, now)
            && !emit(edge.running, clock.wall_at(edge.since_ms))
        {
            return Ok(());
        }
        let running = level != debounce.active_low;
        let pending = debouncer.stable().is_none_or(|s| s.running != running);
        let timeout = match seen {
            Some((_, since)) if pending => {
                let held = now.saturating_sub(since);
                Duration::from_millis(debounce.debounce_ms.saturating_sub(held).max(1))
            }
            _ => IDLE_REREAD,
        };
        source.wait(timeout)?;
    }
}

/// A GPIO line through the Linux character device, with edge events to wake the loop.
pub struct GpioLine {
    request: gpiocdev::Request,
    offset: u32,
}

impl GpioLine {
    pub fn open(cfg: &GpioInput) -> Result<Self, String> {
        let chip = if cfg.chip.contains('/') {
            cfg.chip.clone()
        } else {
            format!("/dev/{}", cfg.chip)
        };
        let mut builder = gpiocdev::Request::builder();
        builder
            .on_chip(&chip)
            .with_consumer("assetlog-agent")
            .with_line(cfg.line)
            .as_input()
            .with_edge_detection(gpiocdev::line::EdgeDetection::BothEdges);
        let bias = match cfg.bias {
            Bias::AsIs => None,
            Bias::Disabled => Some(gpiocdev::line::Bias::Disabled),
            Bias::PullUp => Some(gpiocdev::line::Bias::PullUp),
            Bias::PullDown => Some(gpiocdev::line::Bias::PullDown),
        };
        if bias.is_some() {
            builder.with_bias(bias);
        }
        let request = builder
            .request()
            .map_err(|e| format!("cannot open {chip} line {}: {e}", cfg.line))?;
        Ok(Self {
            request,
            offset: cfg.line,
        })
    }
}

impl LineSource for GpioLine {
    fn level(&mut self) -> io::Result<bool> {
        let value = self.request.value(self.offset).map_err(io::Error::other)?;
        // Requested without active-low, so `Active` is electrically high; inversion is the
        // debouncer's job, as on the firmware.
        Ok(value == gpiocdev::line::Value::Active)
    }

    fn wait(&mut self, timeout: Duration) -> io::Result<()> {
        if self
            .request
            .wait_edge_event(timeout)
            .map_err(io::Error::other)?
        {
            // Drain the kernel's event buffer: only the level read next matters.
            while self.request.has_edge_event().map_err(io::Error::other)? {
                self.request.read_edge_event().map_err(io::Error::other)?;
            }
        }
        Ok(())
    }
}

/// The `gpio` input: a blocking thread per line; when the line cannot be opened or read, the
/// error shows on the status page and the line is retried every few seconds.
pub fn spawn_gpio(cfg: GpioInput, ctx: InputCtx) {
    let debounce = DebounceConfig {
        debounce_ms: cfg.debounce_ms,
        active_low: cfg.active_low,
    };
    std::thread::Builder::new()
        .name(format!("gpio-pin{}", ctx.pin))
        .spawn(move || {
            loop {
                let result = GpioLine::open(&cfg).and_then(|mut line| {
                    ctx.input_error(None);
                    watch(&mut line, debounce, &ctx).map_err(|e| format!("GPIO read failed: {e}"))
                });
                match result {
                    Ok(()) => return,
                    Err(e) => ctx.input_error(Some(e)),
                }
                if ctx.tx.is_closed() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(5));
            }
        })
        .expect("spawning a thread");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::{Arc, Condvar, Mutex};

    /// A line a test sets by hand; `wait` wakes as soon as it is set, like an edge event.
    #[derive(Clone, Default)]
    struct FakeLine(Arc<(Mutex<(bool, u64)>, Condvar)>);

    impl FakeLine {
        fn set(&self, level: bool) {
            let (lock, cv) = &*self.0;
            let mut g = lock.lock().unwrap();
            *g = (level, g.1 + 1);
            cv.notify_all();
        }
    }

    struct Reader {
        line: FakeLine,
        generation: u64,
    }

    impl LineSource for Reader {
        fn level(&mut self) -> io::Result<bool> {
            let g = self.line.0.0.lock().unwrap();
            self.generation = g.1;
            Ok(g.0)
        }
        fn wait(&mut self, timeout: Duration) -> io::Result<()> {
            let (lock, cv) = &*self.line.0;
            let g = lock.lock().unwrap();
            let _ = cv
                .wait_timeout_while(g, timeout, |g| g.1 == self.generation)
                .unwrap();
            Ok(())
        }
    }

    /// Watches a fake line on a thread; edges arrive on the receiver as `(running, wall_ms)`.
    fn watched(debounce_ms: u64, active_low: bool) -> (FakeLine, mpsc::Receiver<(bool, i64)>) {
        let line = FakeLine::default();
        let (tx, rx) = mpsc::channel();
        let mut reader = Reader {
            line: line.clone(),
            generation: 0,
        };
        let cfg = DebounceConfig {
            debounce_ms,
            active_low,
        };
        std::thread::spawn(move || {
            watch_with(&mut reader, cfg, Clock::new(), |r, t| {
                tx.send((r, t)).is_ok()
            })
        });
        (line, rx)
    }

    fn next(rx: &mpsc::Receiver<(bool, i64)>) -> (bool, i64) {
        rx.recv_timeout(Duration::from_secs(10)).expect("an edge")
    }

    #[test]
    fn each_held_change_is_reported_once_with_the_time_it_began() {
        let (line, rx) = watched(20, false);
        assert!(!next(&rx).0, "the level at start: low, stopped");
        let before = crate::now_ms();
        line.set(true);
        let (running, at) = next(&rx);
        assert!(running);
        // Within the clock's resolution: `wall_at` subtracts two monotonic readings each
        // truncated to the millisecond, so it may come out 1 ms early.
        assert!(
            at >= before - 1 && at <= crate::now_ms(),
            "dated when first seen: {at} vs {before}"
        );
        line.set(false);
        assert!(!next(&rx).0);
        assert!(
            rx.recv_timeout(Duration::from_millis(100)).is_err(),
            "nothing more"
        );
    }

    #[test]
    fn an_active_low_line_runs_while_low() {
        let (line, rx) = watched(0, true);
        assert!(next(&rx).0, "low at start: running");
        line.set(true);
        assert!(!next(&rx).0);
    }

    #[test]
    fn a_glitch_shorter_than_the_debounce_time_is_not_a_change() {
        let (line, rx) = watched(500, false);
        assert!(!next(&rx).0);
        line.set(true);
        line.set(false);
        assert!(
            rx.recv_timeout(Duration::from_millis(700)).is_err(),
            "no change"
        );
        line.set(true);
        assert!(next(&rx).0, "a held change still is one");
    }
}
