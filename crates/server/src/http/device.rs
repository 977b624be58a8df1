//! The logger protocol: the original paths (`/api/device/register`, `/api/device/heartbeat`,
//! `/api/asset-state`) with the original payloads, and the batched `/api/v1/ingest`.

use std::sync::Arc;

use assetlog_core::wire::{MAX_BATCH_EVENTS, check_timestamp};
use assetlog_core::{IngestAck, IngestRequest, LoggerId, Pin};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, bearer};
use crate::AppState;
use crate::config::Enrollment;
use crate::error::{ApiError, Result};
use crate::live::{LiveMessage, rfc3339};
use crate::presence::StatusChange;
use crate::secrets::{new_claim_code, new_secret};
use crate::store::{
    DeviceAuth, Heartbeat, IngestOutcome, NewEvent, Registration, RegistrationOutcome, now_ms,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/device/register", post(register))
        .route("/api/v1/device/register", post(register))
        .route("/api/device/heartbeat", post(heartbeat))
        .route("/api/v1/device/heartbeat", post(heartbeat))
        .route("/api/asset-state", post(asset_state))
        .route("/api/v1/asset-state", post(asset_state))
        .route("/api/v1/ingest", post(ingest))
}

fn parse_logger_id(raw: &str) -> Result<LoggerId> {
    LoggerId::parse(raw).map_err(|e| ApiError::bad_request("invalid_logger_id", e.to_string()))
}

fn parse_pin(n: i64) -> Result<u8> {
    Pin::new(n)
        .map(Pin::get)
        .map_err(|e| ApiError::bad_request("invalid_pin", e.to_string()))
}

fn parse_ts(ts: i64, now: i64) -> Result<i64> {
    check_timestamp(ts, now).map_err(|e| ApiError::bad_request("invalid_timestamp", e.to_string()))
}

/// A free-text field from a device: bounded, no control characters.
fn parse_text(raw: Option<String>, field: &str, max: usize) -> Result<Option<String>> {
    match raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > max || s.chars().any(char::is_control) => {
            Err(ApiError::bad_request(
                "invalid_field",
                format!("{field} must be at most {max} printable characters"),
            ))
        }
        other => Ok(other),
    }
}

/// The logger a device request comes from, proven by its key (or allowed keyless); 401 otherwise.
async fn authenticate(
    state: &AppState,
    logger_id: &LoggerId,
    headers: &HeaderMap,
) -> Result<Arc<DeviceAuth>> {
    let device = state.store.device(logger_id.as_str()).await?;
    match device {
        Some(device) if device.accepts(bearer(headers)) => Ok(device),
        Some(_) => Err(ApiError::unauthorized("wrong or missing device key")),
        None => Err(ApiError::unauthorized("unknown logger: register it first")),
    }
}

/// Records the contact, and tells the tenant when the logger comes (back) online.
/// Records a contact from a logger (a heartbeat needs nothing more).
///
/// A failure to record the end of an offline span is logged, not returned: the request's own
/// writes are committed by then and must be answered as such.
pub async fn touch(state: &AppState, device: &DeviceAuth, tenant_id: Option<i64>) -> Result<()> {
    let now = now_ms();
    if let Some(change) = state.presence.touch(device, tenant_id, now) {
        // After the monitor's write of the span's start, never before it (see `monitor`).
        let _ordered = state.transitions.lock().await;
        if let Err(e) = state.store.close_offline(device.row, now).await {
            tracing::warn!(error = %e, logger = %device.logger_id, "cannot record the end of an offline span");
        }
        publish_status(state, &change);
    }
    Ok(())
}

pub fn publish_status(state: &AppState, change: &StatusChange) {
    if let Some(tenant_id) = change.tenant_id {
        state.live.publish(
            tenant_id,
            &LiveMessage::LoggerStatus {
                logger_id: change.logger_id.clone(),
                online: change.online,
                last_seen: rfc3339(change.last_seen),
            },
        );
    }
}

#[derive(Deserialize)]
struct RegisterAsset {
    pin_number: i64,
    asset_name: String,
}

#[derive(Deserialize)]
struct RegisterBody {
    logger_id: String,
    logger_name: Option<String>,
    firmware_version: Option<String>,
    ip_address: Option<String>,
    #[serde(default)]
    assets: Vec<RegisterAsset>,
}

async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<Json<Value>> {
    let logger_id = parse_logger_id(&body.logger_id)?;
    let mut assets = Vec::with_capacity(body.assets.len());
    for a in body.assets {
        let name = parse_text(Some(a.asset_name), "asset_name", 100)?;
        let name =
            name.ok_or_else(|| ApiError::bad_request("invalid_field", "asset_name is empty"))?;
        assets.push((parse_pin(a.pin_number)?, name));
    }
    let reg = Registration {
        logger_id: logger_id.as_str().to_owned(),
        logger_name: parse_text(body.logger_name, "logger_name", 100)?,
        firmware_version: parse_text(body.firmware_version, "firmware_version", 64)?,
        ip_address: parse_text(body.ip_address, "ip_address", 64)?,
        assets,
        key: bearer(&headers).map(str::to_owned),
        new_key: new_secret("ald_"),
        new_claim_code: new_claim_code(),
        auto_claim: state.config.enrollment == Enrollment::Auto,
    };
    let new_key = reg.new_key.clone();
    let (device, claim_code, device_key) = match state.store.register(reg).await? {
        RegistrationOutcome::Created { device, claim_code } => {
            tracing::info!(logger = %device.logger_id, claimed = device.tenant_id.is_some(), "new logger registered");
            (device, claim_code, Some(new_key))
        }
        RegistrationOutcome::Known { device, claim_code } => (device, claim_code, None),
        RegistrationOutcome::Rejected => {
            return Err(ApiError::unauthorized(
                "this logger is registered already: send its device key",
            ));
        }
    };
    touch(&state, &device, device.tenant_id).await?;
    let pending = device.tenant_id.is_none();
    let mut answer = json!({
        "logger_id": device.logger_id,
        "status": if pending { "pending" } else { "claimed" },
        "heartbeat_interval_s": state.config.heartbeat_interval,
        "server_time": now_ms(),
    });
    if let Some(key) = device_key {
        answer["device_key"] = key.into();
    }
    if pending {
        answer["claim_code"] = claim_code.into();
    }
    Ok(Json(answer))
}

#[derive(Deserialize)]
struct HeartbeatBody {
    logger_id: String,
    uptime_s: Option<i64>,
    rssi: Option<i64>,
    free_heap: Option<i64>,
    queued_events: Option<i64>,
    dropped_events: Option<i64>,
    firmware_version: Option<String>,
}

async fn heartbeat(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<HeartbeatBody>,
) -> Result<Json<Value>> {
    let logger_id = parse_logger_id(&body.logger_id)?;
    for (name, value) in [
        ("uptime_s", body.uptime_s),
        ("free_heap", body.free_heap),
        ("queued_events", body.queued_events),
        ("dropped_events", body.dropped_events),
    ] {
        if value.is_some_and(|v| v < 0) {
            return Err(ApiError::bad_request(
                "invalid_field",
                format!("{name} cannot be negative"),
            ));
        }
    }
    let device = authenticate(&state, &logger_id, &headers).await?;
    let hb = Heartbeat {
        uptime_s: body.uptime_s,
        rssi: body.rssi,
        free_heap: body.free_heap,
        queued_events: body.queued_events,
        dropped_events: body.dropped_events,
        firmware_version: parse_text(body.firmware_version, "firmware_version", 64)?,
    };
    state.store.heartbeat(device.row, hb).await?;
    touch(&state, &device, device.tenant_id).await?;
    Ok(Json(json!({
        "success": true,
        "status": if device.tenant_id.is_some() { "claimed" } else { "pending" },
        "heartbeat_interval_s": state.config.heartbeat_interval,
        "server_time": now_ms(),
    })))
}

/// A JSON boolean, or 0/1 as some original firmware sends.
#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Int(i64),
}

/// RFC 3339 text or epoch milliseconds.
#[derive(Deserialize)]
#[serde(untagged)]
enum Timestamp {
    Millis(i64),
    Text(String),
}

#[derive(Deserialize)]
struct AssetStateBody {
    logger_id: String,
    pin_number: i64,
    is_running: Flag,
    timestamp: Option<Timestamp>,
    seq: Option<i64>,
    asset_name: Option<String>,
    /// Sent by the original firmware; the server computes durations itself.
    #[allow(dead_code)]
    duration: Option<Value>,
}

async fn asset_state(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AssetStateBody>,
) -> Result<Json<Value>> {
    let now = now_ms();
    let logger_id = parse_logger_id(&body.logger_id)?;
    let pin = parse_pin(body.pin_number)?;
    let running = match body.is_running {
        Flag::Bool(b) => b,
        Flag::Int(0) => false,
        Flag::Int(1) => true,
        Flag::Int(_) => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "is_running must be true/false or 1/0",
            ));
        }
    };
    let ts = match body.timestamp {
        None => now,
        Some(Timestamp::Millis(ms)) => parse_ts(ms, now)?,
        Some(Timestamp::Text(text)) => {
            let parsed = chrono::DateTime::parse_from_rfc3339(&text).map_err(|_| {
                ApiError::bad_request(
                    "invalid_timestamp",
                    "timestamp must be RFC 3339 or epoch milliseconds",
                )
            })?;
            parse_ts(parsed.timestamp_millis(), now)?
        }
    };
    if body.seq.is_some_and(|s| s < 1) {
        return Err(ApiError::bad_request(
            "invalid_seq",
            "seq must be between 1 and 2^63-1",
        ));
    }
    let asset_name = parse_text(body.asset_name, "asset_name", 100)?;
    let device = authenticate(&state, &logger_id, &headers).await?;
    let event = NewEvent {
        pin,
        running,
        ts,
        seq: body.seq,
        asset_name,
    };
    let outcome = store_and_publish(&state, &device, vec![event], false).await?;
    let (event_id, asset_id) = outcome.first.unzip();
    Ok(Json(json!({
        "success": true,
        "event_id": event_id,
        "asset_id": asset_id,
        "duplicate": outcome.duplicates > 0,
    })))
}

async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<IngestRequest>,
) -> Result<Json<IngestAck>> {
    let now = now_ms();
    let logger_id = parse_logger_id(&body.logger_id)?;
    if body.events.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("a batch carries at most {MAX_BATCH_EVENTS} events"),
        ));
    }
    let mut events = Vec::with_capacity(body.events.len());
    for (i, e) in body.events.iter().enumerate() {
        let at = |err: ApiError| match err {
            ApiError::Client {
                status,
                code,
                message,
            } => ApiError::Client {
                status,
                code,
                message: format!("events[{i}]: {message}"),
            },
            other => other,
        };
        let pin = parse_pin(e.pin.into()).map_err(at)?;
        let ts = e
            .placed(now)
            .map_err(|e| at(ApiError::bad_request("invalid_timestamp", e.to_string())))?;
        let seq = i64::try_from(e.seq)
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| {
                at(ApiError::bad_request(
                    "invalid_seq",
                    "seq must be between 1 and 2^63-1",
                ))
            })?;
        events.push(NewEvent {
            pin,
            running: e.running,
            ts,
            seq: Some(seq),
            asset_name: None,
        });
    }
    let device = authenticate(&state, &logger_id, &headers).await?;
    let outcome = store_and_publish(&state, &device, events, true).await?;
    Ok(Json(IngestAck {
        acked_seq: outcome.acked_seq.max(0) as u64,
    }))
}

/// Stores events (answering only once they are durable), then tells the tenant's dashboards.
pub async fn store_and_publish(
    state: &AppState,
    device: &Arc<DeviceAuth>,
    events: Vec<NewEvent>,
    acknowledge: bool,
) -> Result<IngestOutcome> {
    let outcome = state
        .store
        .ingest(device.clone(), events, acknowledge)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound => {
                ApiError::unauthorized("unknown logger: register it first")
            }
            other => other.into(),
        })?;
    state.metrics.events_ingested.inc_by(outcome.stored as u64);
    state
        .metrics
        .events_duplicate
        .inc_by(outcome.duplicates as u64);
    touch(state, device, outcome.tenant_id).await?;
    if let Some(tenant_id) = outcome.tenant_id {
        for change in &outcome.changes {
            state.live.publish(
                tenant_id,
                &LiveMessage::AssetStateChange {
                    asset_id: change.asset_id,
                    asset_name: change.asset_name.clone(),
                    logger_id: device.logger_id.clone(),
                    pin_number: change.pin,
                    state: assetlog_core::RunState::from_running(change.running),
                    timestamp: rfc3339(change.ts),
                    duration_ms: change.duration_ms,
                },
            );
        }
    }
    Ok(outcome)
}
