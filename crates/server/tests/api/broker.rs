//! The test broker (`tests/support/mosquitto.rs`, shared with the agent's tests), and an MQTT
//! client for the tests: a logger, an intruder, an observer.

use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS,
};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

#[path = "../support/mosquitto.rs"]
mod mosquitto;
pub use mosquitto::*;

/// Points a server's configuration at the broker, as assetlog's admin account.
pub fn configure(
    config: &mut assetlog_server::config::ServeConfig,
    broker: &Broker,
    client_id: &str,
) {
    config.mqtt_url = Some(broker.url());
    config.mqtt_username = Some(ADMIN.into());
    config.mqtt_password_file = Some(broker.password_file());
    config.mqtt_client_id = Some(client_id.into());
}

/// A message a peer received.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub body: Value,
}

/// An MQTT client of the test broker.
pub struct Peer {
    pub client: AsyncClient,
    received: mpsc::UnboundedReceiver<Received>,
    /// Messages published, and (from the poller) how many the broker has acknowledged.
    published: std::sync::atomic::AtomicU64,
    pubacks: watch::Receiver<u64>,
    _poller: tokio::task::JoinHandle<()>,
}

/// How a connection attempt ended.
pub async fn try_connect(
    port: u16,
    client_id: &str,
    credentials: Option<(&str, &str)>,
) -> Result<Peer, ConnectReturnCode> {
    let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
    // Beyond assetlog's 1 MiB, to send it a message it must refuse.
    options.set_max_packet_size(4 << 20, 4 << 20);
    options.set_keep_alive(Duration::from_secs(30));
    if let Some((user, password)) = credentials {
        options.set_credentials(user, password);
    }
    let (client, mut eventloop) = AsyncClient::new(options, 1024);
    match tokio::time::timeout(Duration::from_secs(10), eventloop.poll()).await {
        Ok(Ok(Event::Incoming(Packet::ConnAck(ack)))) if ack.code == ConnectReturnCode::Success => {
        }
        Ok(Err(ConnectionError::ConnectionRefused(code))) => return Err(code),
        other => panic!("connect to the broker: {other:?}"),
    }
    let (tx, received) = mpsc::unbounded_channel();
    let (pubacks_tx, pubacks) = watch::channel(0);
    let poller = tokio::spawn(poll(eventloop, tx, pubacks_tx));
    Ok(Peer {
        client,
        received,
        published: Default::default(),
        pubacks,
        _poller: poller,
    })
}

async fn poll(
    mut eventloop: EventLoop,
    tx: mpsc::UnboundedSender<Received>,
    pubacks: watch::Sender<u64>,
) {
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::PubAck(_))) => pubacks.send_modify(|n| *n += 1),
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let body = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                if tx
                    .send(Received {
                        topic: p.topic,
                        body,
                    })
                    .is_err()
                {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let _ = tx.send(Received {
                    topic: "$suback".into(),
                    body: serde_json::json!(format!("{:?}", ack.return_codes)),
                });
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

impl Peer {
    pub async fn connect(port: u16, client_id: &str, user: &str, password: &str) -> Self {
        try_connect(port, client_id, Some((user, password)))
            .await
            .unwrap_or_else(|code| panic!("{user} connects: {code:?}"))
    }

    /// A logger: its own credentials, its ack and error topics subscribed.
    pub async fn logger(port: u16, logger_id: &str, key: &str) -> Self {
        let mut peer = Self::connect(port, logger_id, logger_id, key).await;
        for topic in ["ack", "error"] {
            peer.subscribe(&format!("assetlog/v1/{logger_id}/{topic}"))
                .await;
        }
        peer
    }

    /// Subscribes and waits for the broker's answer, which it returns (`[Success(..)]` or
    /// `[Failure]`).
    pub async fn subscribe(&mut self, topic: &str) -> String {
        self.client
            .subscribe(topic, QoS::AtLeastOnce)
            .await
            .expect("subscribe");
        let ack = self.next_on("$suback").await;
        ack.as_str().unwrap().to_owned()
    }

    pub async fn publish(&self, topic: &str, body: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, body)
            .await
            .expect("publish");
        self.published
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Waits until the broker has acknowledged (PUBACK) everything this peer published: it
    /// holds it, for its subscribers, even when none is connected.
    pub async fn flushed(&mut self) {
        let published = self.published.load(std::sync::atomic::Ordering::Relaxed);
        tokio::time::timeout(
            Duration::from_secs(20),
            self.pubacks.wait_for(|n| *n >= published),
        )
        .await
        .expect("the broker acknowledged within 20 s")
        .expect("the connection is open");
    }

    /// The next message received, within 20 s.
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(20), self.received.recv())
            .await
            .expect("a message within 20 s")
            .expect("the connection is open")
    }

    /// Waits until the broker has closed this peer's connection (within 20 s).
    pub async fn closed(&mut self) {
        let closed = async { while self.received.recv().await.is_some() {} };
        tokio::time::timeout(Duration::from_secs(20), closed)
            .await
            .expect("the broker closed the connection within 20 s");
    }

    /// The body of the next message on `topic` (others before it are dropped).
    pub async fn next_on(&mut self, topic: &str) -> Value {
        loop {
            let m = self.next().await;
            if m.topic == topic {
                return m.body;
            }
        }
    }

    /// Waits for an ack of at least `seq` from assetlog; panics on an error message.
    pub async fn acked(&mut self, logger_id: &str, seq: u64) -> u64 {
        loop {
            let m = self.next().await;
            if m.topic == format!("assetlog/v1/{logger_id}/error") {
                panic!("assetlog refused: {}", m.body);
            }
            if m.topic == format!("assetlog/v1/{logger_id}/ack") {
                // (A heartbeat's answer has none.)
                if let Some(acked) = m.body["acked_seq"].as_u64()
                    && acked >= seq
                {
                    return acked;
                }
            }
        }
    }

    /// The next error message for this logger.
    pub async fn error(&mut self, logger_id: &str) -> Value {
        let topic = format!("assetlog/v1/{logger_id}/error");
        loop {
            let m = self.next().await;
            if m.topic == topic {
                return m.body["error"].clone();
            }
            assert_ne!(
                m.topic,
                format!("assetlog/v1/{logger_id}/ack"),
                "an ack where an error was due: {}",
                m.body
            );
        }
    }
}

/// A batch body of events `first..=last` on pin 1, alternating, one second apart from `t0`.
pub fn batch(first: u64, last: u64, t0: i64) -> String {
    let events: Vec<Value> = (first..=last)
        .map(|seq| {
            serde_json::json!({
                "seq": seq, "pin": 1, "running": seq % 2 == 1, "ts": t0 + seq as i64 * 1000
            })
        })
        .collect();
    serde_json::json!({ "events": events }).to_string()
}
