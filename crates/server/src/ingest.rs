//! The one ingest path. Whatever brings a logger's report (HTTP today, MQTT next, the demo's
//! simulated machines), it comes through here: the logger is authenticated by its key, the
//! events are checked once, stored (answered only once durable), published live to the logger's
//! tenant, counted, and the contact recorded for presence.
//!
//! Nothing here knows HTTP: the edges turn their payloads into [`NewEvent`]s with the checks
//! below and turn an [`IngestError`] into their own answer.

use crate::domain::TenantId;
use std::sync::Arc;

use assetlog_core::wire::{MAX_BATCH_EVENTS, WireEvent, check_timestamp};
use assetlog_core::{LoggerId, Pin, RunState};

use crate::AppState;
use crate::domain::{DeviceText, Refusal};
use crate::live::{LiveMessage, rfc3339};
use crate::presence::StatusChange;
use crate::store::{DeviceAuth, Heartbeat, IngestOutcome, NewEvent, StoreError, now_ms};

/// Why a report was not taken.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The report itself is malformed: nothing of it was stored.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("a batch carries at most {MAX_BATCH_EVENTS} events")]
    TooMany,
    #[error("unknown logger: register it first")]
    UnknownLogger,
    #[error("wrong or missing device key")]
    WrongKey,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = IngestError> = std::result::Result<T, E>;

/// A hardware id as a logger sends it.
pub fn logger_id(raw: &str) -> Result<LoggerId, Refusal> {
    LoggerId::parse(raw).map_err(|e| Refusal::new("invalid_logger_id", e.to_string()))
}

/// An input number as a logger sends it.
pub fn pin(n: i64) -> Result<u8, Refusal> {
    Pin::new(n)
        .map(Pin::get)
        .map_err(|e| Refusal::new("invalid_pin", e.to_string()))
}

/// A report's time, epoch ms, checked against the server's clock.
pub fn timestamp(ts: i64, now: i64) -> Result<i64, Refusal> {
    check_timestamp(ts, now).map_err(|e| Refusal::new("invalid_timestamp", e.to_string()))
}

/// A logger's sequence number: 1 to 2^63-1.
pub fn seq(n: u64) -> Result<i64, Refusal> {
    i64::try_from(n)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| Refusal::new("invalid_seq", "seq must be between 1 and 2^63-1"))
}

/// The events of a batch (`POST /api/v1/ingest`, MQTT's events topic), each checked, placed in
/// time (`age_ms` against `now`) and numbered; the first bad one refuses the whole batch.
pub fn batch(events: &[WireEvent], now: i64) -> Result<Vec<NewEvent>> {
    if events.len() > MAX_BATCH_EVENTS {
        return Err(IngestError::TooMany);
    }
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let checked = || -> Result<NewEvent, Refusal> {
                Ok(NewEvent {
                    pin: pin(e.pin.into())?,
                    running: e.running,
                    ts: e
                        .placed(now)
                        .map_err(|e| Refusal::new("invalid_timestamp", e.to_string()))?,
                    seq: Some(seq(e.seq)?),
                    asset_name: None,
                })
            };
            checked().map_err(|r| IngestError::Refused(r.at(format!("events[{i}]"))))
        })
        .collect()
}

/// A heartbeat's fields as a logger sends them (over HTTP or MQTT).
pub struct HeartbeatFields<'a> {
    pub uptime_s: Option<i64>,
    pub rssi: Option<i64>,
    pub free_heap: Option<i64>,
    pub queued_events: Option<i64>,
    pub dropped_events: Option<i64>,
    pub firmware_version: Option<&'a str>,
}

/// A heartbeat, checked: no negative counts, a firmware version of at most 64 characters.
pub fn heartbeat_fields(raw: HeartbeatFields<'_>) -> Result<Heartbeat, Refusal> {
    for (name, value) in [
        ("uptime_s", raw.uptime_s),
        ("free_heap", raw.free_heap),
        ("queued_events", raw.queued_events),
        ("dropped_events", raw.dropped_events),
    ] {
        if value.is_some_and(|v| v < 0) {
            return Err(Refusal::new(
                "invalid_field",
                format!("{name} cannot be negative"),
            ));
        }
    }
    let firmware_version = DeviceText::parse(raw.firmware_version, "firmware_version", 64)?;
    Ok(Heartbeat {
        uptime_s: raw.uptime_s,
        rssi: raw.rssi,
        free_heap: raw.free_heap,
        queued_events: raw.queued_events,
        dropped_events: raw.dropped_events,
        firmware_version: firmware_version.map(String::from),
    })
}

/// Records a logger's heartbeat and the contact, once the logger is proven.
pub async fn heartbeat(
    state: &AppState,
    logger_id: &LoggerId,
    proof: Proof<'_>,
    hb: Heartbeat,
) -> Result<Contact> {
    let mut device = authenticate(state, logger_id, proof).await?;
    if let Err(e) = state.store.heartbeat(&device, hb.clone()).await {
        // Stale credentials (another server changed them): decided again on fresh ones, once.
        let StoreError::CredentialsChanged = e else {
            return Err(e.into());
        };
        device = reauthenticate(state, logger_id, proof).await?;
        state.store.heartbeat(&device, hb).await?;
    }
    touch(state, &device, device.tenant_id).await;
    Ok(Contact {
        status: if device.tenant_id.is_some() {
            "claimed"
        } else {
            "pending"
        },
        heartbeat_interval_s: state.config.heartbeat_interval,
        server_time: crate::store::now_ms(),
    })
}

/// What a heartbeat is answered, over HTTP and MQTT.
#[derive(Debug, Clone, Copy)]
pub struct Contact {
    /// `pending` (no tenant has claimed the logger) or `claimed`.
    pub status: &'static str,
    /// How often the logger should send one.
    pub heartbeat_interval_s: u64,
    /// Epoch ms.
    pub server_time: i64,
}

/// How a report or heartbeat shows that it comes from its logger.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    /// HTTP: the device key the request carries, or none (a logger an admin allowed keyless).
    Key(Option<&'a str>),
    /// MQTT: the broker lets only the logger itself publish on its topics (see `mqtt`).
    Broker,
}

impl Proof<'_> {
    fn accepts(self, device: &DeviceAuth) -> bool {
        match self {
            Self::Key(key) => device.accepts(key),
            Self::Broker => true,
        }
    }
}

/// The logger a report comes from, proven by its key (or allowed keyless by an admin, or let
/// through by the broker).
///
/// The store remembers credentials; with other servers on the database they may be stale. So
/// remembered ones that refuse are read again before the request is refused (a key rotated on
/// another server works here at once), and what is stored under them checks them again in its
/// own transaction (see `report`). Unknown loggers are never remembered: `None` was just read.
pub async fn authenticate(
    state: &AppState,
    logger_id: &LoggerId,
    proof: Proof<'_>,
) -> Result<Arc<DeviceAuth>> {
    match state.store.device(logger_id.as_str()).await? {
        Some(device) if proof.accepts(&device) => Ok(device),
        Some(_) => reauthenticate(state, logger_id, proof).await,
        None => Err(IngestError::UnknownLogger),
    }
}

/// As `authenticate`, on credentials read again from the database.
async fn reauthenticate(
    state: &AppState,
    logger_id: &LoggerId,
    proof: Proof<'_>,
) -> Result<Arc<DeviceAuth>> {
    match state.store.reread_device(logger_id.as_str()).await? {
        Some(device) if proof.accepts(&device) => Ok(device),
        Some(_) => Err(IngestError::WrongKey),
        None => Err(IngestError::UnknownLogger),
    }
}

/// A logger's report, once the logger is proven: stored, published and counted as
/// [`store_report`] says.
///
/// With other servers on the database, the credentials it was proven with may be stale (a key
/// rotated, the logger claimed or deleted elsewhere): the store then refuses the report whole,
/// and it is decided again, once, on credentials read afresh.
pub async fn report(
    state: &AppState,
    logger_id: &LoggerId,
    proof: Proof<'_>,
    events: Vec<NewEvent>,
    acknowledge: bool,
) -> Result<IngestOutcome> {
    let device = authenticate(state, logger_id, proof).await?;
    let again = state.store.shared().then(|| events.clone());
    match (
        store_report(state, &device, events, acknowledge).await,
        again,
    ) {
        (
            Err(IngestError::Store(StoreError::CredentialsChanged) | IngestError::UnknownLogger),
            Some(events),
        ) => {
            let device = reauthenticate(state, logger_id, proof).await?;
            store_report(state, &device, events, acknowledge).await
        }
        (answer, _) => answer,
    }
}

/// Stores a proven logger's events (answering only once they are durable), tells the tenant's
/// dashboards of every change of state, and records the contact. With `acknowledge`, the answer
/// carries the logger's new watermark (the highest seq below which everything is stored).
pub async fn store_report(
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
            // Deleted since its credentials were read.
            StoreError::NotFound => IngestError::UnknownLogger,
            other => other.into(),
        })?;
    state.metrics.events_ingested.inc_by(outcome.stored as u64);
    state
        .metrics
        .events_duplicate
        .inc_by(outcome.duplicates as u64);
    touch(state, device, outcome.tenant_id).await;
    if outcome.tenant_id.is_some()
        && outcome
            .earliest
            .is_some_and(|ts| ts < now_ms() - crate::monitor::BACKFILL_AGE_MS)
    {
        state.backfilled.notify_one();
    }
    if let Some(tenant_id) = outcome.tenant_id {
        for change in &outcome.changes {
            state.live.publish(
                tenant_id,
                &LiveMessage::AssetStateChange {
                    asset_id: change.asset_id,
                    asset_name: change.asset_name.clone(),
                    logger_id: device.logger_id.clone(),
                    pin_number: change.pin,
                    state: RunState::from_running(change.running),
                    timestamp: rfc3339(change.ts),
                    duration_ms: change.duration_ms,
                },
            );
        }
    }
    Ok(outcome)
}

/// Records a contact from a logger (all a heartbeat needs), and tells the tenant when the logger
/// comes (back) online.
///
/// A failure to record the end of an offline span is logged, not returned: the request's own
/// writes are committed by then and must be answered as such.
pub async fn touch(state: &AppState, device: &DeviceAuth, tenant_id: Option<TenantId>) {
    let now = now_ms();
    let decides = *state.leads.borrow();
    if let Some(change) = state.presence.touch(device, tenant_id, now, decides) {
        // After the monitor's write of the span's start, never before it (see `monitor`).
        let _ordered = state.transitions.lock().await;
        if let Err(e) = state.store.close_offline(device.row, now).await {
            tracing::warn!(error = %e, logger = %device.logger_id, "cannot record the end of an offline span");
        }
        // With other servers, at once rather than at the next sweep: a server that takes over
        // the lead from this one must know the logger is announced online.
        if state.store.shared()
            && let Err(e) = state
                .store
                .save_contacts(vec![(device.row, change.last_seen, true)])
                .await
        {
            tracing::warn!(error = %e, logger = %device.logger_id, "cannot save that a logger is online");
        }
        publish_status(state, &change);
    }
}

/// Tells a logger's tenant (if it has one yet) that the logger went online or offline.
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
