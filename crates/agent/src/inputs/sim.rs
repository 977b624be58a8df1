//! The `sim` input: an `assetlog_core::sim` machine played in real time, or `speed` times
//! faster. Event times are the wall clock at which each change is played, as a real input's
//! would be.

use std::time::Duration;

use assetlog_core::sim::Machine;
use tokio::time::Instant;

use super::InputCtx;
use crate::config::SimInput;
use crate::now_ms;

pub async fn run(cfg: SimInput, ctx: InputCtx) {
    let start_wall = now_ms();
    let start = Instant::now();
    let mut machine = Machine::new(cfg.params, cfg.seed, start_wall)
        .expect("parameters validated with the config");
    // The state at start is reported like a real input's first stable level.
    if !ctx.send(machine.state().running, start_wall).await {
        return;
    }
    let mut sent = 1u64;
    while cfg.max_changes.is_none_or(|max| sent < max) {
        let change = machine.next_change();
        let offset =
            Duration::from_secs_f64((change.at_ms - start_wall) as f64 / 1000.0 / cfg.speed);
        tokio::time::sleep_until(start + offset).await;
        if !ctx.send(change.running, now_ms()).await {
            return;
        }
        sent += 1;
    }
}
