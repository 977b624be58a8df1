//! `single`: one event per `POST /api/asset-state`, each connection a logger of its own, as
//! fast as the server answers (closed loop: a connection sends its next event when the last
//! one is acknowledged).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hyper::StatusCode;

use crate::client::LeanConn;
use crate::report::{self, Errors, Outcome, Timing, Window, now_ms};
use crate::target::{Logger, Target};

/// Inputs per logger; events go round the pins, so each pin alternates RUNNING and STOPPED.
const PINS: u64 = 4;

/// Pause after a failed connection, so a dead server does not turn the bench into a busy loop.
const BACKOFF: Duration = Duration::from_millis(10);

struct Tally {
    latency: Histogram<u64>,
    in_window: u64,
    acked: u64,
    errors: Errors,
}

pub async fn run(target: &mut Target, connections: u32, timing: Timing) -> anyhow::Result<Outcome> {
    run_as(target, "s", connections, timing).await
}

/// [`run`] with loggers of their own kind (`bench-<run>-<kind><n>`), for a second run against
/// the same server.
pub async fn run_as(
    target: &mut Target,
    kind: &str,
    connections: u32,
    timing: Timing,
) -> anyhow::Result<Outcome> {
    let loggers = target.register_loggers(kind, connections).await?;
    let mut conns = Vec::with_capacity(loggers.len());
    for logger in &loggers {
        conns.push(
            LeanConn::open(
                target.addr_for(conns.len()),
                "/api/asset-state",
                &logger.key,
            )
            .await?,
        );
    }
    let window = Window::after_warmup(timing);
    let workers: Vec<_> = loggers
        .into_iter()
        .zip(conns)
        .map(|(logger, conn)| tokio::spawn(worker(conn, logger, window)))
        .collect();
    let cpu = report::cpu_over(window, target).await;

    let mut latency = report::histogram();
    let (mut in_window, mut acked, mut errors) = (0, 0, Errors::default());
    for worker in workers {
        let tally = worker.await?;
        latency.add(&tally.latency)?;
        in_window += tally.in_window;
        acked += tally.acked;
        errors.merge(tally.errors);
    }
    Ok(Outcome {
        scenario: "single",
        params: format!("POST /api/asset-state, {connections} connections, 1 event each"),
        events_per_s: in_window as f64 / window.seconds(),
        latency_of: "one POST, sent to answered",
        latency,
        errors: errors.count,
        error_samples: errors.samples,
        acked,
        cpu,
        notes: Vec::new(),
    })
}

async fn worker(mut conn: LeanConn, logger: Logger, window: Window) -> Tally {
    let mut tally = Tally {
        latency: report::histogram(),
        in_window: 0,
        acked: 0,
        errors: Errors::default(),
    };
    let mut seq: u64 = 0;
    let mut body = String::with_capacity(160);
    while Instant::now() < window.end {
        seq += 1;
        let pin = seq % PINS;
        let running = (seq / PINS).is_multiple_of(2);
        body.clear();
        let _ = write!(
            body,
            r#"{{"logger_id":"{}","pin_number":{pin},"is_running":{running},"timestamp":{},"seq":{seq}}}"#,
            logger.id,
            now_ms()
        );
        let sent = Instant::now();
        let reply = conn.post(body.as_bytes()).await;
        let done = Instant::now();
        match reply {
            Ok(reply) if reply.status == StatusCode::OK => {
                // A duplicate is acknowledged but not stored: the stored count would not add up.
                if contains(&reply.body, br#""duplicate":true"#) {
                    tally
                        .errors
                        .add(|| format!("{} seq {seq} answered as a duplicate", logger.id));
                    continue;
                }
                tally.acked += 1;
                if window.contains(done) {
                    tally.in_window += 1;
                    report::record(&mut tally.latency, done - sent);
                }
            }
            Ok(reply) => tally
                .errors
                .add(|| format!("{} seq {seq}: {}", logger.id, reply.snippet())),
            Err(e) => {
                tally
                    .errors
                    .add(|| format!("{} seq {seq}: {e:#}", logger.id));
                tokio::time::sleep(BACKOFF).await;
            }
        }
    }
    tally
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
