//! One logger: inputs → recorder (durable queue) → link (register, upload, heartbeat), with the
//! status page beside them. The recorder is the only writer of new events; the link only reads
//! batches and releases acknowledged ones.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{Notify, mpsc};

use crate::client::{
    AssetName, Backoff, CallError, Client, HeartbeatRequest, RegisterRequest, agent_version,
    seed_from,
};
use crate::config::{Config, InputKind};
use crate::identity::{Identity, KeyFile};
use crate::inputs::{self, Clock, InputCtx};
use crate::journal::{Journal, Observed};
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
    let shared = Shared {
        status: Arc::new(Mutex::new(status)),
        journal: Arc::new(Mutex::new(journal)),
    };

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
            status: shared.status.clone(),
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

    tokio::spawn(link(config, identity, key_file, shared, uploaded));
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
                    shared
                        .status
                        .lock()
                        .expect("status lock")
                        .error(format!("cannot write the event queue: {e}; retrying"));
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        };
        {
            let mut status = shared.status.lock().expect("status lock");
            for e in &events {
                if let Some(asset) = status.assets.get_mut(&e.pin) {
                    asset.running = Some(e.running);
                    asset.since_ms = Some(e.ts);
                }
            }
        }
        upload.notify_one();
    }
}

/// Registers (first start: obtains and stores the key), then uploads and heartbeats until the
/// server refuses the key, then registers again; forever.
async fn link(
    config: Config,
    mut identity: Option<Identity>,
    key_file: KeyFile,
    shared: Shared,
    uploaded: Arc<Notify>,
) {
    let client = Client::new(&config.server_url, config.request_timeout);
    let mut backoff = Backoff::new(
        config.retry_min,
        config.retry_max,
        seed_from(config.logger_id.as_str()),
    );
    let set = |f: &dyn Fn(&mut Status)| f(&mut shared.status.lock().expect("status lock"));
    loop {
        match register(&client, &config, &mut identity, &key_file, &shared).await {
            Ok(()) => backoff.reset(),
            Err(CallError::Unauthorized(m)) => {
                let message = refused_message(&config, identity.is_some(), &key_file, &m);
                set(&|s| {
                    s.connection = Connection::KeyRefused(message.clone());
                    s.error(message.clone());
                });
                tokio::time::sleep(config.retry_max).await;
                continue;
            }
            Err(e) => {
                set(&|s| {
                    s.connection = Connection::Unreachable(e.to_string());
                    s.error(format!("registration failed: {e}"));
                });
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
        }
        let id = identity.clone().expect("registered");
        let key = id.device_key.as_deref();
        check_watermark(&client, &id, &shared).await;
        let refusal = tokio::select! {
            m = upload(&client, &config, &id, &shared, &uploaded) => m,
            m = heartbeats(&client, &config, &id, &shared) => m,
        };
        let message = refused_message(&config, key.is_some(), &key_file, &refusal);
        set(&|s| {
            s.connection = Connection::KeyRefused(message.clone());
            s.error(message.clone());
        });
        tokio::time::sleep(backoff.next_delay()).await;
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

async fn register(
    client: &Client,
    config: &Config,
    identity: &mut Option<Identity>,
    key_file: &KeyFile,
    shared: &Shared,
) -> Result<(), CallError> {
    let request = RegisterRequest {
        logger_id: config.logger_id.to_string(),
        logger_name: config.logger_name.clone(),
        firmware_version: agent_version(),
        ip_address: None,
        assets: config
            .inputs
            .iter()
            .map(|i| AssetName {
                pin_number: i.pin,
                asset_name: i.name.clone(),
            })
            .collect(),
    };
    let key = identity.as_ref().and_then(|i| i.device_key.clone());
    let answer = client.register(&request, key.as_deref()).await?;
    let claim_code = (answer.status == "pending")
        .then(|| answer.claim_code.clone())
        .flatten();
    let updated = Identity {
        logger_id: config.logger_id.to_string(),
        // A new key comes only when the server created the logger (first start, or after an
        // admin deleted it); otherwise ours was accepted.
        device_key: answer.device_key.clone().or(key),
        claim_code: claim_code.clone(),
    };
    if identity.as_ref() != Some(&updated) {
        if let Err(e) = key_file.save(&updated) {
            // Without the key on disk a restart would be locked out; say so loudly, but keep
            // reporting with the key held in memory.
            shared.status.lock().expect("status lock").error(format!(
                "cannot save the device key to {}: {e}",
                key_file.path().display()
            ));
        }
        if answer.device_key.is_some() {
            tracing::info!(status = %answer.status, "registered with the server; device key stored");
        }
        *identity = Some(updated);
    }
    let mut s = shared.status.lock().expect("status lock");
    s.registration = Some(answer.status);
    s.claim_code = claim_code;
    s.contact();
    Ok(())
}

/// Asks the server how far it holds this logger's seqs (an empty batch) and, if that is beyond
/// anything this queue handed out, moves the queue's numbering past it.
async fn check_watermark(client: &Client, id: &Identity, shared: &Shared) {
    let Ok(ack) = client
        .ingest(&id.logger_id, &[], id.device_key.as_deref())
        .await
    else {
        return;
    };
    let journal = shared.journal.clone();
    let renumbered = tokio::task::spawn_blocking(move || {
        journal
            .lock()
            .expect("journal lock")
            .renumber_after(ack.acked_seq)
    })
    .await
    .expect("renumbering does not panic");
    let mut s = shared.status.lock().expect("status lock");
    match renumbered {
        Ok(0) => {}
        Ok(n) => s.error(format!(
            "the server already holds seqs up to {} of this logger, more than this agent ever numbered (was the state directory lost?): {n} queued events renumbered after it",
            ack.acked_seq
        )),
        Err(e) => s.error(format!("cannot renumber the queue: {e}")),
    }
}

/// Uploads queued events until the server refuses the key (returns its message).
async fn upload(
    client: &Client,
    config: &Config,
    id: &Identity,
    shared: &Shared,
    queued: &Notify,
) -> String {
    let mut max_batch = MAX_BATCH;
    let mut backoff = Backoff::new(config.retry_min, config.retry_max, seed_from(&id.logger_id));
    let set = |f: &dyn Fn(&mut Status)| f(&mut shared.status.lock().expect("status lock"));
    loop {
        let batch = shared
            .journal
            .lock()
            .expect("journal lock")
            .batch(max_batch);
        let Some(last) = batch.last().map(|e| e.seq) else {
            queued.notified().await;
            continue;
        };
        match client
            .ingest(&id.logger_id, &batch, id.device_key.as_deref())
            .await
        {
            Ok(ack) => {
                // A 200 means the whole batch is durably stored. Release by the batch's last seq
                // as well as by the watermark: after the queue dropped events the watermark
                // stops at that gap for good.
                let upto = ack.acked_seq.max(last);
                let journal = shared.journal.clone();
                let released = tokio::task::spawn_blocking(move || {
                    journal.lock().expect("journal lock").ack(upto)
                })
                .await
                .expect("releasing does not panic");
                match released {
                    Ok(_) => {
                        backoff.reset();
                        set(&|s| {
                            s.uploaded += batch.len() as u64;
                            s.contact();
                        });
                    }
                    Err(e) => {
                        set(&|s| s.error(format!("cannot record the acknowledgement: {e}")));
                        tokio::time::sleep(backoff.next_delay()).await;
                    }
                }
            }
            Err(CallError::Unauthorized(m)) => return m,
            Err(CallError::TooLarge) => max_batch = (max_batch / 2).max(1),
            Err(CallError::Refused(code, m)) => {
                let first = batch[0].seq;
                set(&|s| {
                    s.error(format!(
                        "the server refused events {first}..={last} ({code}: {m}); they stay queued and are retried"
                    ))
                });
                tokio::time::sleep(backoff.next_delay()).await;
            }
            Err(e @ CallError::Unavailable(_)) => {
                set(&|s| {
                    s.connection = Connection::Unreachable(e.to_string());
                    s.error(format!("upload failed: {e}"));
                });
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}

/// Sends heartbeats with the queue's figures until the server refuses the key.
async fn heartbeats(client: &Client, config: &Config, id: &Identity, shared: &Shared) -> String {
    let mut ticks = tokio::time::interval(config.heartbeat_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // registration was the contact just now
    let started = std::time::Instant::now();
    loop {
        ticks.tick().await;
        let queue = shared.journal.lock().expect("journal lock").figures();
        let beat = HeartbeatRequest {
            logger_id: id.logger_id.clone(),
            uptime_s: started.elapsed().as_secs(),
            rssi: None,
            free_heap: None,
            queued_events: queue.depth as u64,
            dropped_events: queue.dropped,
            firmware_version: agent_version(),
        };
        let result = client.heartbeat(&beat, id.device_key.as_deref()).await;
        let mut s = shared.status.lock().expect("status lock");
        match result {
            Ok(answer) => {
                if answer.status != "pending" {
                    s.claim_code = None;
                }
                s.registration = Some(answer.status);
                s.contact();
            }
            Err(CallError::Unauthorized(m)) => return m,
            Err(e) => {
                s.connection = Connection::Unreachable(e.to_string());
                s.error(format!("heartbeat failed: {e}"));
            }
        }
    }
}
