//! `assetlog demo`: the server as a newcomer first sees it. A demo tenant and admin, three
//! production lines of four simulated machines each (the `assetlog_core::sim` model the agent's
//! simulator uses), a week of history backfilled at start, and live changes from then on, all
//! in this one process.
//!
//! The simulated loggers go through the same storage and live path as real ones
//! ([`ingest::store_report`], presence), only without HTTP: the demo owns its loggers, so it reads
//! their credentials from the store instead of keeping keys.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use assetlog_core::sim::{self, DAY_MS, Machine, MachineParams};

use crate::calendar::{Calendar, Calendars};
use crate::config::{DemoArgs, Enrollment, ServeConfig};
use crate::ingest;
use crate::secrets::{hash_password, new_claim_code, new_secret};
use crate::store::{DeviceAuth, NewEvent, Registration, Role, now_ms};
use crate::{AppState, Application};

pub const DEMO_EMAIL: &str = "demo@assetlog.example";
pub const DEMO_PASSWORD: &str = "assetlog-demo";
const DEMO_TENANT: &str = "Demo plant";
const LINES: u32 = 3;
const MACHINES_PER_LINE: u32 = 4;
const HISTORY_MS: i64 = 7 * DAY_MS;
const MACHINE_NAMES: [&str; 4] = ["Press", "Lathe", "Mill", "Packer"];

/// The calendar the simulated machines keep (`MachineParams::typical`: 06:00–22:00 Mon–Fri, UTC).
const DEMO_SHIFTS: &str = r#"[
  {"name":"Early","days":["mon","tue","wed","thu","fri"],"start":"06:00","end":"14:00","breaks":[{"start":"10:00","end":"10:15"}]},
  {"name":"Late","days":["mon","tue","wed","thu","fri"],"start":"14:00","end":"22:00","breaks":[{"start":"18:00","end":"18:15"}]}
]"#;

pub async fn run(
    args: DemoArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let config = ServeConfig {
        bind: args.bind,
        enrollment: Enrollment::Auto,
        ..ServeConfig::local(args.data_dir)
    };
    let app = Application::build(config).await?;
    let state = app.state().clone();
    prepare_tenant(&state).await?;
    let url = app.url();
    println!("listening on {url}");
    println!("assetlog demo: open {url} and sign in as {DEMO_EMAIL} / {DEMO_PASSWORD}");
    let mut lines = Vec::new();
    for line in 1..=LINES {
        lines.push(start_line(&state, line).await?);
    }
    println!(
        "{} simulated machines on {LINES} lines, with a week of history",
        LINES * MACHINES_PER_LINE
    );
    let result = app.run_until(shutdown).await;
    for line in lines {
        line.abort();
    }
    result
}

async fn prepare_tenant(state: &AppState) -> anyhow::Result<()> {
    if state
        .store
        .user_for_login(DEMO_EMAIL.into())
        .await?
        .is_some()
    {
        return Ok(());
    }
    let hash = tokio::task::spawn_blocking(|| hash_password(DEMO_PASSWORD)).await??;
    let (_, tenant) = state
        .store
        .add_user_to_named_tenant(DEMO_TENANT.into(), DEMO_EMAIL.into(), hash, Role::Admin)
        .await?;
    let calendar = Calendar::from_stored(DEMO_SHIFTS).map_err(anyhow::Error::msg)?;
    // The demo's history was worked in these shifts: they apply to every day.
    state
        .store
        .set_shifts(tenant.id, Calendars::always(calendar))
        .await?;
    Ok(())
}

/// Registers (or finds) a line's logger, backfills its week on first start, and spawns its
/// live loop.
async fn start_line(state: &AppState, line: u32) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let logger_id = format!("demo-line-{line}");
    let device = match state.store.device(&logger_id).await? {
        Some(device) => device,
        None => {
            let reg = Registration {
                logger_id: logger_id.clone(),
                logger_name: Some(format!("Line {line}")),
                firmware_version: Some(concat!("demo-", env!("CARGO_PKG_VERSION")).into()),
                ip_address: None,
                assets: (0..MACHINES_PER_LINE)
                    .map(|pin| (pin as u8, machine_name(line, pin)))
                    .collect(),
                key: None,
                new_key: new_secret("ald_"),
                new_claim_code: new_claim_code(),
                auto_claim: true,
                remote_address: None,
            };
            state.store.register(reg).await?;
            state
                .store
                .device(&logger_id)
                .await?
                .context("the demo logger was just registered")?
        }
    };
    let tenant_id = device.tenant_id;
    let row = device.row;
    let logger = state
        .store
        .logger(tenant_id.context("demo loggers join the demo tenant")?, row)
        .await?;
    let now = now_ms();
    let mut seq = logger.acked_seq;
    let fresh = seq == 0;
    let mut machines = Vec::new();
    let mut history = Vec::new();
    for pin in 0..MACHINES_PER_LINE {
        let seed = u64::from(line * 100 + pin);
        let params = MachineParams::varied(seed);
        if fresh {
            let (changes, machine) =
                sim::backfill(params, seed, now, HISTORY_MS).map_err(|e| anyhow::anyhow!("{e}"))?;
            history.extend(changes.into_iter().map(|c| (c.at_ms, pin as u8, c.running)));
            machines.push(machine);
        } else {
            let machine =
                Machine::new(params, seed ^ now as u64, now).map_err(|e| anyhow::anyhow!("{e}"))?;
            history.push((now, pin as u8, machine.state().running));
            machines.push(machine);
        }
    }
    history.sort_unstable();
    for chunk in history.chunks(assetlog_core::wire::MAX_BATCH_EVENTS) {
        let events = chunk
            .iter()
            .map(|&(ts, pin, running)| {
                seq += 1;
                NewEvent {
                    pin,
                    running,
                    ts,
                    seq: Some(seq),
                    asset_name: None,
                }
            })
            .collect();
        ingest::store_report(state, &device, events, true)
            .await
            .map_err(|e| anyhow::anyhow!("demo backfill: {e}"))?;
    }
    let state = state.clone();
    Ok(tokio::spawn(live_line(state, device, machines, seq)))
}

fn machine_name(line: u32, pin: u32) -> String {
    format!(
        "{} {line}.{}",
        MACHINE_NAMES[pin as usize % MACHINE_NAMES.len()],
        pin + 1
    )
}

/// Plays a line's machines in real time: each change when it is due, and a heartbeat every
/// interval so the line stays online through long runs.
async fn live_line(
    state: AppState,
    device: Arc<DeviceAuth>,
    mut machines: Vec<Machine>,
    mut seq: i64,
) {
    let mut heartbeat = tokio::time::interval(Duration::from_secs(state.config.heartbeat_interval));
    let mut shutdown = state.shutdown.clone();
    loop {
        let (pin, due) = machines
            .iter()
            .enumerate()
            .map(|(pin, m)| (pin, m.peek().at_ms))
            .min_by_key(|(_, at)| *at)
            .unwrap_or((0, i64::MAX));
        let wait = Duration::from_millis(due.saturating_sub(now_ms()).clamp(0, 3_600_000) as u64);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {
                let change = machines[pin].next_change();
                seq += 1;
                let event = NewEvent { pin: pin as u8, running: change.running, ts: change.at_ms.min(now_ms()), seq: Some(seq), asset_name: None };
                if let Err(e) = ingest::store_report(&state, &device, vec![event], true).await {
                    tracing::warn!(error = %e, "demo machine could not report");
                }
            }
            _ = heartbeat.tick() => {
                ingest::touch(&state, &device, device.tenant_id).await;
            }
            _ = crate::stopped(&mut shutdown) => return,
        }
    }
}
