//! The inputs: each watches one machine's run signal and sends its RUNNING/STOPPED changes,
//! dated by the agent's clock at the moment the change happened, to the recorder.
//!
//! - [`line`]: a level that can be read and waited on (a GPIO line, or a fake one in tests),
//!   debounced by `assetlog_core::debounce`; the gpiocdev source.
//! - [`modbus`]: a Modbus TCP discrete input or coil, polled, through the same debouncer.
//! - [`sim`]: a seeded `assetlog_core::sim` machine, played in (optionally lapsed) real time.

pub mod line;
pub mod modbus;
pub mod sim;

use std::time::Instant;

use tokio::sync::mpsc;

use crate::journal::Observed;
use crate::now_ms;
use crate::status::Shared;

/// The agent's monotonic clock (for debouncing), and its mapping to the wall clock (for event
/// times): a change first seen at monotonic `t` happened `now_mono - t` before `now_wall`.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    pub fn mono_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    /// The wall-clock time, epoch ms, of monotonic time `mono_ms` (in the past).
    pub fn wall_at(&self, mono_ms: u64) -> i64 {
        now_ms() - self.mono_ms().saturating_sub(mono_ms) as i64
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// What an input needs: where to send changes, and where to say it cannot read its signal.
#[derive(Clone)]
pub struct InputCtx {
    pub pin: u8,
    pub clock: Clock,
    pub tx: mpsc::Sender<Observed>,
    pub status: Shared,
}

impl InputCtx {
    /// Sends a change from a task; false once the agent is shutting down.
    pub async fn send(&self, running: bool, wall_ms: i64) -> bool {
        let observed = Observed {
            pin: self.pin,
            running,
            wall_ms,
        };
        self.tx.send(observed).await.is_ok()
    }

    /// Sends a change from a blocking thread; false once the agent is shutting down.
    pub fn blocking_send(&self, running: bool, wall_ms: i64) -> bool {
        let observed = Observed {
            pin: self.pin,
            running,
            wall_ms,
        };
        self.tx.blocking_send(observed).is_ok()
    }

    /// Shows (or, with `None`, clears) why this input cannot be read; logged once per change.
    pub fn input_error(&self, error: Option<String>) {
        let unchanged = self.status.read(|s| {
            s.assets
                .get(&self.pin)
                .is_none_or(|a| a.input_error == error)
        });
        if unchanged {
            return;
        }
        match &error {
            Some(e) => tracing::warn!(pin = self.pin, "input: {e}"),
            None => tracing::info!(pin = self.pin, "input readable again"),
        }
        self.status.update(|s| {
            if let Some(asset) = s.assets.get_mut(&self.pin) {
                asset.input_error = error;
            }
        });
    }
}
