//! One logger: inputs → recorder (durable queue) → link (register, upload, heartbeat), with the
//! status page beside them. The recorder is the only writer of new events; the link only reads
//! batches and releases acknowledged ones. The link is [`crate::link`]'s loop over core's
//! `Uplink`; this module is the agent's [`Station`] for it: the key file, the disk queue and the
//! status page.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use assetlog_core::StateChange;
use assetlog_core::uplink::{Request, Settings, Uplink};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::client::{
    AssetName, CallError, Client, HeartbeatAnswer, HeartbeatRequest, RegisterAnswer,
    RegisterRequest, agent_version, seed_from,
};
use crate::config::{Config, InputKind};
use crate::identity::{Identity, KeyFile};
use crate::inputs::{self, Clock, InputCtx};
use crate::journal::{Journal, Observed};
use crate::link::{self, Flow, Report, Station};
use crate::now_ms;
use crate::status::{self, AssetStatus, Connection, Shared, Status};

/// Most events in one upload: 500 events of at most ~80 bytes of JSON stay well inside the
/// server's 64 KiB body limit (1000 could exceed it with long seqs).
const MAX_BATCH: usize = 500;

/// A logger set up and running; dropping it does not stop its threads, the process exit does.
pub struct Agent {
    pub status_url: String,
}

/// Opens the queue and the key file, binds the status page, and starts every part. Errors
/// here are configuration or environment errors, reported before anything runs.
pub async fn start(config: Config) -> anyhow::Result<Agent> {
    let key_file = KeyFile::new(config.key_file.clone());
    let identity = key_file.load().map_err(anyhow::Error::msg)?;
    if let Some(id) = &identity
        && id.logger_id != config.logger_id.as_str()
    {
        anyhow::bail!(
            "the key file {} belongs to logger {:?}, but the configuration says logger_id = {:?}: use another key_file or state_dir for a new logger id",
            key_file.path().display(),
            id.logger_id,
            config.logger_id.as_str()
        );
    }
    let journal = Journal::open(&config.state_dir, config.queue_capacity).with_context(|| {
        format!(
            "cannot open the event queue in {}",
            config.state_dir.display()
        )
    })?;
    let listener = tokio::net::TcpListener::bind(config.status_addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} for the status page",
                config.status_addr
            )
        })?;
    let status_url = format!("http://{}", listener.local_addr()?);

    let status = Status {
        logger_id: config.logger_id.to_string(),
        logger_name: config.logger_name.clone(),
        server_url: config.server_url.clone(),
        agent_version: agent_version(),
        started_ms: now_ms(),
        connection: Connection::Connecting,
        registration: None,
        claim_code: identity.as_ref().and_then(|i| i.claim_code.clone()),
        last_contact_ms: None,
        heartbeat_s: config.heartbeat_interval.as_secs(),
        heartbeats: 0,
        last_error: None,
        uploaded: 0,
        assets: config
            .inputs
            .iter()
            .map(|i| {
                let asset = AssetStatus {
                    pin: i.pin,
                    name: i.name.clone(),
                    input: i.kind.label(),
                    running: None,
                    since_ms: None,
                    input_error: None,
                };
                (i.pin, asset)
            })
            .collect(),
    };
    let shared = Shared::new(status, journal);

    let page = status::router(shared.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, page).await {
            tracing::error!("status page stopped: {e}");
        }
    });

    let (tx, rx) = mpsc::channel::<Observed>(4096);
    let uploaded = Arc::new(Notify::new());
    {
        let (shared, notify) = (shared.clone(), uploaded.clone());
        std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || record(rx, &shared, &notify))
            .context("cannot start the recorder thread")?;
    }

    let clock = Clock::new();
    for input in &config.inputs {
        let ctx = InputCtx {
            pin: input.pin,
            clock,
            tx: tx.clone(),
            status: shared.clone(),
        };
        match input.kind.clone() {
            InputKind::Gpio(g) => inputs::line::spawn_gpio(g, ctx),
            InputKind::Modbus(m) => {
                tokio::spawn(inputs::modbus::run(m, ctx));
            }
            InputKind::Sim(s) => {
                tokio::spawn(inputs::sim::run(s, ctx));
            }
        }
    }
    drop(tx);

    let uplink = Uplink::with_settings(
        Settings {
            retry_min: config.retry_min,
            retry_max: config.retry_max,
            heartbeat_ms: u64::try_from(config.heartbeat_interval.as_millis()).unwrap_or(u64::MAX),
            max_batch: MAX_BATCH,
        },
        seed_from(config.logger_id.as_str()),
    );
    let mut client = Client::new(
        &config.server_url,
        config.request_timeout,
        &config.server_trust,
    )
    .map_err(anyhow::Error::msg)?;
    if let Some(broker) = &config.mqtt {
        client = client.over_mqtt(&broker.host, broker.port, config.request_timeout);
    }
    let mut station = Logger {
        config,
        identity,
        key_file,
        shared,
        queued: uploaded,
        started: Instant::now(),
    };
    tokio::spawn(async move { link::run(&client, uplink, &mut station).await });
    Ok(Agent { status_url })
}

/// The recorder: every change gets its seq and is fsynced before it is shown or uploaded.
/// Changes that arrive together share one fsync.
fn record(mut rx: mpsc::Receiver<Observed>, shared: &Shared, upload: &Notify) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(o) => batch.push(o),
                Err(_) => break,
            }
        }
        let events = loop {
            let result = shared.journal.lock().expect("journal lock").record(&batch);
            match result {
                Ok(events) => break events,
                Err(e) => {
                    // Keep the changes (with their original times) and try again: a full disk
                    // may be cleared, and nothing is numbered until it is on disk.
                    shared.update(|s| {
                        s.error(format!("cannot write the event queue: {e}; retrying"))
                    });
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        };
        // One change of the page for the queue and the assets together.
        shared.update(|status| {
            for e in &events {
                if let Some(asset) = status.assets.get_mut(&e.pin) {
                    asset.running = Some(e.running);
                    asset.since_ms = Some(e.ts);
                }
            }
        });
        upload.notify_one();
    }
}

/// The agent's side of the link: its key file, its disk queue, its status page.
struct Logger {
    config: Config,
    identity: Option<Identity>,
    key_file: KeyFile,
    shared: Shared,
    /// Notified by the recorder whenever it has queued events.
    queued: Arc<Notify>,
    started: Instant,
}

impl Station for Logger {
    fn logger_id(&self) -> &str {
        self.config.logger_id.as_str()
    }

    fn device_key(&self) -> Option<&str> {
        self.identity.as_ref()?.device_key.as_deref()
    }

    fn register_request(&self) -> RegisterRequest {
        RegisterRequest {
            logger_id: self.config.logger_id.to_string(),
            logger_name: self.config.logger_name.clone(),
            firmware_version: agent_version(),
            ip_address: None,
            assets: self
                .config
                .inputs
                .iter()
                .map(|i| AssetName {
                    pin_number: i.pin,
                    asset_name: i.name.clone(),
                })
                .collect(),
        }
    }

    fn registered(&mut self, answer: &RegisterAnswer) {
        let claim_code = (answer.status == "pending")
            .then(|| answer.claim_code.clone())
            .flatten();
        let updated = Identity {
            logger_id: self.config.logger_id.to_string(),
            // A new key comes only when the server created the logger (first start, or after an
            // admin deleted it); otherwise ours was accepted.
            device_key: answer
                .device_key
                .clone()
                .or_else(|| self.device_key().map(str::to_owned)),
            claim_code: claim_code.clone(),
        };
        if self.identity.as_ref() != Some(&updated) {
            if let Err(e) = self.key_file.save(&updated) {
                // Without the key on disk a restart would be locked out; say so loudly, but keep
                // reporting with the key held in memory.
                let path = self.key_file.path().display().to_string();
                self.shared.update(|s| {
                    s.error(format!("cannot save the device key to {path}: {e}"));
                });
            }
            if answer.device_key.is_some() {
                tracing::info!(status = %answer.status, "registered with the server; device key stored");
            }
            self.identity = Some(updated);
        }
        self.shared.update(|s| {
            s.registration = Some(answer.status.clone());
            s.claim_code = claim_code;
        });
    }

    /// If the server holds seqs of this logger beyond anything this queue handed out (the state
    /// directory was lost), the queue's numbering moves past them. Without an answer the agent
    /// uploads all the same, as the firmware does: the check is asked again at the next
    /// registration.
    async fn watermark(&mut self, acked: Result<u64, &CallError>) -> bool {
        let Ok(acked) = acked else {
            return true;
        };
        let journal = self.shared.journal.clone();
        let renumbered = tokio::task::spawn_blocking(move || {
            journal.lock().expect("journal lock").renumber_after(acked)
        })
        .await
        .expect("renumbering does not panic");
        match renumbered {
            Ok(0) => {}
            Ok(n) => self.shared.update(|s| s.error(format!(
                "the server already holds seqs up to {acked} of this logger, more than this agent ever numbered (was the state directory lost?): {n} queued events renumbered after it"
            ))),
            Err(e) => self
                .shared
                .update(|s| s.error(format!("cannot renumber the queue: {e}"))),
        }
        true
    }

    fn heartbeat_request(&self) -> HeartbeatRequest {
        let queue = self.shared.journal.lock().expect("journal lock").figures();
        HeartbeatRequest {
            logger_id: self.config.logger_id.to_string(),
            uptime_s: self.started.elapsed().as_secs(),
            rssi: None,
            free_heap: None,
            queued_events: queue.depth as u64,
            dropped_events: queue.dropped,
            firmware_version: agent_version(),
        }
    }

    fn alive(&mut self, answer: &HeartbeatAnswer) {
        self.shared.update(|s| {
            if answer.status != "pending" {
                s.claim_code = None;
            }
            s.registration = Some(answer.status.clone());
            s.heartbeats += 1;
        });
    }

    fn queued(&mut self) -> usize {
        self.shared
            .journal
            .lock()
            .expect("journal lock")
            .figures()
            .depth
    }

    fn batch(&mut self, max: usize) -> Vec<StateChange> {
        self.shared.journal.lock().expect("journal lock").batch(max)
    }

    async fn release(&mut self, upto: u64, sent: usize) -> bool {
        let journal = self.shared.journal.clone();
        let released =
            tokio::task::spawn_blocking(move || journal.lock().expect("journal lock").ack(upto))
                .await
                .expect("releasing does not panic");
        match released {
            Ok(_) => {
                self.shared.update(|s| s.uploaded += sent as u64);
                true
            }
            Err(e) => {
                self.shared
                    .update(|s| s.error(format!("cannot record the acknowledgement: {e}")));
                false
            }
        }
    }

    fn report(&mut self, report: Report<'_>) -> Flow {
        let refused = |server: &str| {
            refused_message(
                &self.config,
                self.device_key().is_some(),
                &self.key_file,
                server,
            )
        };
        let what = match report.request {
            Request::Register => "registration",
            Request::Heartbeat => "heartbeat",
            Request::Ingest => "upload",
        };
        let heartbeat_s = report.uplink.heartbeat_ms() / 1000;
        self.shared.update(|s| {
            s.heartbeat_s = heartbeat_s;
            match (report.error, report.seqs) {
                (None, _) => s.contact(),
                (Some(CallError::Unauthorized(m)), _) => {
                    let message = refused(m);
                    s.connection = Connection::KeyRefused(message.clone());
                    s.error(message);
                }
                (Some(CallError::TooLarge), _) if report.request == Request::Ingest => {
                    let limit = report.uplink.batch_limit();
                    tracing::info!("the server found a batch too large: sending {limit} events at a time");
                }
                (Some(CallError::Refused(code, m)), Some(seqs)) => {
                    let (first, last) = seqs.into_inner();
                    s.error(format!(
                        "the server refused events {first}..={last} ({code}: {m}); they stay queued and are retried"
                    ));
                }
                (Some(e), _) => {
                    s.connection = Connection::Unreachable(e.to_string());
                    s.error(format!("{what} failed: {e}"));
                }
            }
        });
        Flow::Continue
    }

    async fn wait(&mut self, until: Instant) -> Flow {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            _ = self.queued.notified() => {}
        }
        Flow::Continue
    }
}

fn refused_message(config: &Config, had_key: bool, key_file: &KeyFile, server: &str) -> String {
    if had_key {
        format!(
            "the server refuses this logger's device key ({server}): it was rotated or revoked. Put the new key into {} (device_key) and restart, or have an admin delete logger {} so it registers anew",
            key_file.path().display(),
            config.logger_id
        )
    } else {
        format!(
            "the server already knows logger {} and this agent has no key for it ({server}): was the key file {} lost? Have an admin delete the logger (it then registers anew) or rotate its key and put the new key into the key file",
            config.logger_id,
            key_file.path().display()
        )
    }
}
