//! The loggers' messages: each taken in its logger's order, stored through the one ingest path,
//! answered on its ack or error topic, and acknowledged to the broker after the commit.

use std::sync::Arc;
use std::time::Duration;

use assetlog_core::LoggerId;
use assetlog_core::wire::{IngestAck, ObjectOnly, WireEvent};
use rumqttc::{Publish, QoS};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::link::{Link, Receiving};
use super::topics::{self, Inbound, Outbound};
use crate::AppState;
use crate::error::ApiError;
use crate::ingest::{self, IngestError, Proof};
use crate::store::now_ms;

/// Messages in work at once: each logger's go through one of these in order, so a logger's
/// batches are stored in the order it sent them; different loggers' share group commits.
const WORKERS: usize = 16;

/// The largest message assetlog takes; a batch of 1,000 events is about 70 kB. A larger one is
/// refused on the error topic (`body_too_large`), as HTTP refuses a larger body.
const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// Takes the loggers' messages until shutdown; then finishes those in work, acknowledges them
/// and leaves the broker (the session stays: what comes meanwhile waits there).
pub async fn run(state: AppState, link: Arc<Link>, receiving: Receiving) {
    let Receiving {
        mut messages,
        poller,
    } = receiving;
    let (acks_tx, acks) = mpsc::unbounded_channel();
    let acker = tokio::spawn(acknowledge(link.clone(), acks));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(work(state.clone(), link.clone(), rx));
            tx
        })
        .collect();
    let mut shutdown = state.shutdown.clone();
    loop {
        let publish = tokio::select! {
            () = crate::stopped(&mut shutdown) => break,
            p = messages.recv() => match p {
                Some(p) => p,
                None => break,
            },
        };
        let (done, finished) = oneshot::channel();
        let worker = &workers[worker_of(&publish.topic)];
        let _ = acks_tx.send((publish.clone(), finished));
        let _ = worker.send((publish, done));
    }
    // What is received from now on is not taken: the broker delivers it again.
    drop(messages);
    drop(workers);
    drop(acks_tx);
    // Bounded: with the broker away, acknowledgements cannot leave (they come again anyway).
    if tokio::time::timeout(Duration::from_secs(5), acker)
        .await
        .is_err()
    {
        tracing::warn!("could not acknowledge everything to the MQTT broker before stopping");
    }
    let _ = link.client.try_disconnect();
    if tokio::time::timeout(Duration::from_secs(2), poller)
        .await
        .is_err()
    {
        tracing::warn!("the MQTT broker did not see assetlog leave");
    }
}

/// The worker of a topic: all of a logger's messages go to the same one.
fn worker_of(topic: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let logger = topic.rsplit_once('/').map_or(topic, |(l, _)| l);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    logger.hash(&mut h);
    (h.finish() % WORKERS as u64) as usize
}

/// Acknowledges messages to the broker in the order received (MQTT's rule for QoS 1), each once
/// its work is done; one whose work ended without finishing stays unacknowledged.
async fn acknowledge(
    link: Arc<Link>,
    mut acks: mpsc::UnboundedReceiver<(Publish, oneshot::Receiver<()>)>,
) {
    while let Some((publish, finished)) = acks.recv().await {
        if finished.await.is_ok()
            && let Err(e) = link.client.ack(&publish).await
        {
            tracing::warn!(error = %e, "cannot acknowledge a message to the MQTT broker");
        }
    }
}

async fn work(
    state: AppState,
    link: Arc<Link>,
    mut jobs: mpsc::UnboundedReceiver<(Publish, oneshot::Sender<()>)>,
) {
    use futures_util::FutureExt;
    while let Some((publish, done)) = jobs.recv().await {
        // A panic is one message's internal error, not a worker gone (whose loggers would wait
        // for good): answered and acknowledged as any other internal error.
        let answer = std::panic::AssertUnwindSafe(handle(&state, &publish))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                let (logger_id, _) = topics::parse(&publish.topic).ok()?;
                let e = ApiError::Internal(anyhow::anyhow!("a panic on {}", publish.topic));
                Some((
                    topics::outbound(logger_id.as_str(), Outbound::Error),
                    error_body(e, None),
                ))
            });
        if let Some((topic, body)) = answer
            && let Err(e) = link
                .client
                .publish(topic, QoS::AtLeastOnce, false, body)
                .await
        {
            tracing::warn!(error = %e, "cannot publish an answer to a logger");
        }
        let _ = done.send(());
    }
}

/// One message from a logger: stored, and the answer to publish (an ack, or an error).
async fn handle(state: &AppState, publish: &Publish) -> Option<(String, String)> {
    let (logger_id, kind) = match topics::parse(&publish.topic) {
        Ok(parsed) => parsed,
        Err(_) => {
            tracing::debug!(topic = %publish.topic, "a message on a topic that is not a logger's");
            return None;
        }
    };
    state.metrics.mqtt_messages.inc();
    let payload = &publish.payload;
    let answered = if payload.len() > MAX_MESSAGE_BYTES {
        Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("messages are limited to {MAX_MESSAGE_BYTES} bytes"),
        ))
    } else {
        match kind {
            Inbound::Events => events(state, &logger_id, payload).await,
            Inbound::Heartbeat => heartbeat(state, &logger_id, payload).await.map(|c| {
                json!({
                    "status": c.status,
                    "heartbeat_interval_s": c.heartbeat_interval_s,
                    "server_time": c.server_time,
                })
            }),
        }
        .map_err(ApiError::from)
    };
    match answered {
        Ok(answer) => Some((
            topics::outbound(logger_id.as_str(), Outbound::Ack),
            answer.to_string(),
        )),
        Err(e) => {
            state.metrics.mqtt_refused.inc();
            let last_seq = (kind == Inbound::Events)
                .then(|| last_seq_of(payload))
                .flatten();
            let body = error_body(e, last_seq);
            tracing::debug!(logger = %logger_id, error = %body, "refused a logger's MQTT message");
            Some((topics::outbound(logger_id.as_str(), Outbound::Error), body))
        }
    }
}

/// The highest seq a refused batch names, if it can be read: the logger matches the error to its
/// batch by it, as it matches an ack.
fn last_seq_of(payload: &[u8]) -> Option<u64> {
    let body: Value = serde_json::from_slice(payload).ok()?;
    body.get("events")?
        .as_array()?
        .iter()
        .filter_map(|e| e.get("seq")?.as_u64())
        .max()
}

/// `{error: {code, message, status}, last_seq?}`, `status` being what HTTP would have answered:
/// 4xx means the message will never be taken as it is, 429 and 5xx that it may be later.
fn error_body(e: ApiError, last_seq: Option<u64>) -> String {
    let (status, code, message) = match e {
        ApiError::Client {
            status,
            code,
            message,
        }
        | ApiError::Later {
            status,
            code,
            message,
            ..
        } => (status.as_u16(), code, message),
        ApiError::Internal(e) => {
            tracing::error!(error = %format!("{e:#}"), "an MQTT message failed");
            (500, "internal", "internal error".to_owned())
        }
    };
    let mut body = json!({"error": {"code": code, "message": message, "status": status}});
    if let Some(last) = last_seq {
        body["last_seq"] = json!(last);
    }
    body.to_string()
}

/// The events topic's body: `POST /api/v1/ingest`'s, its `logger_id` optional (the topic names it).
#[derive(Deserialize)]
struct EventsBody {
    logger_id: Option<String>,
    events: Vec<ObjectOnly<WireEvent>>,
}

/// The heartbeat topic's body: `POST /api/v1/device/heartbeat`'s, `logger_id` optional.
#[derive(Deserialize)]
struct HeartbeatBody {
    logger_id: Option<String>,
    uptime_s: Option<i64>,
    rssi: Option<i64>,
    free_heap: Option<i64>,
    queued_events: Option<i64>,
    dropped_events: Option<i64>,
    firmware_version: Option<String>,
}

fn decode<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, IngestError> {
    serde_json::from_slice::<ObjectOnly<T>>(payload)
        .map(|o| o.0)
        .map_err(|e| crate::domain::Refusal::new("invalid_json", e.to_string()).into())
}

/// A body's `logger_id`, when it has one, must be the topic's.
fn same_logger(topic: &LoggerId, body: Option<&str>) -> Result<(), IngestError> {
    match body {
        Some(id) if id != topic.as_str() => Err(crate::domain::Refusal::new(
            "logger_mismatch",
            "the body's logger_id is not the topic's",
        )
        .into()),
        _ => Ok(()),
    }
}

/// A batch's answer: HTTP's `{acked_seq}`, and `last_seq`, the batch's highest seq, which tells
/// the logger which of its batches this answers (one it sent again may be answered twice).
async fn events(
    state: &AppState,
    logger_id: &LoggerId,
    payload: &[u8],
) -> Result<Value, IngestError> {
    let body: EventsBody = decode(payload)?;
    same_logger(logger_id, body.logger_id.as_deref())?;
    let wire: Vec<WireEvent> = body.events.into_iter().map(|o| o.0).collect();
    let events = ingest::batch(&wire, now_ms())?;
    let last_seq = events.iter().filter_map(|e| e.seq).max();
    // The broker let only this logger publish here: it needs no key, only to be registered.
    let outcome = ingest::report(state, logger_id, Proof::Broker, events, true).await?;
    let ack = IngestAck {
        acked_seq: outcome.acked_seq.max(0) as u64,
    };
    let mut answer = serde_json::to_value(ack).expect("an ack serialises");
    if let Some(last) = last_seq {
        answer["last_seq"] = json!(last);
    }
    Ok(answer)
}

async fn heartbeat(
    state: &AppState,
    logger_id: &LoggerId,
    payload: &[u8],
) -> Result<ingest::Contact, IngestError> {
    let body: HeartbeatBody = decode(payload)?;
    same_logger(logger_id, body.logger_id.as_deref())?;
    let hb = ingest::heartbeat_fields(ingest::HeartbeatFields {
        uptime_s: body.uptime_s,
        rssi: body.rssi,
        free_heap: body.free_heap,
        queued_events: body.queued_events,
        dropped_events: body.dropped_events,
        firmware_version: body.firmware_version.as_deref(),
    })?;
    ingest::heartbeat(state, logger_id, Proof::Broker, hb).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loggers_messages_share_a_worker() {
        assert_eq!(
            worker_of("assetlog/v1/L1/events"),
            worker_of("assetlog/v1/L1/heartbeat")
        );
    }
}
