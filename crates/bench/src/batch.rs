//! `batch`: `POST /api/v1/ingest` with many events per request, each connection a logger of
//! its own, closed loop.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hyper::StatusCode;
use serde::Deserialize;

use crate::client::Conn;
use crate::report::{self, Errors, Outcome, Timing, Window, now_ms};
use crate::target::{Logger, Target};

/// The server refuses larger bodies (`MAX_BODY_BYTES` in the server's `http` module).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Inputs per logger; events go round the pins, so each pin alternates RUNNING and STOPPED.
const PINS: u64 = 8;

/// The largest seq a batch body is sized for: 8 digits, ten million events per logger, far
/// more than a run sends.
const SIZING_SEQ: u64 = 10_000_000;

const BACKOFF: Duration = Duration::from_millis(10);

#[derive(Deserialize)]
struct Ack {
    acked_seq: u64,
}

struct Tally {
    latency: Histogram<u64>,
    in_window: u64,
    acked: u64,
    errors: Errors,
}

pub async fn run(
    target: &mut Target,
    connections: u32,
    wanted: usize,
    timing: Timing,
) -> anyhow::Result<Outcome> {
    let loggers = target.register_loggers("b", connections).await?;
    let longest_id = loggers.iter().map(|l| l.id.len()).max().unwrap_or(0);
    let size = fitting_batch(wanted, longest_id);
    let mut notes = Vec::new();
    if size < wanted {
        notes.push(format!(
            "**Batch size lowered from {wanted} to {size}: a {wanted}-event body would pass the \
             server's {MAX_BODY_BYTES}-byte limit.**"
        ));
    }
    let mut conns = Vec::with_capacity(loggers.len());
    for _ in &loggers {
        conns.push(Conn::open(target.addr_for(conns.len())).await?);
    }
    let window = Window::after_warmup(timing);
    let workers: Vec<_> = loggers
        .into_iter()
        .zip(conns)
        .map(|(logger, conn)| tokio::spawn(worker(conn, logger, size, window)))
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
    let body_bytes = batch_body(&"x".repeat(longest_id), 1, size, now_ms()).len();
    notes.push(format!(
        "A {size}-event body with small seqs is {} bytes (limit {MAX_BODY_BYTES}).",
        report::thousands(body_bytes as u64)
    ));
    Ok(Outcome {
        scenario: "batch",
        params: format!("POST /api/v1/ingest, {connections} connections, {size} events each"),
        events_per_s: in_window as f64 / window.seconds(),
        latency_of: "one batch POST, sent to acknowledged",
        latency,
        errors: errors.count,
        error_samples: errors.samples,
        acked,
        cpu,
        notes,
    })
}

/// The largest batch up to `wanted` whose body fits the server's limit even with large seqs.
fn fitting_batch(wanted: usize, id_len: usize) -> usize {
    let id = "x".repeat(id_len);
    let mut size = wanted;
    while size > 1 && batch_body(&id, SIZING_SEQ, size, now_ms()).len() > MAX_BODY_BYTES {
        size -= 1;
    }
    size
}

/// Compact JSON by hand: serde would build the same bytes slower, on the CPU the server needs.
pub(crate) fn batch_body(logger_id: &str, first_seq: u64, size: usize, ts: i64) -> String {
    let mut body = String::with_capacity(64 + size * 60);
    let _ = write!(body, r#"{{"logger_id":"{logger_id}","events":["#);
    for seq in first_seq..first_seq + size as u64 {
        if seq != first_seq {
            body.push(',');
        }
        let pin = seq % PINS;
        let running = (seq / PINS).is_multiple_of(2);
        let _ = write!(
            body,
            r#"{{"seq":{seq},"pin":{pin},"running":{running},"ts":{ts}}}"#
        );
    }
    body.push_str("]}");
    body
}

async fn worker(mut conn: Conn, logger: Logger, size: usize, window: Window) -> Tally {
    let mut tally = Tally {
        latency: report::histogram(),
        in_window: 0,
        acked: 0,
        errors: Errors::default(),
    };
    let mut next_seq: u64 = 1;
    while Instant::now() < window.end {
        let last = next_seq + size as u64 - 1;
        let body = batch_body(&logger.id, next_seq, size, now_ms());
        let sent = Instant::now();
        let reply = conn.post("/api/v1/ingest", Some(&logger.key), body).await;
        let done = Instant::now();
        match reply {
            Ok(reply) if reply.status == StatusCode::OK => {
                match serde_json::from_slice::<Ack>(&reply.body) {
                    Ok(ack) if ack.acked_seq == last => {
                        next_seq = last + 1;
                        tally.acked += size as u64;
                        if window.contains(done) {
                            tally.in_window += size as u64;
                            report::record(&mut tally.latency, done - sent);
                        }
                    }
                    // Count what the watermark covers and resend the rest, as a logger would.
                    Ok(ack) => {
                        let stored = ack.acked_seq.saturating_sub(next_seq - 1).min(size as u64);
                        tally.acked += stored;
                        tally.errors.add(|| {
                            format!(
                                "{} seqs {next_seq}..={last}: acked_seq {}",
                                logger.id, ack.acked_seq
                            )
                        });
                        next_seq = ack.acked_seq.max(next_seq - 1) + 1;
                    }
                    Err(e) => tally
                        .errors
                        .add(|| format!("{}: unreadable ack: {e}", logger.id)),
                }
            }
            Ok(reply) => tally.errors.add(|| {
                format!(
                    "{} seqs {next_seq}..={last}: {}",
                    logger.id,
                    reply.snippet()
                )
            }),
            Err(e) => {
                tally
                    .errors
                    .add(|| format!("{} seqs {next_seq}..={last}: {e:#}", logger.id));
                tokio::time::sleep(BACKOFF).await;
            }
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_batch_fits_the_body_limit() {
        let id = "bench-ffffffffff-b999";
        assert_eq!(fitting_batch(1000, id.len()), 1000);
        let body = batch_body(id, 1, 3, 1_700_000_000_000);
        let parsed: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(parsed["events"].as_array().map(Vec::len), Some(3));
        assert_eq!(parsed["events"][2]["seq"], 3);
    }
}
