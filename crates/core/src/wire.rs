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

/// `POST /api/v1/ingest` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestRequest {
    pub logger_id: String,
    pub events: Vec<StateChange>,
}

/// `POST /api/v1/ingest` answer: every seq of this logger up to `acked_seq` is durably stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestAck {
    pub acked_seq: u64,
}

/// Why an event time is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampError {
    BeforeYear2000,
    InTheFuture,
}

impl core::fmt::Display for TimestampError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BeforeYear2000 => write!(f, "timestamp is before 2000-01-01"),
            Self::InTheFuture => write!(
                f,
                "timestamp is more than 5 minutes ahead of the server clock"
            ),
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
            StateChange {
                seq: 7,
                pin: 2,
                running: true,
                ts: 1_764_000_000_000
            }
        );
    }
}
