//! `alerts`: how late alerts are, and what rules cost ingestion.
//!
//! 1. Latency: `--alert-machines` machines (8 per logger) run, then all stop within the same
//!    second under a `stop_longer_than` rule of `--alert-threshold` seconds whose channel is a
//!    webhook receiver in this process; each opening's lateness is the time it was received
//!    minus the moment its stop crossed the threshold (`since` + threshold).
//! 2. Cost: the `single` scenario without rules, with `--alert-rules` rules (stop rules with a
//!    week's threshold over all machines: each stop sets one timer per rule, none fires), and
//!    again without and with, alternating in one sitting.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, ensure};
use hyper::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::client::LeanConn;
use crate::report::{self, Timing, now_ms};
use crate::target::{Logger, Target};

/// Inputs per logger.
const PINS: u32 = 8;

pub struct Params {
    pub machines: u32,
    pub threshold_s: u64,
    pub rules: u32,
    pub connections: u32,
}

/// What the receiver got: for each alert opened, when it arrived (epoch ms) and its stop's start.
type Received = Arc<Mutex<HashMap<i64, (i64, i64)>>>;

/// A minimal HTTP/1.1 receiver: reads each request (headers and `Content-Length` body),
/// answers 200, keeps the connection.
async fn receive(listener: TcpListener, got: Received) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(serve(stream, got.clone()));
    }
}

async fn serve(mut stream: TcpStream, got: Received) {
    let mut buffer = Vec::with_capacity(8192);
    loop {
        let mut chunk = [0u8; 8192];
        // One request: headers, then the body.
        let (head_len, body_len) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            if let Ok(httparse::Status::Complete(n)) = request.parse(&buffer) {
                let length = request
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
                    .unwrap_or(0usize);
                break (n, length);
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        while buffer.len() < head_len + body_len {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let at = now_ms();
        if let Ok(body) = serde_json::from_slice::<Value>(&buffer[head_len..head_len + body_len])
            && body["event"] == "opened"
            && let (Some(id), Some(since)) =
                (body["alert_id"].as_i64(), body["alert"]["since"].as_i64())
        {
            got.lock()
                .expect("receiver lock")
                .entry(id)
                .or_insert((at, since));
        }
        buffer.drain(..head_len + body_len);
        if stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Every machine reports `running` now, each logger on its own connection, all at once.
async fn send_all(loggers: &[Logger], conns: &mut [LeanConn], running: bool) -> anyhow::Result<()> {
    let sends = loggers.iter().zip(conns.iter_mut()).map(|(logger, conn)| async move {
        for pin in 0..PINS {
            let body = format!(
                r#"{{"logger_id":"{}","pin_number":{pin},"is_running":{running},"timestamp":{}}}"#,
                logger.id,
                now_ms()
            );
            let reply = conn.post(body.as_bytes()).await?;
            ensure!(reply.status.is_success(), "{}: {}", logger.id, reply.snippet());
        }
        anyhow::Ok(())
    });
    futures_util::future::try_join_all(sends).await?;
    Ok(())
}

pub async fn run(target: &mut Target, params: Params, timing: Timing) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let got: Received = Arc::default();
    tokio::spawn(receive(listener, got.clone()));
    let channel = target
        .user_send(
            Method::POST,
            "/api/v1/alert-channels",
            Some(json!({"name": "bench", "kind": "webhook", "url": url})),
        )
        .await?;
    let channel_id = channel["id"].as_i64().context("a channel id")?;

    // 1. Latency.
    let loggers = target
        .register_loggers("alert", params.machines.div_ceil(PINS))
        .await?;
    let mut conns = Vec::new();
    for (n, logger) in loggers.iter().enumerate() {
        conns.push(LeanConn::open(target.addr_for(n), "/api/asset-state", &logger.key).await?);
    }
    send_all(&loggers, &mut conns, true).await?;
    let stop_rule = target
        .user_send(
            Method::POST,
            "/api/v1/alert-rules",
            Some(json!({"name": "bench stop", "kind": "stop_longer_than",
                        "threshold_s": params.threshold_s, "channel_ids": [channel_id]})),
        )
        .await?;
    let machines = (params.machines.div_ceil(PINS) * PINS) as usize;
    let stopped_at = now_ms();
    send_all(&loggers, &mut conns, false).await?;
    let stops_took = now_ms() - stopped_at;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(params.threshold_s + 60);
    while got.lock().expect("receiver lock").len() < machines
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let threshold_ms = params.threshold_s as i64 * 1000;
    let mut lateness = report::histogram();
    let received: Vec<(i64, i64)> = got
        .lock()
        .expect("receiver lock")
        .values()
        .copied()
        .collect();
    for (at, since) in &received {
        report::record(
            &mut lateness,
            Duration::from_millis(u64::try_from(at - (since + threshold_ms)).unwrap_or(0)),
        );
    }
    let ms = |q: f64| lateness.value_at_quantile(q) as f64 / 1000.0;
    let mut out = String::new();
    out.push_str("## alerts\n\n");
    out.push_str(&format!(
        "{machines} machines stopped within {stops_took} ms under a {} s stop rule; \
         {} openings received by the webhook.\n\n",
        params.threshold_s,
        received.len()
    ));
    out.push_str("| crossing → webhook received | p50 | p99 | max |\n|---|---|---|---|\n");
    out.push_str(&format!(
        "| ms | {:.1} | {:.1} | {:.1} |\n\n",
        ms(0.5),
        ms(0.99),
        lateness.max() as f64 / 1000.0
    ));

    // 2. What rules cost ingestion, alternating (from no rule at all).
    let stop_rule = stop_rule["id"].as_i64().context("a rule id")?;
    target
        .user_send(
            Method::DELETE,
            &format!("/api/v1/alert-rules/{stop_rule}"),
            None,
        )
        .await?;
    out.push_str(&format!(
        "| single, {} connections | events/s | server CPU µs/event | server instructions/event |\n|---|---|---|---|\n",
        params.connections
    ));
    let mut ids: Vec<i64> = Vec::new();
    for round in 0..4 {
        let with = round % 2 == 1;
        if with {
            for n in 0..params.rules {
                let rule = target
                    .user_send(
                        Method::POST,
                        "/api/v1/alert-rules",
                        Some(
                            json!({"name": format!("bench idle {n}"), "kind": "stop_longer_than",
                                    "threshold_s": 604_800, "channel_ids": [channel_id]}),
                        ),
                    )
                    .await?;
                ids.push(rule["id"].as_i64().context("a rule id")?);
            }
        }
        // Starts the instruction count (callgrind only): the phase's own, rules set up before.
        let _ = target.server_instructions();
        let outcome =
            crate::single::run_as(target, &format!("s{round}-"), params.connections, timing)
                .await?;
        let instructions = target.server_instructions();
        ensure!(
            outcome.errors == 0,
            "the single scenario saw errors: {:?}",
            outcome.error_samples
        );
        // CPU per event is steadier than events/s on a shared machine: another guest's load
        // slows both phases' throughput, less what each event costs.
        let events = outcome.events_per_s * outcome.cpu.wall;
        let per_event = outcome
            .cpu
            .server
            .filter(|_| events > 0.0)
            .map(|cpu| format!("{:.1}", cpu * 1e6 / events))
            .unwrap_or_else(|| "–".into());
        // Over the whole phase (its loggers' registration, warm-up and window): per event
        // acknowledged in it.
        let instructions_per_event = instructions
            .filter(|_| outcome.acked > 0)
            .map(|n| format!("{:.0}", n as f64 / outcome.acked as f64))
            .unwrap_or_else(|| "–".into());
        out.push_str(&format!(
            "| {} rules | {:.0} | {per_event} | {instructions_per_event} |\n",
            if with { params.rules } else { 0 },
            outcome.events_per_s
        ));
        for id in ids.drain(..) {
            target
                .user_send(Method::DELETE, &format!("/api/v1/alert-rules/{id}"), None)
                .await?;
        }
    }
    Ok(out)
}
