//! `live`: events at a fixed rate while WebSocket clients watch; measures the time from a POST's
//! response to the message reaching each client.
//!
//! Every event flips its input's state, so each one is pushed. Event times are unique across
//! the whole scenario (each at least a millisecond after the last), so a message is matched to
//! its POST by its timestamp alone; the pin is checked too.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use hyper::StatusCode;
use serde::Deserialize;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::client::Conn;
use crate::report::{self, Errors, Outcome, Timing, Window, now_ms};
use crate::target::{Logger, Target};

/// Inputs per logger.
const PINS: usize = 16;

/// Bytes the client reads at a time; a few live messages.
const READ_BUFFER: usize = 4 * 1024;

/// How long, after the last POST, the clients may take to receive every message.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Params {
    pub clients: u32,
    pub rate: u32,
    pub loggers: u32,
}

/// One event as the sender saw it.
struct Sent {
    ts: i64,
    pin: u8,
    answered: Instant,
    /// Scheduled inside the measurement window.
    counted: bool,
}

struct SenderLog {
    sent: Vec<Sent>,
    post_latency: Histogram<u64>,
    errors: Errors,
}

/// One message as a client saw it.
pub(crate) struct Delivery {
    pub ts: i64,
    pub pin: u8,
    pub at: Instant,
}

pub(crate) struct ClientLog {
    pub deliveries: Vec<Delivery>,
    pub errors: Errors,
}

#[derive(Deserialize)]
struct LiveMessage<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default)]
    logger_id: Option<&'a str>,
    #[serde(default)]
    pin_number: Option<u8>,
    #[serde(default)]
    timestamp: Option<&'a str>,
}

pub async fn run(target: &mut Target, params: Params, timing: Timing) -> anyhow::Result<Outcome> {
    let loggers = target.register_loggers("l", params.loggers).await?;
    let prefix: Arc<str> = target.logger_prefix("l").into();

    // Clients first: the server subscribes a client before it completes the handshake, so once
    // connected, a client sees every later event.
    // With replicas the clients watch the last server and the events go to the first, so each
    // crosses between them (replicas.rs of the server).
    let url = format!(
        "ws://{}/api/v1/live?token={}",
        target.watch_addr(),
        target.user_token
    );
    let (stop, stopped) = watch::channel(false);
    let received = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::with_capacity(params.clients as usize);
    for _ in 0..params.clients {
        let (socket, _) =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(socket_config()), true)
                .await?;
        clients.push(tokio::spawn(client(
            socket,
            prefix.clone(),
            stopped.clone(),
            received.clone(),
        )));
    }

    let mut conns = Vec::with_capacity(loggers.len());
    for _ in &loggers {
        conns.push(Conn::open(target.addr).await?);
    }
    let origin = Instant::now();
    let window = Window::after_warmup(timing);
    let interval = Duration::from_secs(1) / params.rate;
    let last_ts = Arc::new(AtomicI64::new(0));
    let senders_count = loggers.len();
    let senders: Vec<_> = loggers
        .into_iter()
        .zip(conns)
        .enumerate()
        .map(|(n, (logger, conn))| {
            let schedule = Schedule {
                origin,
                interval,
                first: n as u64,
                step: senders_count as u64,
                window,
            };
            tokio::spawn(sender(conn, logger, schedule, last_ts.clone()))
        })
        .collect();
    let cpu = report::cpu_over(window, target).await;

    let mut sent = Vec::new();
    let mut post_latency = report::histogram();
    let mut errors = Errors::default();
    for s in senders {
        let log = s.await?;
        sent.extend(log.sent);
        post_latency.add(&log.post_latency)?;
        errors.merge(log.errors);
    }
    let expected = sent.len() as u64 * u64::from(params.clients);
    let drain_deadline = Instant::now() + DRAIN_TIMEOUT;
    while received.load(Ordering::Relaxed) < expected && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(true);
    let mut logs = Vec::with_capacity(clients.len());
    for c in clients {
        logs.push(c.await?);
    }

    // Match every delivery to its POST.
    let index: HashMap<i64, usize> = sent.iter().enumerate().map(|(i, s)| (s.ts, i)).collect();
    let counted = sent.iter().filter(|s| s.counted).count() as u64;
    let mut latency = report::histogram();
    let (mut early, mut matched, mut duplicates, mut strays) = (0u64, 0u64, 0u64, 0u64);
    for log in logs {
        errors.merge(log.errors);
        let mut seen = vec![false; sent.len()];
        for d in log.deliveries {
            let Some(&i) = index.get(&d.ts) else {
                strays += 1;
                continue;
            };
            let s = &sent[i];
            if s.pin != d.pin {
                strays += 1;
                continue;
            }
            if std::mem::replace(&mut seen[i], true) {
                duplicates += 1;
                continue;
            }
            if !s.counted {
                continue;
            }
            matched += 1;
            match d.at.checked_duration_since(s.answered) {
                Some(after) => report::record(&mut latency, after),
                None => {
                    // Pushed before the POST's answer reached us: a real delay of zero.
                    early += 1;
                    latency.saturating_record(0);
                }
            }
        }
    }
    let missing = counted * u64::from(params.clients) - matched;
    errors.add_many(missing, || {
        format!("{missing} deliveries of measured events never arrived")
    });
    errors.add_many(strays, || {
        format!("{strays} messages matched no event the bench sent")
    });
    errors.add_many(duplicates, || {
        format!("{duplicates} messages arrived twice at the same client")
    });

    let mut notes = Vec::new();
    let mut line = format!(
        "Deliveries: {} of {} expected ({} measured events × {} clients); {} arrived before \
         the POST's answer (counted as 0 ms).",
        report::thousands(matched),
        report::thousands(counted * u64::from(params.clients)),
        report::thousands(counted),
        params.clients,
        report::thousands(early),
    );
    if !post_latency.is_empty() {
        let _ = write!(
            line,
            " The POSTs themselves took p50 {:.2} ms, p99 {:.2} ms.",
            post_latency.value_at_quantile(0.5) as f64 / 1000.0,
            post_latency.value_at_quantile(0.99) as f64 / 1000.0,
        );
    }
    notes.push(line);
    Ok(Outcome {
        scenario: "live",
        params: format!(
            "{} WebSocket clients, {} events/s target over {} loggers",
            params.clients, params.rate, senders_count
        ),
        events_per_s: counted as f64 / window.seconds(),
        latency_of: "POST answered → message received, over every (event, client) pair",
        latency,
        errors: errors.count,
        error_samples: errors.samples,
        acked: sent.len() as u64,
        cpu,
        notes,
    })
}

/// Which events a sender owns: the `first`, `first + step`, … of a global sequence paced at
/// `interval`, until the window closes.
pub(crate) struct Schedule {
    pub origin: Instant,
    pub interval: Duration,
    pub first: u64,
    pub step: u64,
    pub window: Window,
}

impl Schedule {
    /// When event `n` of the global sequence is due; `None` once that is past the window.
    pub fn due(&self, n: u64) -> Option<Instant> {
        let due = self.origin + self.interval * n as u32;
        (due < self.window.end).then_some(due)
    }
}

async fn sender(
    mut conn: Conn,
    logger: Logger,
    schedule: Schedule,
    last_ts: Arc<AtomicI64>,
) -> SenderLog {
    let mut log = SenderLog {
        sent: Vec::new(),
        post_latency: report::histogram(),
        errors: Errors::default(),
    };
    let mut running = [false; PINS];
    let mut next_pin = 0;
    let mut body = String::with_capacity(160);
    let mut n = schedule.first;
    while let Some(due) = schedule.due(n) {
        // Open loop: a late sender catches up rather than shifting the schedule.
        tokio::time::sleep_until(due.into()).await;
        n += schedule.step;
        let pin = next_pin;
        next_pin = (next_pin + 1) % PINS;
        running[pin] = !running[pin];
        let ts = unique_ts(&last_ts);
        body.clear();
        let _ = write!(
            body,
            r#"{{"logger_id":"{}","pin_number":{pin},"is_running":{},"timestamp":{ts}}}"#,
            logger.id, running[pin]
        );
        let posted = Instant::now();
        let reply = conn
            .post("/api/asset-state", Some(&logger.key), body.clone())
            .await;
        let answered = Instant::now();
        match reply {
            Ok(reply) if reply.status == StatusCode::OK => {
                let counted = schedule.window.contains(due);
                if counted {
                    report::record(&mut log.post_latency, answered - posted);
                }
                log.sent.push(Sent {
                    ts,
                    pin: pin as u8,
                    answered,
                    counted,
                });
            }
            Ok(reply) => {
                // The state did not flip on the server; keep ours in step.
                running[pin] = !running[pin];
                log.errors
                    .add(|| format!("{} pin {pin}: {}", logger.id, reply.snippet()));
            }
            Err(e) => {
                running[pin] = !running[pin];
                log.errors.add(|| format!("{} pin {pin}: {e:#}", logger.id));
            }
        }
    }
    log
}

/// A small read buffer: tungstenite zero-fills the free part of its read buffer (128 KiB by
/// default) before every read, which made that memset a quarter of the client's CPU.
pub(crate) fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(READ_BUFFER)
}

/// Now in epoch ms, but at least one ms after any time handed out before: times stay unique.
pub(crate) fn unique_ts(last: &AtomicI64) -> i64 {
    let now = now_ms();
    let prev = last
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |prev| {
            Some(now.max(prev + 1))
        })
        .expect("the closure always answers");
    now.max(prev + 1)
}

pub(crate) async fn client(
    mut socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    prefix: Arc<str>,
    mut stop: watch::Receiver<bool>,
    received: Arc<AtomicU64>,
) -> ClientLog {
    let mut log = ClientLog {
        deliveries: Vec::with_capacity(16 * 1024),
        errors: Errors::default(),
    };
    loop {
        tokio::select! {
            biased;
            message = socket.next() => {
                // Read the clock first: parsing is the client's cost, not the server's.
                let at = Instant::now();
                match message {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(d) = parse(text.as_str(), &prefix, at) {
                            log.deliveries.push(d);
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        log.errors.add(|| format!("the server closed a live socket: {frame:?}"));
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        log.errors.add(|| format!("live socket failed: {e}"));
                        break;
                    }
                    None => {
                        log.errors.add(|| "the server closed a live socket".to_owned());
                        break;
                    }
                }
            }
            _ = stop.changed() => break,
        }
    }
    let _ = socket.close(None).await;
    let _ = socket.flush().await;
    log
}

/// A state change of one of our loggers, or None for anything else.
pub(crate) fn parse(text: &str, prefix: &str, at: Instant) -> Option<Delivery> {
    let message: LiveMessage<'_> = serde_json::from_str(text).ok()?;
    if message.kind != "asset_state_change" || !message.logger_id?.starts_with(prefix) {
        return None;
    }
    let ts = chrono::DateTime::parse_from_rfc3339(message.timestamp?)
        .ok()?
        .timestamp_millis();
    Some(Delivery {
        ts,
        pin: message.pin_number?,
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_change_of_ours_is_read_back_to_its_millisecond() {
        let text = r#"{"type":"asset_state_change","asset_id":7,"asset_name":"bench l0 pin 3","logger_id":"bench-1f-l0","pin_number":3,"state":"RUNNING","timestamp":"2026-01-02T03:04:05.678Z","duration_ms":null}"#;
        let d = parse(text, "bench-1f-l", Instant::now()).expect("ours");
        assert_eq!(d.pin, 3);
        assert_eq!(d.ts, 1_767_323_045_678);
        assert!(parse(text, "bench-2a-l", Instant::now()).is_none());
        let status = r#"{"type":"logger_status","logger_id":"bench-1f-l0","online":true,"last_seen":"2026-01-02T03:04:05.678Z"}"#;
        assert!(parse(status, "bench-1f-l", Instant::now()).is_none());
    }

    #[test]
    fn times_stay_unique_when_asked_within_a_millisecond() {
        let last = AtomicI64::new(0);
        let a = unique_ts(&last);
        let b = unique_ts(&last);
        let c = unique_ts(&last);
        assert!(a < b && b < c);
    }
}
