//! `assetlog-agent simulate`: many virtual loggers in one process, each with its own identity,
//! seq numbering and bounded queue, each playing `assetlog_core::sim` machines (mostly running,
//! frequent short stops, rare long ones, a shift rhythm) against a server.
//!
//! One task per logger does everything for it in turn: make the changes that are due, upload,
//! heartbeat, sleep until the next thing. Event times come from the machine model (mapped onto
//! the wall clock by `--speed`), not from when the task got round to them, so a busy process
//! still reports exact times. Queues are in memory: this is a load and demo tool, and the real
//! agent's disk queue has its own tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use assetlog_core::queue::{EventQueue, MonotonicTs, SeqAllocator};
use assetlog_core::sim::{Machine, MachineParams, Rng};
use assetlog_core::{LoggerId, StateChange};
use tokio::time::Instant;

use crate::client::{
    AssetName, Backoff, CallError, Client, HeartbeatRequest, RegisterRequest, agent_version,
    seed_from,
};
use crate::config::{SimulateArgs, parse_server_url};
use crate::journal::replace_file;
use crate::now_ms;

const MAX_BATCH: usize = 500;
const KEYS_FILE: &str = "simulate-keys.json";

/// Counters over all virtual loggers, for the progress line.
#[derive(Default)]
struct Stats {
    registered: AtomicU64,
    recorded: AtomicU64,
    uploaded: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Stats {
    fn error(&self, e: String) {
        *self.last_error.lock().expect("stats lock") = Some(e);
    }

    fn line(&self, loggers: u32) -> String {
        let recorded = self.recorded.load(Ordering::Relaxed);
        let uploaded = self.uploaded.load(Ordering::Relaxed);
        let dropped = self.dropped.load(Ordering::Relaxed);
        let mut line = format!(
            "simulate: {}/{loggers} loggers registered, {recorded} events, {uploaded} uploaded, {} queued, {dropped} dropped",
            self.registered.load(Ordering::Relaxed),
            recorded.saturating_sub(uploaded + dropped),
        );
        let failed = self.failed.load(Ordering::Relaxed);
        if failed > 0 {
            line += &format!(", {failed} loggers gave up");
        }
        if let Some(e) = self.last_error.lock().expect("stats lock").as_ref() {
            line += &format!("; last error: {e}");
        }
        line
    }
}

/// Device keys of the virtual loggers, kept in `--state-dir` (0600) when one is given.
struct Keys {
    file: Option<PathBuf>,
    keys: BTreeMap<String, String>,
    dirty: bool,
}

impl Keys {
    fn load(dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let mut keys = BTreeMap::new();
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
            let path = dir.join(KEYS_FILE);
            match std::fs::read(&path) {
                Ok(bytes) => {
                    keys = serde_json::from_slice(&bytes).map_err(|e| {
                        anyhow::anyhow!("the key file {} is damaged: {e}", path.display())
                    })?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => anyhow::bail!("cannot read the key file {}: {e}", path.display()),
            }
        }
        Ok(Self {
            file: dir,
            keys,
            dirty: false,
        })
    }

    fn save(&mut self) -> std::io::Result<()> {
        if let (Some(dir), true) = (&self.file, self.dirty) {
            let body = serde_json::to_vec_pretty(&self.keys).map_err(std::io::Error::other)?;
            replace_file(dir, KEYS_FILE, &body, Some(0o600))?;
        }
        self.dirty = false;
        Ok(())
    }
}

struct Shared {
    client: Client,
    args: SimulateArgs,
    prefix: String,
    keys: Mutex<Keys>,
    stats: Stats,
}

pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let url = parse_server_url(&args.server).map_err(anyhow::Error::msg)?;
    if !(args.speed.is_finite() && args.speed > 0.0) {
        anyhow::bail!("--speed must be a positive number");
    }
    if args.loggers == 0 {
        anyhow::bail!("--loggers must be at least 1");
    }
    let prefix = match (&args.id_prefix, &args.state_dir) {
        (Some(p), _) => p.clone(),
        (None, Some(_)) => format!("sim-{}", args.seed),
        (None, None) => format!("sim-{:06x}", seed_from("prefix") & 0xff_ffff),
    };
    let last_id = format!("{prefix}-{:04}", args.loggers);
    LoggerId::parse(&last_id).map_err(|e| anyhow::anyhow!("logger id {last_id:?}: {e}"))?;
    let keys = Keys::load(args.state_dir.clone())?;
    let loggers = args.loggers;
    let shared = Arc::new(Shared {
        client: Client::new(&url, Duration::from_secs(15)),
        args,
        prefix,
        keys: Mutex::new(keys),
        stats: Stats::default(),
    });
    println!(
        "simulate: {loggers} loggers {}-0001… with {} machines each against {url}",
        shared.prefix, shared.args.assets_per_logger
    );

    let mut tasks = tokio::task::JoinSet::new();
    for i in 1..=loggers {
        tasks.spawn(virtual_logger(shared.clone(), i));
    }
    let mut report = tokio::time::interval(Duration::from_secs(10));
    report.tick().await;
    loop {
        tokio::select! {
            done = tasks.join_next() => {
                if done.is_none() {
                    break;
                }
            }
            _ = report.tick() => {
                save_keys(&shared);
                println!("{}", shared.stats.line(loggers));
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    save_keys(&shared);
    println!("{}", shared.stats.line(loggers));
    Ok(())
}

fn save_keys(shared: &Shared) {
    if let Err(e) = shared.keys.lock().expect("keys lock").save() {
        shared
            .stats
            .error(format!("cannot save the loggers' keys: {e}"));
    }
}

/// A seed for machine `pin` of logger `i`, different for every machine of every logger.
fn machine_seed(seed: u64, logger: u32, pin: u8) -> u64 {
    Rng::new(seed ^ (u64::from(logger) << 8) ^ u64::from(pin)).next_u64()
}

async fn virtual_logger(shared: Arc<Shared>, i: u32) {
    let args = &shared.args;
    let logger_id = format!("{}-{i:04}", shared.prefix);
    let mut backoff = Backoff::new(
        Duration::from_millis(500),
        Duration::from_millis(args.retry_max_ms),
        seed_from(&logger_id),
    );
    let Some((key, heartbeat)) = register(&shared, &logger_id, &mut backoff).await else {
        shared.stats.failed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    shared.stats.registered.fetch_add(1, Ordering::Relaxed);
    let key = key.as_deref();

    // The in-memory queue starts empty each run; continue the numbering where the server is,
    // or a reused identity's new events would be taken for duplicates.
    let acked = loop {
        match shared.client.ingest(&logger_id, &[], key).await {
            Ok(ack) => break ack.acked_seq,
            Err(e) => {
                shared.stats.error(format!("{logger_id}: {e}"));
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    };
    backoff.reset();
    let mut seqs = SeqAllocator::resume(acked);
    let mut stamp = MonotonicTs::new();
    let mut queue = EventQueue::new(args.queue_capacity);

    let start_wall = now_ms();
    let start = Instant::now();
    let speed = args.speed;
    let to_wall = |at_ms: i64| start_wall + ((at_ms - start_wall) as f64 / speed) as i64;
    let to_instant = |at_ms: i64| {
        start + Duration::from_secs_f64((at_ms - start_wall).max(0) as f64 / 1000.0 / speed)
    };
    let mut machines: Vec<(u8, Machine, u64)> = (0..args.assets_per_logger)
        .map(|pin| {
            let seed = machine_seed(args.seed, i, pin);
            let mut params = MachineParams::varied(seed);
            if args.no_shift {
                params.shift = None;
            }
            let m = Machine::new(params, seed, start_wall).expect("preset parameters are valid");
            (pin, m, 0)
        })
        .collect();
    let limit = args.max_changes.unwrap_or(u64::MAX);
    let mut push = |queue: &mut EventQueue, pin: u8, running: bool, wall_ms: i64| {
        let event = StateChange {
            seq: seqs.allocate(),
            pin,
            running,
            ts: stamp.stamp(wall_ms),
        };
        shared.stats.recorded.fetch_add(1, Ordering::Relaxed);
        if queue.push(event).is_some() {
            shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    };
    for (pin, m, made) in &mut machines {
        if limit > 0 {
            push(&mut queue, *pin, m.state().running, start_wall);
            *made = 1;
        }
    }

    let heartbeat = args
        .heartbeat_interval_s
        .map_or(heartbeat, Duration::from_secs);
    let mut heartbeat_at = start + heartbeat;
    let mut retry_at = start;
    loop {
        let now = Instant::now();
        for (pin, m, made) in &mut machines {
            while *made < limit && to_instant(m.peek().at_ms) <= now {
                let c = m.next_change();
                push(&mut queue, *pin, c.running, to_wall(c.at_ms));
                *made += 1;
            }
        }
        if queue.depth() > 0 && now >= retry_at {
            let batch = queue.batch(MAX_BATCH).to_vec();
            let last = batch.last().expect("non-empty").seq;
            match shared.client.ingest(&logger_id, &batch, key).await {
                Ok(ack) => {
                    queue.ack(ack.acked_seq.max(last));
                    shared
                        .stats
                        .uploaded
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    backoff.reset();
                    continue;
                }
                Err(e) => {
                    shared.stats.error(format!("{logger_id}: upload: {e}"));
                    retry_at = Instant::now() + backoff.next_delay();
                }
            }
        }
        if now >= heartbeat_at {
            let beat = HeartbeatRequest {
                logger_id: logger_id.clone(),
                uptime_s: start.elapsed().as_secs(),
                rssi: None,
                free_heap: None,
                queued_events: queue.depth() as u64,
                dropped_events: queue.dropped(),
                firmware_version: agent_version(),
            };
            if let Err(e) = shared.client.heartbeat(&beat, key).await {
                shared.stats.error(format!("{logger_id}: heartbeat: {e}"));
            }
            heartbeat_at = Instant::now() + heartbeat;
        }
        let next_change = machines
            .iter()
            .filter(|(_, _, made)| *made < limit)
            .map(|(_, m, _)| to_instant(m.peek().at_ms))
            .min();
        if next_change.is_none() && queue.depth() == 0 {
            return; // --max-changes reached and everything delivered
        }
        let mut wake = heartbeat_at;
        if let Some(t) = next_change {
            wake = wake.min(t);
        }
        if queue.depth() > 0 {
            wake = wake.min(retry_at);
        }
        tokio::time::sleep_until(wake).await;
    }
}

/// Registers (or re-registers with a stored key) until the server answers; `None` if it
/// refuses this logger for good (known, and the key is missing or wrong).
async fn register(
    shared: &Shared,
    logger_id: &str,
    backoff: &mut Backoff,
) -> Option<(Option<String>, Duration)> {
    let assets = (0..shared.args.assets_per_logger)
        .map(|pin| AssetName {
            pin_number: pin,
            asset_name: format!("Machine {}", char::from(b'A' + pin % 26)),
        })
        .collect();
    let request = RegisterRequest {
        logger_id: logger_id.to_owned(),
        logger_name: Some(format!("Simulated line {logger_id}")),
        firmware_version: agent_version(),
        ip_address: None,
        assets,
    };
    loop {
        let key = shared
            .keys
            .lock()
            .expect("keys lock")
            .keys
            .get(logger_id)
            .cloned();
        match shared.client.register(&request, key.as_deref()).await {
            Ok(answer) => {
                let interval = Duration::from_secs(answer.heartbeat_interval_s.unwrap_or(30));
                let key = match answer.device_key {
                    Some(new) => {
                        let mut keys = shared.keys.lock().expect("keys lock");
                        keys.keys.insert(logger_id.to_owned(), new.clone());
                        keys.dirty = true;
                        // At once: a key lost to a crash locks this logger id out for good.
                        if let Err(e) = keys.save() {
                            shared
                                .stats
                                .error(format!("cannot save the loggers' keys: {e}"));
                        }
                        Some(new)
                    }
                    None => key,
                };
                return Some((key, interval));
            }
            Err(CallError::Unauthorized(m)) => {
                shared.stats.error(format!(
                    "{logger_id}: the server refuses this logger ({m}); use another --id-prefix or the --state-dir that holds its key"
                ));
                return None;
            }
            Err(e) => {
                shared.stats.error(format!("{logger_id}: register: {e}"));
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}
