//! The logger protocol's batched payloads (`POST /api/v1/ingest`) and the limits every path shares.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Most events one ingest batch may carry.
pub const MAX_BATCH_EVENTS: usize = 1000;

/// Earliest accepted event time: 2000-01-01T00:00:00Z in epoch milliseconds. Anything older is a
/// logger whose clock was never set.
pub const MIN_TS_MS: i64 = 946_684_800_000;

/// How far ahead of the server's clock an event time may be.
pub const MAX_FUTURE_MS: i64 = 5 * 60 * 1000;

/// One RUNNING/STOPPED change of one input, as a logger queues and uploads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    /// The logger's sequence number for this change: 1, 2, 3, … with no reuse.
    pub seq: u64,
    /// The input pin.
    pub pin: u8,
    /// The new state.
    pub running: bool,
    /// When the change happened, epoch milliseconds UTC (the logger's clock, not the upload time).
    pub ts: i64,
}

/// One event of an ingest batch as it travels: a [`StateChange`] whose time is either `ts` (epoch
/// ms UTC) or, from a logger whose clock is not set yet, `age_ms` (how long before the upload the
/// change happened; the server places it at its receive time minus the age). Exactly one of the
/// two is present: see [`timebase`](crate::timebase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEvent {
    pub seq: u64,
    pub pin: u8,
    pub running: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_ms: Option<u64>,
}

impl From<StateChange> for WireEvent {
    fn from(e: StateChange) -> Self {
        Self {
            seq: e.seq,
            pin: e.pin,
            running: e.running,
            ts: Some(e.ts),
            age_ms: None,
        }
    }
}

impl WireEvent {
    /// The event's time on the receiver's clock (`received_ms`), checked against the accepted
    /// range.
    pub fn placed(&self, received_ms: i64) -> Result<i64, TimestampError> {
        let ts = match (self.ts, self.age_ms) {
            (Some(ts), None) => ts,
            (None, Some(age)) => received_ms.saturating_sub(i64::try_from(age).unwrap_or(i64::MAX)),
            (None, None) => return Err(TimestampError::Missing),
            (Some(_), Some(_)) => return Err(TimestampError::Both),
        };
        check_timestamp(ts, received_ms)
    }
}

/// `POST /api/v1/ingest` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestRequest {
    pub logger_id: String,
    #[serde(deserialize_with = "objects")]
    pub events: Vec<WireEvent>,
}

/// `T` read only from a map (a JSON object). serde's derived structs also take a sequence of
/// their fields in order (`[seq, pin, running, ts]`), which no logger sends and which a wrong
/// client would get stored without a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectOnly<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Map<T>(core::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Map<T> {
            type Value = T;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Map(core::marker::PhantomData))
            .map(ObjectOnly)
    }
}

/// A list of objects, each read as [`ObjectOnly`].
fn objects<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    let list = Vec::<ObjectOnly<T>>::deserialize(d)?;
    Ok(list.into_iter().map(|o| o.0).collect())
}

/// `POST /api/v1/ingest` answer: every seq of this logger up to `acked_seq` is durably stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestAck {
    pub acked_seq: u64,
}

/// `POST /api/v1/device/register` body, as loggers send it (the server reads the original
/// firmware's payload too, where more is optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub logger_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger_name: Option<String>,
    pub firmware_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default)]
    pub assets: Vec<AssetName>,
}

/// The name a logger gives the machine on one of its inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetName {
    pub pin_number: u8,
    pub asset_name: String,
}

/// The register answer's fields a logger uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterAnswer {
    /// `"pending"` or `"claimed"`.
    pub status: String,
    #[serde(default)]
    pub heartbeat_interval_s: Option<u64>,
    /// Only in the answer that created the logger: keep it, it is never shown again.
    #[serde(default)]
    pub device_key: Option<String>,
    /// While pending: show it, an admin claims the logger with it.
    #[serde(default)]
    pub claim_code: Option<String>,
}

impl RegisterAnswer {
    pub fn is_claimed(&self) -> bool {
        self.status == "claimed"
    }
}

/// `POST /api/v1/device/heartbeat` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    pub logger_id: String,
    pub uptime_s: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rssi: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_heap: Option<u64>,
    pub queued_events: u64,
    /// Events the logger's full queue dropped unsent, since it was set up.
    pub dropped_events: u64,
    pub firmware_version: String,
}

/// The heartbeat answer's fields a logger uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAnswer {
    /// `"pending"` or `"claimed"`.
    pub status: String,
    #[serde(default)]
    pub heartbeat_interval_s: Option<u64>,
}

impl HeartbeatAnswer {
    pub fn is_claimed(&self) -> bool {
        self.status == "claimed"
    }
}

/// Why an event time is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampError {
    BeforeYear2000,
    InTheFuture,
    /// An ingest event with neither `ts` nor `age_ms`.
    Missing,
    /// An ingest event with both `ts` and `age_ms`.
    Both,
}

impl core::fmt::Display for TimestampError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BeforeYear2000 => write!(f, "timestamp is before 2000-01-01"),
            Self::InTheFuture => write!(
                f,
                "timestamp is more than 5 minutes ahead of the server clock"
            ),
            Self::Missing => write!(f, "an event needs ts (epoch ms) or age_ms"),
            Self::Both => write!(f, "an event has either ts or age_ms, not both"),
        }
    }
}

/// Checks an event time against the accepted range, given the receiver's clock.
pub fn check_timestamp(ts_ms: i64, now_ms: i64) -> Result<i64, TimestampError> {
    if ts_ms < MIN_TS_MS {
        Err(TimestampError::BeforeYear2000)
    } else if ts_ms > now_ms.saturating_add(MAX_FUTURE_MS) {
        Err(TimestampError::InTheFuture)
    } else {
        Ok(ts_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_events_are_objects_never_positional_lists() {
        let ok: IngestRequest = serde_json::from_str(
            r#"{"logger_id":"a","events":[{"seq":1,"pin":0,"running":true,"ts":1800000000000}]}"#,
        )
        .unwrap();
        assert_eq!(ok.events[0].seq, 1);
        let positional = serde_json::from_str::<IngestRequest>(
            r#"{"logger_id":"a","events":[[1,0,true,1800000000000]]}"#,
        );
        assert!(positional.is_err());
        assert!(serde_json::from_str::<ObjectOnly<WireEvent>>(r#"[1,0,true,5,null]"#).is_err());
    }

    #[test]
    fn timestamps_between_2000_and_five_minutes_ahead_pass() {
        let now = 1_800_000_000_000;
        assert_eq!(check_timestamp(MIN_TS_MS, now), Ok(MIN_TS_MS));
        assert_eq!(
            check_timestamp(MIN_TS_MS - 1, now),
            Err(TimestampError::BeforeYear2000)
        );
        assert_eq!(
            check_timestamp(now + MAX_FUTURE_MS, now),
            Ok(now + MAX_FUTURE_MS)
        );
        assert_eq!(
            check_timestamp(now + MAX_FUTURE_MS + 1, now),
            Err(TimestampError::InTheFuture)
        );
        assert_eq!(check_timestamp(i64::MAX, i64::MAX), Ok(i64::MAX));
    }

    #[test]
    fn a_batch_reads_the_documented_json() {
        let body = r#"{"logger_id":"esp-1","events":[{"seq":7,"pin":2,"running":true,"ts":1764000000000}]}"#;
        let batch: IngestRequest = serde_json::from_str(body).unwrap();
        assert_eq!(
            batch.events[0],
            WireEvent::from(StateChange {
                seq: 7,
                pin: 2,
                running: true,
                ts: 1_764_000_000_000
            })
        );
        assert_eq!(serde_json::to_string(&batch).unwrap(), body);
    }

    #[test]
    fn register_and_heartbeat_read_and_write_the_documented_json() {
        let request = RegisterRequest {
            logger_id: "esp-1".into(),
            logger_name: None,
            firmware_version: "1.0".into(),
            ip_address: Some("10.0.0.7".into()),
            assets: alloc::vec![AssetName {
                pin_number: 2,
                asset_name: "Press".into()
            }],
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"logger_id":"esp-1","firmware_version":"1.0","ip_address":"10.0.0.7","assets":[{"pin_number":2,"asset_name":"Press"}]}"#
        );
        let answer: RegisterAnswer = serde_json::from_str(
            r#"{"logger_id":"esp-1","status":"pending","device_key":"k","claim_code":"ABCD2345","heartbeat_interval_s":30,"server_time":1764000000000}"#,
        )
        .unwrap();
        assert!(!answer.is_claimed());
        assert_eq!(answer.claim_code.as_deref(), Some("ABCD2345"));
        let beat = HeartbeatRequest {
            logger_id: "esp-1".into(),
            uptime_s: 60,
            rssi: Some(-61),
            free_heap: None,
            queued_events: 3,
            dropped_events: 0,
            firmware_version: "1.0".into(),
        };
        assert_eq!(
            serde_json::to_string(&beat).unwrap(),
            r#"{"logger_id":"esp-1","uptime_s":60,"rssi":-61,"queued_events":3,"dropped_events":0,"firmware_version":"1.0"}"#
        );
        let alive: HeartbeatAnswer = serde_json::from_str(
            r#"{"success":true,"status":"claimed","heartbeat_interval_s":30,"server_time":1}"#,
        )
        .unwrap();
        assert!(alive.is_claimed());
    }

    #[test]
    fn an_event_with_an_age_is_placed_before_its_arrival() {
        let now = 1_800_000_000_000;
        let body = r#"{"seq":1,"pin":0,"running":false,"age_ms":90000}"#;
        let e: WireEvent = serde_json::from_str(body).unwrap();
        assert_eq!(e.placed(now), Ok(now - 90_000));
        assert_eq!(serde_json::to_string(&e).unwrap(), body);
        let both = WireEvent { ts: Some(now), ..e };
        assert_eq!(both.placed(now), Err(TimestampError::Both));
        let neither = WireEvent { age_ms: None, ..e };
        assert_eq!(neither.placed(now), Err(TimestampError::Missing));
        let ancient = WireEvent {
            age_ms: Some(u64::MAX),
            ..e
        };
        assert_eq!(ancient.placed(now), Err(TimestampError::BeforeYear2000));
    }
}
