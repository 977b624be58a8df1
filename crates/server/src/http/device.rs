//! The logger protocol: the original paths (`/api/device/register`, `/api/device/heartbeat`,
//! `/api/asset-state`) with the original payloads, and the batched `/api/v1/ingest`.

use assetlog_core::{IngestAck, IngestRequest};
use axum::Json;
use axum::extract::Request;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{ErrorBody, IngestAckSchema, IngestRequestSchema};
use super::peer::ClientAddr;
use super::{ApiJson, bearer};
use crate::AppState;
use crate::config::Enrollment;
use crate::domain::{DeviceText, Name, Refusal};
use crate::error::{ApiError, Result};
use crate::ingest::{self, Proof};
use crate::secrets::{new_claim_code, new_secret};
use crate::store::{NewEvent, Registration, RegistrationOutcome, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/api/device/register", post(register))
        .routes(routes!(register))
        .route("/api/device/heartbeat", post(heartbeat))
        .routes(routes!(heartbeat))
        .route("/api/asset-state", post(asset_state))
        .routes(routes!(asset_state))
        .routes(routes!(ingest))
        .layer(axum::middleware::from_fn(refuse_browsers))
}

/// Loggers send no `Origin`; a browser always does on a cross-origin POST. Since device bodies
/// are read whatever their content type (the original firmware sends none), a page open on any
/// plant PC could otherwise post states for a keyless logger or overwrite what a logger
/// reported about itself.
async fn refuse_browsers(request: Request, next: Next) -> Response {
    if request.headers().contains_key(header::ORIGIN) {
        return ApiError::forbidden("device endpoints are for loggers, not for browsers")
            .into_response();
    }
    next.run(request).await
}

#[derive(Deserialize, ToSchema)]
struct RegisterAsset {
    pin_number: i64,
    asset_name: String,
}

#[derive(Deserialize, ToSchema)]
struct RegisterBody {
    logger_id: String,
    logger_name: Option<String>,
    firmware_version: Option<String>,
    ip_address: Option<String>,
    #[serde(default)]
    assets: Vec<RegisterAsset>,
}

/// What a registration answers: the logger's state, and on its first registration its device
/// key (keep it: it is shown once) and, while pending, the claim code to show an admin.
#[derive(Serialize, ToSchema)]
struct RegisterAnswer {
    logger_id: String,
    /// `pending` or `claimed`.
    #[schema(value_type = String)]
    status: &'static str,
    heartbeat_interval_s: u64,
    /// Epoch ms.
    server_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claim_code: Option<String>,
}

/// A logger says who it is and which inputs it has; the first time it gets its device key.
/// Registering again needs that key.
#[utoipa::path(
    post,
    path = "/api/v1/device/register",
    tag = "device",
    security((), ("device_key" = [])),
    request_body = RegisterBody,
    responses(
        (status = 200, description = "Registered", body = RegisterAnswer),
        (status = 401, description = "Registered already: send its device key", body = ErrorBody),
        (status = 403, description = "Sent by a browser (an `Origin` header)", body = ErrorBody),
        (status = 429, description = "Too many pending loggers or assets (`Retry-After`)", body = ErrorBody),
    )
)]
async fn register(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<Json<RegisterAnswer>> {
    let logger_id = ingest::logger_id(&body.logger_id)?;
    let mut assets = Vec::with_capacity(body.assets.len());
    for a in body.assets {
        let name = DeviceText::parse(Some(&a.asset_name), "asset_name", Name::MAX)?
            .ok_or_else(|| Refusal::new("invalid_field", "asset_name is empty"))?;
        assets.push((ingest::pin(a.pin_number)?, name.into_string()));
    }
    let text = |raw: Option<String>, field, max| {
        DeviceText::parse(raw.as_deref(), field, max).map(|t| t.map(String::from))
    };
    let reg = Registration {
        logger_id: logger_id.as_str().to_owned(),
        logger_name: text(body.logger_name, "logger_name", Name::MAX)?,
        firmware_version: text(body.firmware_version, "firmware_version", 64)?,
        ip_address: text(body.ip_address, "ip_address", 64)?,
        assets,
        key: bearer(&headers).map(str::to_owned),
        new_key: new_secret("ald_"),
        new_claim_code: new_claim_code(),
        auto_claim: state.config.enrollment == Enrollment::Auto,
        remote_address: Some(client.to_string()),
    };
    let new_key = reg.new_key.clone();
    let sent_key = reg.key.clone();
    let (device, claim_code, device_key) = match state.store.register(reg).await? {
        RegistrationOutcome::Created { device, claim_code } => {
            tracing::info!(logger = %device.logger_id, claimed = device.tenant_id.is_some(), "new logger registered");
            crate::mqtt::keyed(&state, &device.logger_id, &new_key).await;
            (device, claim_code, Some(new_key))
        }
        RegistrationOutcome::Known { device, claim_code } => {
            // Known by its key (checked by the store), or keyless: only a key goes to the broker.
            if let Some(key) = sent_key.as_deref() {
                crate::mqtt::keyed(&state, &device.logger_id, key).await;
            }
            (device, claim_code, None)
        }
        RegistrationOutcome::Rejected => {
            return Err(ApiError::unauthorized(
                "this logger is registered already: send its device key",
            ));
        }
    };
    ingest::touch(&state, &device, device.tenant_id).await;
    let pending = device.tenant_id.is_none();
    Ok(Json(RegisterAnswer {
        logger_id: device.logger_id.clone(),
        status: if pending { "pending" } else { "claimed" },
        heartbeat_interval_s: state.config.heartbeat_interval,
        server_time: now_ms(),
        device_key,
        claim_code: pending.then_some(claim_code),
    }))
}

#[derive(Deserialize, ToSchema)]
struct HeartbeatBody {
    logger_id: String,
    uptime_s: Option<i64>,
    rssi: Option<i64>,
    free_heap: Option<i64>,
    queued_events: Option<i64>,
    dropped_events: Option<i64>,
    firmware_version: Option<String>,
}

/// What a heartbeat answers.
#[derive(Serialize, ToSchema)]
struct HeartbeatAnswer {
    success: bool,
    /// `pending` or `claimed`.
    #[schema(value_type = String)]
    status: &'static str,
    heartbeat_interval_s: u64,
    /// Epoch ms.
    server_time: i64,
}

/// A logger's health: uptime, signal, memory, queue.
#[utoipa::path(
    post,
    path = "/api/v1/device/heartbeat",
    tag = "device",
    security((), ("device_key" = [])),
    request_body = HeartbeatBody,
    responses(
        (status = 200, description = "Noted", body = HeartbeatAnswer),
        (status = 401, description = "Unknown logger or wrong key", body = ErrorBody),
        (status = 403, description = "Sent by a browser (an `Origin` header)", body = ErrorBody),
    )
)]
async fn heartbeat(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<HeartbeatBody>,
) -> Result<Json<HeartbeatAnswer>> {
    let logger_id = ingest::logger_id(&body.logger_id)?;
    let hb = ingest::heartbeat_fields(ingest::HeartbeatFields {
        uptime_s: body.uptime_s,
        rssi: body.rssi,
        free_heap: body.free_heap,
        queued_events: body.queued_events,
        dropped_events: body.dropped_events,
        firmware_version: body.firmware_version.as_deref(),
    })?;
    let proof = Proof::Key(bearer(&headers));
    let contact = ingest::heartbeat(&state, &logger_id, proof, hb).await?;
    Ok(Json(HeartbeatAnswer {
        success: true,
        status: contact.status,
        heartbeat_interval_s: contact.heartbeat_interval_s,
        server_time: contact.server_time,
    }))
}

/// A JSON boolean, or 0/1 as some original firmware sends.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Int(i64),
}

/// RFC 3339 text or epoch milliseconds.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
enum Timestamp {
    Millis(i64),
    Text(String),
}

#[derive(Deserialize, ToSchema)]
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

/// What one state report answers; `duplicate` when its seq was stored before.
#[derive(Serialize, ToSchema)]
struct AssetStateAnswer {
    success: bool,
    event_id: Option<i64>,
    #[schema(value_type = Option<i64>)]
    asset_id: Option<crate::domain::AssetId>,
    duplicate: bool,
}

/// One state change, in the original firmware's format.
#[utoipa::path(
    post,
    path = "/api/v1/asset-state",
    tag = "device",
    security((), ("device_key" = [])),
    request_body = AssetStateBody,
    responses(
        (status = 200, description = "Stored (or a duplicate)", body = AssetStateAnswer),
        (status = 401, description = "Unknown logger or wrong key", body = ErrorBody),
        (status = 403, description = "Sent by a browser (an `Origin` header)", body = ErrorBody),
        (status = 429, description = "A pending logger's cap is reached (`Retry-After`)", body = ErrorBody),
    )
)]
async fn asset_state(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AssetStateBody>,
) -> Result<Json<AssetStateAnswer>> {
    let now = now_ms();
    let logger_id = ingest::logger_id(&body.logger_id)?;
    let pin = ingest::pin(body.pin_number)?;
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
        Some(Timestamp::Millis(ms)) => ingest::timestamp(ms, now)?,
        Some(Timestamp::Text(text)) => {
            let parsed = chrono::DateTime::parse_from_rfc3339(&text).map_err(|_| {
                ApiError::bad_request(
                    "invalid_timestamp",
                    "timestamp must be RFC 3339 or epoch milliseconds",
                )
            })?;
            ingest::timestamp(parsed.timestamp_millis(), now)?
        }
    };
    let seq = match body.seq {
        Some(n) => Some(ingest::seq(u64::try_from(n).unwrap_or(0))?),
        None => None,
    };
    let asset_name = DeviceText::parse(body.asset_name.as_deref(), "asset_name", Name::MAX)?;
    let event = NewEvent {
        pin,
        running,
        ts,
        seq,
        asset_name: asset_name.map(String::from),
    };
    let proof = Proof::Key(bearer(&headers));
    let outcome = ingest::report(&state, &logger_id, proof, vec![event], false).await?;
    let (event_id, asset_id) = outcome.first.unzip();
    Ok(Json(AssetStateAnswer {
        success: true,
        event_id,
        asset_id,
        duplicate: outcome.duplicates > 0,
    }))
}

/// A batch of up to 1000 state changes; the answer acknowledges every seq up to `acked_seq`.
#[utoipa::path(
    post,
    path = "/api/v1/ingest",
    tag = "device",
    security((), ("device_key" = [])),
    request_body = IngestRequestSchema,
    responses(
        (status = 200, description = "Stored", body = IngestAckSchema),
        (status = 401, description = "Unknown logger or wrong key", body = ErrorBody),
        (status = 403, description = "Sent by a browser (an `Origin` header)", body = ErrorBody),
        (status = 413, description = "More than 1000 events", body = ErrorBody),
        (status = 429, description = "A pending logger's cap is reached (`Retry-After`)", body = ErrorBody),
    )
)]
async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<IngestRequest>,
) -> Result<Json<IngestAck>> {
    let logger_id = ingest::logger_id(&body.logger_id)?;
    let events = ingest::batch(&body.events, now_ms())?;
    let proof = Proof::Key(bearer(&headers));
    let outcome = ingest::report(&state, &logger_id, proof, events, true).await?;
    Ok(Json(IngestAck {
        acked_seq: outcome.acked_seq.max(0) as u64,
    }))
}
