//! `assetlog-agent simulate`: many virtual loggers in one process, each with its own identity,
//! seq numbering and bounded queue, each playing `assetlog_core::sim` machines (mostly running,
//! frequent short stops, rare long ones, a shift rhythm) against a server.
//!
//! One task per logger does everything for it in turn: the same [`crate::link`] loop over core's
//! `Uplink` as the agent's (register, upload, heartbeat at the server's period, back off), with
//! this module's [`Station`] making the machines' changes that are due and sleeping until the
//! next change or the next request. Event times come from the machine model (mapped onto the wall
//! clock by `--speed`), not from when the task got round to them, so a busy process still reports
//! exact times. Queues are in memory: this is a load and demo tool, and the real agent's disk
//! queue has its own tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use assetlog_core::queue::{EventQueue, MonotonicTs, SeqAllocator};
use assetlog_core::sim::{Machine, MachineParams, Rng};
use assetlog_core::uplink::{Link, Request, Settings, Uplink};
use assetlog_core::{LoggerId, StateChange};
use tokio::time::Instant;

use crate::client::{
    AssetName, CallError, Client, HeartbeatAnswer, HeartbeatRequest, RegisterAnswer,
    RegisterRequest, agent_version, seed_from,
};
use crate::config::{SimulateArgs, parse_server_url};
use crate::journal::replace_file;
use crate::link::{self, Flow, Report, Station};
use crate::now_ms;
use crate::tls::ServerTrust;

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
    let trust = match &args.tls_ca_file {
        Some(_) if !url.starts_with("https://") => {
            anyhow::bail!("--tls-ca-file is for an https:// server, and --server is {url}")
        }
        Some(file) => ServerTrust::CaFile(file.clone()),
        None => ServerTrust::SystemRoots,
    };
    let client = Client::new(&url, Duration::from_secs(15), &trust).map_err(anyhow::Error::msg)?;
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
        client,
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
    let uplink = Uplink::with_settings(
        Settings {
            retry_min: Duration::from_millis(500),
            retry_max: Duration::from_millis(args.retry_max_ms),
            max_batch: MAX_BATCH,
            ..Settings::default()
        },
        seed_from(&logger_id),
    );
    let request = RegisterRequest {
        logger_id: logger_id.clone(),
        logger_name: Some(format!("Simulated line {logger_id}")),
        firmware_version: agent_version(),
        ip_address: None,
        assets: (0..args.assets_per_logger)
            .map(|pin| AssetName {
                pin_number: pin,
                asset_name: format!("Machine {}", char::from(b'A' + pin % 26)),
            })
            .collect(),
    };
    let key = shared
        .keys
        .lock()
        .expect("keys lock")
        .keys
        .get(&logger_id)
        .cloned();
    let mut station = VirtualLogger {
        shared: shared.clone(),
        index: i,
        logger_id,
        key,
        request,
        queue: EventQueue::new(args.queue_capacity),
        play: None,
        started: Instant::now(),
    };
    link::run(&shared.client, uplink, &mut station).await;
}

/// One virtual logger's side of the link.
struct VirtualLogger {
    shared: Arc<Shared>,
    index: u32,
    logger_id: String,
    key: Option<String>,
    request: RegisterRequest,
    queue: EventQueue,
    /// The machines, once the server's watermark is known (their numbering continues it).
    play: Option<Play>,
    started: Instant,
}

/// The machines of a virtual logger and the numbering of their changes.
struct Play {
    seqs: SeqAllocator,
    stamp: MonotonicTs,
    start_wall: i64,
    start: Instant,
    speed: f64,
    limit: u64,
    /// Pin, machine, changes made so far.
    machines: Vec<(u8, Machine, u64)>,
}

impl Play {
    fn new(args: &SimulateArgs, logger: u32, acked_seq: u64) -> Self {
        let start_wall = now_ms();
        let machines = (0..args.assets_per_logger)
            .map(|pin| {
                let seed = machine_seed(args.seed, logger, pin);
                let mut params = MachineParams::varied(seed);
                if args.no_shift {
                    params.shift = None;
                }
                let m =
                    Machine::new(params, seed, start_wall).expect("preset parameters are valid");
                (pin, m, 0)
            })
            .collect();
        Self {
            seqs: SeqAllocator::resume(acked_seq),
            stamp: MonotonicTs::new(),
            start_wall,
            start: Instant::now(),
            speed: args.speed,
            limit: args.max_changes.unwrap_or(u64::MAX),
            machines,
        }
    }

    fn to_wall(&self, at_ms: i64) -> i64 {
        self.start_wall + ((at_ms - self.start_wall) as f64 / self.speed) as i64
    }

    /// When the model's time `at_ms` comes on the task's clock.
    fn to_instant(&self, at_ms: i64) -> Instant {
        let lapse = (at_ms - self.start_wall).max(0) as f64 / 1000.0 / self.speed;
        self.start + Duration::from_secs_f64(lapse)
    }

    /// Queues every change that is due by now (each machine's state at the start first), in
    /// time order across the machines.
    fn make_due(&mut self, queue: &mut EventQueue, stats: &Stats) {
        let now = Instant::now();
        let mut due = Vec::new();
        for i in 0..self.machines.len() {
            let (pin, limit) = (self.machines[i].0, self.limit);
            if self.machines[i].2 == 0 && limit > 0 {
                due.push((self.start_wall, pin, self.machines[i].1.state().running));
                self.machines[i].2 = 1;
            }
            while self.machines[i].2 < limit
                && self.to_instant(self.machines[i].1.peek().at_ms) <= now
            {
                let (_, m, made) = &mut self.machines[i];
                let c = m.next_change();
                due.push((c.at_ms, pin, c.running));
                *made += 1;
            }
        }
        due.sort_by_key(|(at_ms, _, _)| *at_ms);
        for (at_ms, pin, running) in due {
            let event = StateChange {
                seq: self.seqs.allocate(),
                pin,
                running,
                ts: self.stamp.stamp(self.to_wall(at_ms)),
            };
            stats.recorded.fetch_add(1, Ordering::Relaxed);
            if queue.push(event).is_some() {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// When the next change falls due; `None` once every machine made its last.
    fn next_change(&self) -> Option<Instant> {
        self.machines
            .iter()
            .filter(|(_, _, made)| *made < self.limit)
            .map(|(_, m, _)| self.to_instant(m.peek().at_ms))
            .min()
    }
}

impl Station for VirtualLogger {
    fn logger_id(&self) -> &str {
        &self.logger_id
    }

    fn device_key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    fn register_request(&self) -> RegisterRequest {
        self.request.clone()
    }

    fn registered(&mut self, answer: &RegisterAnswer) {
        if let Some(new) = &answer.device_key {
            let mut keys = self.shared.keys.lock().expect("keys lock");
            keys.keys.insert(self.logger_id.clone(), new.clone());
            keys.dirty = true;
            // At once: a key lost to a crash locks this logger id out for good.
            if let Err(e) = keys.save() {
                self.shared
                    .stats
                    .error(format!("cannot save the loggers' keys: {e}"));
            }
            self.key = Some(new.clone());
        }
    }

    /// The in-memory queue starts empty each run, so the machines start only once the server
    /// said where this logger's numbering stands: a reused identity's new events would
    /// otherwise be taken for duplicates.
    async fn watermark(&mut self, acked: Result<u64, &CallError>) -> bool {
        match (acked, &self.play) {
            (_, Some(_)) => true,
            (Ok(acked), None) => {
                self.play = Some(Play::new(&self.shared.args, self.index, acked));
                self.shared.stats.registered.fetch_add(1, Ordering::Relaxed);
                true
            }
            (Err(_), None) => false,
        }
    }

    fn heartbeat_request(&self) -> HeartbeatRequest {
        HeartbeatRequest {
            logger_id: self.logger_id.clone(),
            uptime_s: self.started.elapsed().as_secs(),
            rssi: None,
            free_heap: None,
            queued_events: self.queue.depth() as u64,
            dropped_events: self.queue.dropped(),
            firmware_version: agent_version(),
        }
    }

    fn alive(&mut self, _answer: &HeartbeatAnswer) {}

    fn queued(&mut self) -> usize {
        if let Some(play) = &mut self.play {
            play.make_due(&mut self.queue, &self.shared.stats);
        }
        self.queue.depth()
    }

    fn batch(&mut self, max: usize) -> Vec<StateChange> {
        self.queue.batch(max).to_vec()
    }

    async fn release(&mut self, upto: u64, sent: usize) -> bool {
        self.queue.ack(upto);
        self.shared
            .stats
            .uploaded
            .fetch_add(sent as u64, Ordering::Relaxed);
        true
    }

    fn report(&mut self, report: Report<'_>) -> Flow {
        let stats = &self.shared.stats;
        let id = &self.logger_id;
        let what = match report.request {
            Request::Register => "register",
            Request::Heartbeat => "heartbeat",
            Request::Ingest => "upload",
        };
        match report.error {
            // Nobody will put a right key into a virtual logger: give up on it.
            Some(CallError::Unauthorized(m)) if report.uplink.link() == Link::KeyRefused => {
                stats.error(format!(
                    "{id}: the server refuses this logger ({m}); use another --id-prefix or the --state-dir that holds its key"
                ));
                stats.failed.fetch_add(1, Ordering::Relaxed);
                return Flow::Stop;
            }
            Some(e) => stats.error(format!("{id}: {what}: {e}")),
            None => {}
        }
        Flow::Continue
    }

    async fn wait(&mut self, until: Instant) -> Flow {
        let next_change = match &self.play {
            Some(play) => play.next_change(),
            None => None,
        };
        if self.play.is_some() && next_change.is_none() && self.queue.depth() == 0 {
            return Flow::Stop; // --max-changes reached and everything delivered
        }
        tokio::time::sleep_until(next_change.map_or(until, |t| t.min(until))).await;
        Flow::Continue
    }
}
