//! The `modbus` input: a PLC's run bit, read as one discrete input or coil over Modbus TCP at a
//! fixed interval and debounced like any other level. A lost connection is shown on the status
//! page and retried; the asset keeps its last state (the server shows it UNKNOWN only if the
//! whole logger goes silent).

use std::net::SocketAddr;
use std::time::Duration;

use assetlog_core::debounce::{DebounceConfig, Debouncer};
use tokio::time::MissedTickBehavior;
use tokio_modbus::client::{Context, Reader};
use tokio_modbus::slave::Slave;

use super::InputCtx;
use crate::config::{ModbusInput, Register};

pub async fn run(cfg: ModbusInput, ctx: InputCtx) {
    let mut debouncer = Debouncer::new(DebounceConfig {
        debounce_ms: cfg.debounce_ms,
        active_low: cfg.active_low,
    });
    let poll = Duration::from_millis(cfg.poll_interval_ms);
    let mut retry = poll.max(Duration::from_millis(500));
    loop {
        match poll_until_error(&cfg, &ctx, &mut debouncer, poll).await {
            Ok(()) => return,
            Err(e) => ctx.input_error(Some(e)),
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(Duration::from_secs(10));
        if ctx.tx.is_closed() {
            return;
        }
    }
}

/// Connects and polls until the connection fails (`Err`) or the agent stops (`Ok`).
async fn poll_until_error(
    cfg: &ModbusInput,
    ctx: &InputCtx,
    debouncer: &mut Debouncer,
    poll: Duration,
) -> Result<(), String> {
    let addr = resolve(&cfg.host).await?;
    let mut modbus = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_modbus::client::tcp::connect_slave(addr, Slave(cfg.unit_id)),
    )
    .await
    .map_err(|_| format!("connecting to Modbus server {addr} timed out"))?
    .map_err(|e| format!("cannot connect to Modbus server {addr}: {e}"))?;
    let mut ticks = tokio::time::interval(poll);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut readable = false;
    loop {
        ticks.tick().await;
        let level = read_bit(&mut modbus, cfg).await?;
        if !readable {
            ctx.input_error(None);
            readable = true;
        }
        let now = ctx.clock.mono_ms();
        if let Some(edge) = debouncer.sample(level, now)
            && !ctx
                .send(edge.running, ctx.clock.wall_at(edge.since_ms))
                .await
        {
            return Ok(());
        }
    }
}

async fn read_bit(modbus: &mut Context, cfg: &ModbusInput) -> Result<bool, String> {
    let what = match cfg.register {
        Register::DiscreteInput => "discrete input",
        Register::Coil => "coil",
    };
    let read = async {
        match cfg.register {
            Register::DiscreteInput => modbus.read_discrete_inputs(cfg.address, 1).await,
            Register::Coil => modbus.read_coils(cfg.address, 1).await,
        }
    };
    let bits = tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .map_err(|_| format!("reading {what} {} timed out", cfg.address))?
        .map_err(|e| format!("reading {what} {}: {e}", cfg.address))?
        .map_err(|e| {
            format!(
                "the Modbus server refused to read {what} {}: {e}",
                cfg.address
            )
        })?;
    bits.first()
        .copied()
        .ok_or_else(|| format!("the Modbus server sent no value for {what} {}", cfg.address))
}

/// `host` or `host:port`, port 502 by default.
async fn resolve(host: &str) -> Result<SocketAddr, String> {
    let with_port = if host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host.to_owned()
    } else {
        format!("{host}:502")
    };
    tokio::net::lookup_host(&with_port)
        .await
        .map_err(|e| format!("cannot resolve Modbus host {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("Modbus host {host} has no address"))
}
