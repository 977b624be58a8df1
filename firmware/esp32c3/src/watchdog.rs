//! The watchdog: timer group 1's MWDT resets the chip unless it is fed, and it is fed only while
//! the input sampler keeps running. A hung executor, a task that blocks the CPU, or a sampler
//! stuck on something it waits for all end in a restart; the flash log keeps what was recorded.

use core::sync::atomic::Ordering;

use embassy_time::{Duration, Timer};
use esp_hal::peripherals::TIMG1;
use esp_hal::timer::timg::{MwdtStage, MwdtStageAction, Wdt};

use crate::config::WATCHDOG_TIMEOUT_MS;
use crate::inputs::SAMPLER_ROUNDS;

#[embassy_executor::task]
pub async fn guard(mut wdt: Wdt<TIMG1<'static>>) {
    wdt.set_timeout(
        MwdtStage::Stage0,
        esp_hal::time::Duration::from_millis(WATCHDOG_TIMEOUT_MS),
    );
    wdt.set_stage_action(MwdtStage::Stage0, MwdtStageAction::ResetSystem);
    wdt.enable();
    let mut seen = SAMPLER_ROUNDS.load(Ordering::Relaxed);
    loop {
        Timer::after(Duration::from_secs(1)).await;
        let rounds = SAMPLER_ROUNDS.load(Ordering::Relaxed);
        if rounds != seen {
            wdt.feed();
            seen = rounds;
        }
    }
}
