//! The logger protocol as the agent speaks it over HTTP: register, heartbeat, and batched ingest,
//! with every failed answer sorted into a [`CallError`] ([`crate::link`] turns it into the
//! `Uplink`'s outcome: back off, shrink the batch, register again).

use std::time::Duration;

use assetlog_core::{IngestAck, IngestRequest, StateChange};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

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
}

impl Client {
    /// A client for the server at `base` (no trailing slash). One client is shared by every
    /// logger of a simulator: it pools connections.
    pub fn new(base: &str, timeout: Duration) -> Self {
        install_crypto();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .tcp_nodelay(true)
            .build()
            .expect("the HTTP client builds");
        Self {
            http,
            base: base.to_owned(),
        }
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
        self.post("/api/v1/device/heartbeat", body, key).await
    }

    /// Uploads a batch; `Ok` means every event of it is durably stored.
    pub async fn ingest(
        &self,
        logger_id: &str,
        events: &[StateChange],
        key: Option<&str>,
    ) -> Result<IngestAck, CallError> {
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
        Err(match status {
            StatusCode::UNAUTHORIZED => CallError::Unauthorized(message),
            StatusCode::PAYLOAD_TOO_LARGE => CallError::TooLarge,
            s if s.is_client_error()
                && s != StatusCode::REQUEST_TIMEOUT
                && s != StatusCode::TOO_MANY_REQUESTS =>
            {
                CallError::Refused(s.as_u16(), message)
            }
            s => CallError::Unavailable(format!("{}: {message}", s.as_u16())),
        })
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

/// reqwest's errors say "error sending request"; the cause (connection refused, timed out) is
/// what an operator needs.
fn describe(e: &reqwest::Error) -> String {
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
