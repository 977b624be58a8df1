//! The logger protocol's uploads over MQTT (`uplink = "mqtt"`): batches and heartbeats published
//! to the logger's own topics at the plant's broker, each answered by assetlog on the logger's
//! `ack` or `error` topic (docs/API.md, docs/MQTT.md). Registration stays HTTP: it is how the
//! logger gets the key that is also its broker password.
//!
//! One session per logger: the broker knows the logger by its id and key, so a new key (after a
//! registration) means a new session. A call publishes with QoS 1 and waits for assetlog's
//! answer; the broker's PUBACK only says the broker has it. A batch is released on an ack that
//! names that batch (`last_seq`), never before. A refused connection is a refused key
//! ([`CallError::Unauthorized`]): the link registers again, which gives the broker the key.

use std::time::Duration;

use assetlog_core::{IngestAck, IngestRequest, StateChange};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS,
    SubscribeReasonCode,
};
use serde_json::Value;
use tokio::sync::{Mutex, mpsc};

use crate::client::{CallError, HeartbeatAnswer, HeartbeatRequest};

/// The largest message either side sends: as the server reads (a 1,000-event batch is ~70 kB).
const MAX_PACKET_BYTES: usize = 1 << 20;

/// The broker of `mqtt://HOST:PORT`, and the session of the logger that uses it.
#[derive(Debug)]
pub struct Broker {
    host: String,
    port: u16,
    /// How long a connection, and an answer from assetlog, may take.
    timeout: Duration,
    session: Mutex<Option<Session>>,
}

struct Session {
    logger_id: String,
    key: String,
    client: AsyncClient,
    answers: mpsc::UnboundedReceiver<Answer>,
    poller: tokio::task::JoinHandle<()>,
}

/// Without the key.
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("logger_id", &self.logger_id)
            .finish_non_exhaustive()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

/// What arrives on the logger's topics, or that the connection ended.
#[derive(Debug)]
enum Answer {
    Ack(Value),
    Error(Value),
    Closed(String),
}

fn topic(logger_id: &str, kind: &str) -> String {
    format!("assetlog/v1/{logger_id}/{kind}")
}

impl Broker {
    pub fn new(host: &str, port: u16, timeout: Duration) -> Self {
        Self {
            host: host.to_owned(),
            port,
            timeout,
            session: Mutex::new(None),
        }
    }

    /// Publishes a heartbeat; its answer is assetlog's, as over HTTP.
    pub async fn heartbeat(
        &self,
        body: &HeartbeatRequest,
        key: Option<&str>,
    ) -> Result<HeartbeatAnswer, CallError> {
        let payload = serde_json::to_vec(body).expect("a heartbeat serialises");
        // At most once: a heartbeat is news only now, so the broker keeps none for later.
        let answer = self
            .call(
                &body.logger_id,
                key,
                "heartbeat",
                QoS::AtMostOnce,
                payload,
                None,
                |ack| ack.get("status").is_some(),
            )
            .await?;
        serde_json::from_value(answer)
            .map_err(|e| CallError::Unavailable(format!("an unreadable heartbeat answer: {e}")))
    }

    /// Publishes a batch; `Ok` once assetlog has stored every event of it.
    pub async fn ingest(
        &self,
        logger_id: &str,
        events: &[StateChange],
        key: Option<&str>,
    ) -> Result<IngestAck, CallError> {
        let last = events.iter().map(|e| e.seq).max().unwrap_or(0);
        let body = IngestRequest {
            logger_id: logger_id.to_owned(),
            events: events.iter().copied().map(Into::into).collect(),
        };
        let payload = serde_json::to_vec(&body).expect("a batch serialises");
        let answer = self
            .call(
                logger_id,
                key,
                "events",
                QoS::AtLeastOnce,
                payload,
                Some(last),
                |ack| ack.get("last_seq").and_then(Value::as_u64) == Some(last),
            )
            .await?;
        serde_json::from_value(answer)
            .map_err(|e| CallError::Unavailable(format!("an unreadable ack: {e}")))
    }

    /// Publishes `payload` on the logger's `kind` topic and waits for the ack that `answers` it,
    /// or the error that names the same `last_seq` (none for a heartbeat): an answer to an
    /// earlier message is not this one's.
    #[allow(clippy::too_many_arguments)]
    async fn call(
        &self,
        logger_id: &str,
        key: Option<&str>,
        kind: &str,
        qos: QoS,
        payload: Vec<u8>,
        last_seq: Option<u64>,
        answers: impl Fn(&Value) -> bool,
    ) -> Result<Value, CallError> {
        let key = key.unwrap_or_default();
        let mut slot = self.session.lock().await;
        let current = slot
            .as_ref()
            .is_some_and(|s| s.logger_id == logger_id && s.key == key && !s.poller.is_finished());
        if !current {
            *slot = None;
            *slot = Some(self.connect(logger_id, key).await?);
        }
        let session = slot.as_mut().expect("connected above");
        // Answers to earlier calls that came after their wait ended are not this one's.
        while let Ok(stale) = session.answers.try_recv() {
            if let Answer::Closed(why) = stale {
                *slot = None;
                return Err(CallError::Unavailable(why));
            }
        }
        if let Err(e) = session
            .client
            .publish(topic(logger_id, kind), qos, false, payload)
            .await
        {
            *slot = None;
            return Err(CallError::Unavailable(format!("cannot publish: {e}")));
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, session.answers.recv()).await;
            match next {
                Err(_) => {
                    return Err(CallError::Unavailable(format!(
                        "no answer from assetlog through the broker within {} ms",
                        self.timeout.as_millis()
                    )));
                }
                Ok(Some(Answer::Ack(ack))) if answers(&ack) => return Ok(ack),
                Ok(Some(Answer::Ack(_))) => {}
                Ok(Some(Answer::Error(error)))
                    if error.get("last_seq").and_then(Value::as_u64) == last_seq =>
                {
                    return Err(refusal(&error));
                }
                Ok(Some(Answer::Error(_))) => {}
                Ok(closed) => {
                    let why = match closed {
                        Some(Answer::Closed(why)) => why,
                        _ => "the connection ended".to_owned(),
                    };
                    *slot = None;
                    return Err(CallError::Unavailable(format!(
                        "the broker closed the connection: {why}"
                    )));
                }
            }
        }
    }

    /// Connects as the logger, subscribes to its answers and hands them on from then on.
    async fn connect(&self, logger_id: &str, key: &str) -> Result<Session, CallError> {
        let mut options = MqttOptions::new(logger_id, &self.host, self.port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_session(true)
            .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES)
            .set_credentials(logger_id, key);
        let (client, mut eventloop) = AsyncClient::new(options, 16);
        // Without it, Nagle's algorithm holds a small message back for the ACK of the one before.
        let mut network = rumqttc::NetworkOptions::new();
        network.set_tcp_nodelay(true);
        eventloop.set_network_options(network);
        let (ack, error) = (topic(logger_id, "ack"), topic(logger_id, "error"));
        for t in [&ack, &error] {
            client
                .subscribe(t.as_str(), QoS::AtLeastOnce)
                .await
                .map_err(|e| CallError::Unavailable(format!("cannot subscribe: {e}")))?;
        }
        let address = format!("{}:{}", self.host, self.port);
        let ready = tokio::time::timeout(self.timeout, subscribed(&mut eventloop, 2)).await;
        match ready {
            Err(_) => {
                return Err(CallError::Unavailable(format!(
                    "the MQTT broker at {address} did not answer within {} ms",
                    self.timeout.as_millis()
                )));
            }
            Ok(Err(ConnectionError::ConnectionRefused(
                ConnectReturnCode::NotAuthorized | ConnectReturnCode::BadUserNamePassword,
            ))) => {
                return Err(CallError::Unauthorized(format!(
                    "the MQTT broker at {address} refused the logger's id and key"
                )));
            }
            Ok(Err(e)) => {
                return Err(CallError::Unavailable(format!(
                    "the MQTT broker at {address}: {e}"
                )));
            }
            Ok(Ok(false)) => {
                return Err(CallError::Unauthorized(format!(
                    "the MQTT broker at {address} does not let the logger read its answers"
                )));
            }
            Ok(Ok(true)) => {}
        }
        let (tx, answers) = mpsc::unbounded_channel();
        let poller = tokio::spawn(hand_on(eventloop, ack, error, tx));
        Ok(Session {
            logger_id: logger_id.to_owned(),
            key: key.to_owned(),
            client,
            answers,
            poller,
        })
    }
}

/// Polls until `count` subscriptions are answered: whether the broker granted them all.
async fn subscribed(eventloop: &mut EventLoop, count: usize) -> Result<bool, ConnectionError> {
    let mut answered = 0;
    loop {
        if let Event::Incoming(Packet::SubAck(ack)) = eventloop.poll().await? {
            if ack.return_codes.contains(&SubscribeReasonCode::Failure) {
                return Ok(false);
            }
            answered += ack.return_codes.len();
            if answered >= count {
                return Ok(true);
            }
        }
    }
}

/// Reads the connection until it ends, handing assetlog's answers to the session.
async fn hand_on(
    mut eventloop: EventLoop,
    ack: String,
    error: String,
    answers: mpsc::UnboundedSender<Answer>,
) {
    loop {
        let answer = match eventloop.poll().await {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let body = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                if p.topic == ack {
                    Answer::Ack(body)
                } else if p.topic == error {
                    Answer::Error(body)
                } else {
                    continue;
                }
            }
            Ok(_) => continue,
            Err(e) => {
                let _ = answers.send(Answer::Closed(e.to_string()));
                return;
            }
        };
        if answers.send(answer).is_err() {
            return;
        }
    }
}

/// assetlog's `{error: {code, message, status}}`, sorted as its HTTP answer would be.
fn refusal(body: &Value) -> CallError {
    let error = &body["error"];
    let message = error["message"]
        .as_str()
        .unwrap_or("refused without a message")
        .to_owned();
    let status = error["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(500);
    CallError::from_status(status, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_error_is_sorted_by_the_status_http_would_have_answered() {
        let error =
            |status: u64| json!({"error": {"code": "x", "message": "why", "status": status}});
        assert_eq!(refusal(&error(401)), CallError::Unauthorized("why".into()));
        assert_eq!(refusal(&error(413)), CallError::TooLarge);
        assert_eq!(refusal(&error(422)), CallError::Refused(422, "why".into()));
        assert!(matches!(refusal(&error(429)), CallError::Unavailable(_)));
        assert!(matches!(refusal(&error(503)), CallError::Unavailable(_)));
        assert!(matches!(refusal(&json!({})), CallError::Unavailable(_)));
    }
}
