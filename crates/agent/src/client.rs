//! The logger protocol as the agent speaks it over HTTP: register, heartbeat, and batched ingest,
//! with every failed answer sorted into a [`CallError`] ([`crate::link`] turns it into the
//! `Uplink`'s outcome: back off, shrink the batch, register again). With `uplink = "mqtt"`,
//! heartbeats and batches go through the broker instead ([`crate::mqtt`]); registration, and
//! the empty upload that asks for the watermark after it, stay HTTP.

use std::time::Duration;

use assetlog_core::{IngestAck, IngestRequest, StateChange};
use serde::{Deserialize, Serialize};

use crate::tls::ServerTrust;

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// 401: the key is wrong, revoked or rotated, or the logger is unknown or deleted.
    Unauthorized(String),
    /// 413: the batch is too large for one request.
    TooLarge,
    /// Another 4xx: the server refuses the request as it is.
    Refused(u16, String),
    /// 5xx, a timeout, a refused connection: try again later.
    Unavailable(String),
}

impl CallError {
    /// The error of an answer with an HTTP `status` other than 2xx.
    pub fn from_status(status: u16, message: String) -> Self {
        match status {
            401 => Self::Unauthorized(message),
            413 => Self::TooLarge,
            408 | 429 => Self::Unavailable(format!("{status}: {message}")),
            400..=499 => Self::Refused(status, message),
            _ => Self::Unavailable(format!("{status}: {message}")),
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unauthorized(m) => write!(f, "401 unauthorized: {m}"),
            Self::TooLarge => write!(f, "413: the batch is too large"),
            Self::Refused(code, m) => write!(f, "{code}: {m}"),
            Self::Unavailable(m) => write!(f, "server unavailable: {m}"),
        }
    }
}

pub use assetlog_core::wire::{
    AssetName, HeartbeatAnswer, HeartbeatRequest, RegisterAnswer, RegisterRequest,
};

/// What the agent reports as its firmware version.
pub fn agent_version() -> String {
    format!("assetlog-agent {}", env!("CARGO_PKG_VERSION"))
}

/// Makes ring the process's TLS crypto (once; later calls change nothing): every reqwest client
/// of the process needs one.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    /// Where heartbeats and batches go with `uplink = "mqtt"`.
    mqtt: Option<std::sync::Arc<crate::mqtt::Broker>>,
}

impl Client {
    /// A client for the server at `base` (no trailing slash), checking an `https://` server
    /// as `trust` says. One client is shared by every logger of a simulator: it pools
    /// connections. The error (a CA file that cannot be read, say) is one line for the operator.
    pub fn new(base: &str, timeout: Duration, trust: &ServerTrust) -> Result<Self, String> {
        install_crypto();
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .tcp_nodelay(true);
        if base.starts_with("https://") {
            builder = builder.tls_backend_preconfigured(crate::tls::client_config(trust)?);
        }
        let http = builder
            .build()
            .map_err(|e| format!("the HTTP client: {}", describe(&e)))?;
        Ok(Self {
            http,
            base: base.to_owned(),
            mqtt: None,
        })
    }

    /// Heartbeats and batches through the MQTT broker at `host:port` from now on.
    pub fn over_mqtt(mut self, host: &str, port: u16, timeout: Duration) -> Self {
        self.mqtt = Some(std::sync::Arc::new(crate::mqtt::Broker::new(
            host, port, timeout,
        )));
        self
    }

    pub async fn register(
        &self,
        body: &RegisterRequest,
        key: Option<&str>,
    ) -> Result<RegisterAnswer, CallError> {
        self.post("/api/v1/device/register", body, key).await
    }

    pub async fn heartbeat(
        &self,
        body: &HeartbeatRequest,
        key: Option<&str>,
    ) -> Result<HeartbeatAnswer, CallError> {
        if let Some(broker) = &self.mqtt {
            return broker.heartbeat(body, key).await;
        }
        self.post("/api/v1/device/heartbeat", body, key).await
    }

    /// Uploads a batch; `Ok` means every event of it is durably stored.
    pub async fn ingest(
        &self,
        logger_id: &str,
        events: &[StateChange],
        key: Option<&str>,
    ) -> Result<IngestAck, CallError> {
        if let Some(broker) = &self.mqtt
            && !events.is_empty()
        {
            return broker.ingest(logger_id, events, key).await;
        }
        let body = IngestRequest {
            logger_id: logger_id.to_owned(),
            events: events.iter().copied().map(Into::into).collect(),
        };
        self.post("/api/v1/ingest", &body, key).await
    }

    async fn post<B: Serialize, A: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: &B,
        key: Option<&str>,
    ) -> Result<A, CallError> {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| CallError::Unavailable(describe(&e)))?;
        let status = resp.status();
        if status.is_success() {
            return resp.json().await.map_err(|e| {
                CallError::Unavailable(format!("unreadable answer: {}", describe(&e)))
            });
        }
        let message = resp
            .json::<ErrorBody>()
            .await
            .map(|b| b.error.message)
            .unwrap_or_else(|_| status.to_string());
        Err(CallError::from_status(status.as_u16(), message))
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
}

/// reqwest's errors say "error sending request"; the cause (connection refused, timed out, the
/// server's certificate expired) is what an operator needs.
fn describe(e: &reqwest::Error) -> String {
    if let Some(tls) = crate::tls::explain(e) {
        return tls;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// A seed for jitter that differs between processes and loggers.
pub fn seed_from(extra: &str) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut h = nanos ^ u64::from(std::process::id()).rotate_left(32);
    for b in extra.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}
