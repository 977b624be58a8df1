//! The inputs: a sampler reads every GPIO every few milliseconds through `assetlog-core`'s
//! debouncer; each edge goes to the recorder, which numbers it, writes it to the flash log and
//! only then shows it and wakes the uploader.

use core::sync::atomic::{AtomicU32, Ordering};

use alloc::format;
use alloc::vec::Vec;
use assetlog_core::debounce::{DebounceConfig, Debouncer, Edge};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_time::{Duration, Instant, Ticker, Timer};
use esp_hal::gpio::Input;

use crate::config::{InputSpec, SAMPLE_PERIOD_MS};
use crate::status::{self, RecentChange};
use crate::{SharedStore, UPLOAD_WAKE};

/// An edge of one input on its way to the flash log.
#[derive(Debug, Clone, Copy)]
pub struct Change {
    pub gpio: u8,
    pub edge: Edge,
}

/// Edges between the sampler and the recorder. Room for a burst while a flash sector is erased
/// (tens of milliseconds); every input would have to change several times in that time to
/// fill it.
pub static CHANGES: Channel<CriticalSectionRawMutex, Change, 64> = Channel::new();

/// Counts sampler rounds; the watchdog feeds only while it moves.
pub static SAMPLER_ROUNDS: AtomicU32 = AtomicU32::new(0);

/// Uptime in milliseconds: the clock of the debouncer, the timebase and the uplink.
pub fn uptime_ms() -> u64 {
    Instant::now().as_millis()
}

#[embassy_executor::task]
pub async fn sample(pins: Vec<(InputSpec, Input<'static>)>) {
    let mut inputs: Vec<(u8, &Input<'static>, Debouncer)> = pins
        .iter()
        .map(|(spec, pin)| {
            let config = DebounceConfig {
                debounce_ms: spec.debounce_ms,
                active_low: spec.active_low,
            };
            (spec.gpio, pin, Debouncer::new(config))
        })
        .collect();
    let mut ticker = Ticker::every(Duration::from_millis(SAMPLE_PERIOD_MS));
    loop {
        let now = uptime_ms();
        for (gpio, pin, debouncer) in &mut inputs {
            if let Some(edge) = debouncer.sample(pin.is_high(), now) {
                let change = Change { gpio: *gpio, edge };
                if CHANGES.try_send(change).is_err() {
                    // The recorder is stuck on the flash; the next edge of this input carries the
                    // state again, but this change is lost, and says so.
                    status::error(format!("change of GPIO {gpio} lost: flash log busy"));
                }
            }
        }
        // The only writer: a load and a store need no atomic add (which this core lacks).
        let rounds = SAMPLER_ROUNDS.load(Ordering::Relaxed);
        SAMPLER_ROUNDS.store(rounds.wrapping_add(1), Ordering::Relaxed);
        ticker.next().await;
    }
}

#[embassy_executor::task]
pub async fn record(store: &'static SharedStore) {
    loop {
        let change = CHANGES.receive().await;
        let time = status::with(|s| s.time.stamp(change.edge.since_ms));
        let (logged, queued) = loop {
            let mut store = store.lock().await;
            match store.record(change.gpio, change.edge.running, time).await {
                Ok(logged) => break (logged, store.depth()),
                Err(e) => {
                    // Keep the change (with its original time) and try again: nothing is numbered
                    // until it is in flash.
                    status::error(format!("cannot write the flash log: {e}; retrying"));
                    drop(store);
                    Timer::after(Duration::from_secs(1)).await;
                }
            }
        };
        log::info!(
            "seq {} GPIO {} {}",
            logged.seq,
            logged.pin,
            if logged.running { "RUNNING" } else { "STOPPED" }
        );
        status::with(|s| {
            s.recorded(RecentChange {
                seq: logged.seq,
                gpio: logged.pin,
                running: logged.running,
                uptime_ms: change.edge.since_ms,
            });
            s.queued = queued;
        });
        UPLOAD_WAKE.signal(());
    }
}
