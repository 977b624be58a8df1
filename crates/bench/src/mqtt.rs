//! `mqtt` (not part of `all`): loggers publishing through Mosquitto into assetlog. The bench
//! starts a broker of its own (Debian's `mosquitto` with the dynamic-security plugin, set up as
//! the server's tests do) and the server on it, registers loggers over HTTP (which gives each
//! its broker client), then measures two things:
//! - live latency: `--rate` events/s, one per message, over `--live-loggers` loggers while one
//!   dashboard watches: the time from the publish to the message on the dashboard;
//! - throughput: `--mqtt-loggers` loggers, each publishing a batch of `--batch-size` events and
//!   waiting for assetlog's ack of it (closed loop): events/s, the publish → ack latency, and
//!   the CPU time of the broker beside the server's and the bench's.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use serde::Deserialize;
use tokio::sync::watch;

use crate::live::Schedule;
use crate::mosquitto::Broker;
use crate::report::{self, CpuUse, Errors, Outcome, Timing, Window, now_ms};
use crate::target::{Logger, Target, process_cpu};

/// How long a logger waits for assetlog's ack before it counts an error.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// How long, after the last publish, the dashboard may take to receive every message.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Inputs per logger in the live phase; each event flips one, so each is pushed.
const PINS: usize = 16;

pub struct Params {
    pub loggers: u32,
    pub batch: usize,
    pub rate: u32,
    pub live_loggers: u32,
}

#[derive(Deserialize)]
struct Ack {
    acked_seq: u64,
    last_seq: Option<u64>,
}

/// A logger connected to the broker as itself, subscribed to its ack topic.
struct Connected {
    logger: Logger,
    client: AsyncClient,
    eventloop: EventLoop,
}

async fn connect(broker: &Broker, logger: Logger) -> anyhow::Result<Connected> {
    let mut options = MqttOptions::new(logger.id.clone(), "127.0.0.1", broker.port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(1 << 20, 1 << 20)
        .set_credentials(logger.id.clone(), logger.secret.clone());
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    // Without it, Nagle's algorithm holds a small message back for the ACK of the one before.
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    let ack = format!("assetlog/v1/{}/ack", logger.id);
    client.subscribe(ack, QoS::AtLeastOnce).await?;
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Event::Incoming(Packet::SubAck(_)) = eventloop.poll().await? {
                return anyhow::Ok(());
            }
        }
    })
    .await
    .with_context(|| format!("{} got no SUBACK from the broker", logger.id))??;
    Ok(Connected {
        logger,
        client,
        eventloop,
    })
}

/// Both phases: live latency, then throughput.
pub async fn run(
    target: &mut Target,
    broker: &Broker,
    params: Params,
    timing: Timing,
) -> anyhow::Result<Vec<Outcome>> {
    // Live first, on an empty database: after the throughput phase the server and the disk
    // are busy settling over a million events for a while.
    let live = live(target, broker, &params, timing).await?;
    let throughput = throughput(target, broker, &params, timing).await?;
    Ok(vec![live, throughput])
}

struct Tally {
    latency: Histogram<u64>,
    in_window: u64,
    acked: u64,
    errors: Errors,
}

async fn throughput(
    target: &mut Target,
    broker: &Broker,
    params: &Params,
    timing: Timing,
) -> anyhow::Result<Outcome> {
    let loggers = target.register_loggers("m", params.loggers).await?;
    let mut connected = Vec::with_capacity(loggers.len());
    for logger in loggers {
        connected.push(connect(broker, logger).await?);
    }
    let window = Window::after_warmup(timing);
    let workers: Vec<_> = connected
        .into_iter()
        .map(|c| tokio::spawn(publisher(c, params.batch, window)))
        .collect();
    let (mut cpu, broker_cpu) = tokio::join!(
        report::cpu_over(window, target),
        process_cpu_over(window, broker.pid())
    );
    cpu.broker = broker_cpu;
    let mut latency = report::histogram();
    let (mut in_window, mut acked, mut errors) = (0, 0, Errors::default());
    for worker in workers {
        let tally = worker.await?;
        latency.add(&tally.latency)?;
        in_window += tally.in_window;
        acked += tally.acked;
        errors.merge(tally.errors);
    }
    let body = crate::batch::batch_body("bench-0000000000-m00", 1, params.batch, now_ms());
    let notes = vec![
        broker_note(&cpu, broker_cpu),
        format!(
            "A {}-event message is about {} bytes.",
            params.batch,
            report::thousands(body.len() as u64)
        ),
    ];
    Ok(Outcome {
        scenario: "mqtt",
        params: format!(
            "{} loggers through Mosquitto, {} events per message, each waiting for its ack",
            params.loggers, params.batch
        ),
        events_per_s: in_window as f64 / window.seconds(),
        latency_of: "one batch, published to assetlog's ack received",
        latency,
        errors: errors.count,
        error_samples: errors.samples,
        acked,
        cpu,
        notes,
    })
}

/// CPU seconds of a process over the window.
async fn process_cpu_over(window: Window, pid: Option<u32>) -> Option<f64> {
    tokio::time::sleep_until(window.start.into()).await;
    let before = process_cpu(pid?)?;
    tokio::time::sleep_until(window.end.into()).await;
    Some(process_cpu(pid?)? - before)
}

fn broker_note(cpu: &CpuUse, broker: Option<f64>) -> String {
    let Some(broker) = broker else {
        return "The broker's CPU time could not be read.".to_owned();
    };
    let total = broker + cpu.client + cpu.server.unwrap_or(0.0);
    format!(
        "Broker CPU: {broker:.1} s ({:.0}% of one core), {:.0}% of the CPU that bench, broker \
         and server used together.",
        100.0 * broker / cpu.wall,
        100.0 * broker / total.max(f64::EPSILON)
    )
}

/// Publishes batches, each after the ack of the one before, until the window closes.
async fn publisher(mut c: Connected, size: usize, window: Window) -> Tally {
    let mut tally = Tally {
        latency: report::histogram(),
        in_window: 0,
        acked: 0,
        errors: Errors::default(),
    };
    let topic = format!("assetlog/v1/{}/events", c.logger.id);
    let mut next_seq: u64 = 1;
    while Instant::now() < window.end {
        let last = next_seq + size as u64 - 1;
        let body = crate::batch::batch_body(&c.logger.id, next_seq, size, now_ms());
        let sent = Instant::now();
        if let Err(e) = c
            .client
            .publish(topic.as_str(), QoS::AtLeastOnce, false, body)
            .await
        {
            tally
                .errors
                .add(|| format!("{}: publish: {e}", c.logger.id));
            break;
        }
        match tokio::time::timeout(ACK_TIMEOUT, ack_of(&mut c.eventloop, last)).await {
            Ok(Ok(acked)) if acked >= last => {
                let done = Instant::now();
                next_seq = last + 1;
                tally.acked += size as u64;
                if window.contains(done) {
                    tally.in_window += size as u64;
                    report::record(&mut tally.latency, done - sent);
                }
            }
            Ok(Ok(acked)) => {
                tally
                    .errors
                    .add(|| format!("{}: acked {acked} of a batch to {last}", c.logger.id));
                break;
            }
            Ok(Err(e)) => {
                tally.errors.add(|| format!("{}: {e:#}", c.logger.id));
                break;
            }
            Err(_) => {
                tally
                    .errors
                    .add(|| format!("{}: no ack within {ACK_TIMEOUT:?}", c.logger.id));
                break;
            }
        }
    }
    let _ = c.client.disconnect().await;
    tally
}

/// Polls until assetlog's ack of the batch ending at `last`: its watermark.
async fn ack_of(eventloop: &mut EventLoop, last: u64) -> anyhow::Result<u64> {
    loop {
        if let Event::Incoming(Packet::Publish(p)) = eventloop.poll().await? {
            let ack: Ack = serde_json::from_slice(&p.payload)
                .with_context(|| format!("an unreadable ack: {:?}", p.payload))?;
            if ack.last_seq == Some(last) {
                return Ok(ack.acked_seq);
            }
            if ack.last_seq.is_none() {
                bail!("an ack without last_seq: {:?}", p.payload);
            }
        }
    }
}

/// One published event of the live phase.
struct Sent {
    ts: i64,
    pin: u8,
    published: Instant,
    counted: bool,
}

async fn live(
    target: &mut Target,
    broker: &Broker,
    params: &Params,
    timing: Timing,
) -> anyhow::Result<Outcome> {
    let loggers = target.register_loggers("ml", params.live_loggers).await?;
    let prefix: Arc<str> = target.logger_prefix("ml").into();
    let url = format!(
        "ws://{}/api/v1/live?token={}",
        target.watch_addr(),
        target.user_token
    );
    let (socket, _) = tokio_tungstenite::connect_async_with_config(
        url.as_str(),
        Some(crate::live::socket_config()),
        true,
    )
    .await?;
    let (stop, stopped) = watch::channel(false);
    let received = Arc::new(AtomicU64::new(0));
    let dashboard = tokio::spawn(crate::live::client(
        socket,
        prefix,
        stopped,
        received.clone(),
    ));

    let mut connected = Vec::with_capacity(loggers.len());
    for logger in loggers {
        connected.push(connect(broker, logger).await?);
    }
    let origin = Instant::now();
    let window = Window::after_warmup(timing);
    let interval = Duration::from_secs(1) / params.rate;
    let last_ts = Arc::new(AtomicI64::new(0));
    let step = connected.len() as u64;
    let senders: Vec<_> = connected
        .into_iter()
        .enumerate()
        .map(|(n, c)| {
            let schedule = Schedule {
                origin,
                interval,
                first: n as u64,
                step,
                window,
            };
            tokio::spawn(sender(c, schedule, last_ts.clone()))
        })
        .collect();
    let (mut cpu, broker_cpu) = tokio::join!(
        report::cpu_over(window, target),
        process_cpu_over(window, broker.pid())
    );
    cpu.broker = broker_cpu;
    let mut sent = Vec::new();
    let mut errors = Errors::default();
    for s in senders {
        let (log, e) = s.await?;
        sent.extend(log);
        errors.merge(e);
    }
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while received.load(Ordering::Relaxed) < sent.len() as u64 && Instant::now() < deadline {
        // A bounded drain: the dashboard counts what it gets; nothing to await per message.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(true);
    let log = dashboard.await?;
    errors.merge(log.errors);

    let index: HashMap<i64, usize> = sent.iter().enumerate().map(|(i, s)| (s.ts, i)).collect();
    let counted = sent.iter().filter(|s| s.counted).count() as u64;
    let mut latency = report::histogram();
    let (mut matched, mut strays) = (0u64, 0u64);
    for d in log.deliveries {
        match index.get(&d.ts).map(|&i| &sent[i]) {
            Some(s) if s.pin == d.pin => {
                if s.counted {
                    matched += 1;
                    report::record(&mut latency, d.at.saturating_duration_since(s.published));
                }
            }
            _ => strays += 1,
        }
    }
    let missing = counted.saturating_sub(matched);
    errors.add_many(missing, || {
        format!("{missing} measured events never reached the dashboard")
    });
    errors.add_many(strays, || {
        format!("{strays} messages matched no event the bench sent")
    });
    Ok(Outcome {
        scenario: "mqtt-live",
        params: format!(
            "{} events/s target, one per message, over {} loggers; one dashboard",
            params.rate, step
        ),
        events_per_s: counted as f64 / window.seconds(),
        latency_of: "published → message on the dashboard's live socket",
        latency,
        errors: errors.count,
        error_samples: errors.samples,
        acked: sent.len() as u64,
        cpu,
        notes: vec![broker_note(&cpu, broker_cpu)],
    })
}

/// Publishes one event per message on schedule (open loop); its connection is polled beside.
async fn sender(c: Connected, schedule: Schedule, last_ts: Arc<AtomicI64>) -> (Vec<Sent>, Errors) {
    let Connected {
        logger,
        client,
        mut eventloop,
    } = c;
    let (closed_tx, mut closed) = watch::channel(None::<String>);
    let poller = tokio::spawn(async move {
        loop {
            if let Err(e) = eventloop.poll().await {
                let _ = closed_tx.send(Some(e.to_string()));
                return;
            }
        }
    });
    let topic = format!("assetlog/v1/{}/events", logger.id);
    let mut sent = Vec::new();
    let mut errors = Errors::default();
    let mut running = [false; PINS];
    let mut next_pin = 0;
    let mut seq = 0u64;
    let mut n = schedule.first;
    while let Some(due) = schedule.due(n) {
        tokio::time::sleep_until(due.into()).await;
        if let Some(why) = closed.borrow_and_update().clone() {
            errors.add(|| format!("{}: the broker closed the connection: {why}", logger.id));
            break;
        }
        n += schedule.step;
        let pin = next_pin;
        next_pin = (next_pin + 1) % PINS;
        running[pin] = !running[pin];
        seq += 1;
        let ts = crate::live::unique_ts(&last_ts);
        let body = format!(
            r#"{{"events":[{{"seq":{seq},"pin":{pin},"running":{},"ts":{ts}}}]}}"#,
            running[pin]
        );
        let published = Instant::now();
        if let Err(e) = client
            .publish(topic.as_str(), QoS::AtLeastOnce, false, body)
            .await
        {
            errors.add(|| format!("{}: publish: {e}", logger.id));
            break;
        }
        sent.push(Sent {
            ts,
            pin: pin as u8,
            published,
            counted: schedule.window.contains(due),
        });
    }
    // Let the last publishes leave before the connection closes.
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), poller).await;
    (sent, errors)
}
