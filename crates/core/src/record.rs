//! The flash log's entry: one recorded change as the ESP32-C3 stores it before uploading it.
//!
//! A fixed [`LEN`]-byte little-endian record, so a log of them needs no framing and a torn write
//! is caught by the flash store's own checksum:
//!
//! | bytes | field |
//! |---|---|
//! | 0 | format version, [`VERSION`] |
//! | 1..9 | seq, u64 |
//! | 9 | pin |
//! | 10 | flags: bit 0 running, bit 1 the time is a wall time |
//! | 11..15 | boot number, u32 (0 for a wall time) |
//! | 15..23 | wall time, i64 epoch ms, or uptime, u64 ms |

use crate::timebase::EventTime;
use crate::wire::StateChange;

/// Bytes in one record.
pub const LEN: usize = 23;
/// The record format written by this code.
pub const VERSION: u8 = 1;

const RUNNING: u8 = 1;
const WALL: u8 = 2;

/// One change of one input as the logger recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggedChange {
    pub seq: u64,
    pub pin: u8,
    pub running: bool,
    pub time: EventTime,
}

/// Why bytes are not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// Not [`LEN`] bytes.
    Length(usize),
    /// Written by a format this code does not know.
    Version(u8),
    /// Flag bits this format never sets.
    Flags(u8),
    /// Seq 0 is never handed out.
    ZeroSeq,
}

impl core::fmt::Display for RecordError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Length(n) => write!(f, "a record is {LEN} bytes, not {n}"),
            Self::Version(v) => write!(f, "unknown record version {v}"),
            Self::Flags(x) => write!(f, "unknown record flags {x:#04x}"),
            Self::ZeroSeq => write!(f, "record with seq 0"),
        }
    }
}

impl LoggedChange {
    pub fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[0] = VERSION;
        out[1..9].copy_from_slice(&self.seq.to_le_bytes());
        out[9] = self.pin;
        let (flag, boot, time) = match self.time {
            EventTime::Wall { ts_ms } => (WALL, 0, ts_ms.to_le_bytes()),
            EventTime::Uptime { boot, ms } => (0, boot, ms.to_le_bytes()),
        };
        out[10] = flag | if self.running { RUNNING } else { 0 };
        out[11..15].copy_from_slice(&boot.to_le_bytes());
        out[15..23].copy_from_slice(&time);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let bytes: &[u8; LEN] = bytes
            .try_into()
            .map_err(|_| RecordError::Length(bytes.len()))?;
        if bytes[0] != VERSION {
            return Err(RecordError::Version(bytes[0]));
        }
        let flags = bytes[10];
        if flags & !(RUNNING | WALL) != 0 {
            return Err(RecordError::Flags(flags));
        }
        let seq = u64::from_le_bytes(bytes[1..9].try_into().expect("8 bytes"));
        if seq == 0 {
            return Err(RecordError::ZeroSeq);
        }
        let boot = u32::from_le_bytes(bytes[11..15].try_into().expect("4 bytes"));
        let time: [u8; 8] = bytes[15..23].try_into().expect("8 bytes");
        Ok(Self {
            seq,
            pin: bytes[9],
            running: flags & RUNNING != 0,
            time: if flags & WALL != 0 {
                EventTime::Wall {
                    ts_ms: i64::from_le_bytes(time),
                }
            } else {
                EventTime::Uptime {
                    boot,
                    ms: u64::from_le_bytes(time),
                }
            },
        })
    }

    /// The change with a wall time, as the queue and the Linux agent carry it; `None` while its
    /// time is still an uptime.
    pub fn with_wall_time(&self) -> Option<StateChange> {
        match self.time {
            EventTime::Wall { ts_ms } => Some(StateChange {
                seq: self.seq,
                pin: self.pin,
                running: self.running,
                ts: ts_ms,
            }),
            EventTime::Uptime { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_time() -> impl Strategy<Value = EventTime> {
        prop_oneof![
            any::<i64>().prop_map(|ts_ms| EventTime::Wall { ts_ms }),
            (any::<u32>(), any::<u64>()).prop_map(|(boot, ms)| EventTime::Uptime { boot, ms }),
        ]
    }

    proptest! {
        #[test]
        fn every_record_reads_back_as_written(seq in 1u64.., pin: u8, running: bool, time in any_time()) {
            let change = LoggedChange { seq, pin, running, time };
            prop_assert_eq!(LoggedChange::decode(&change.encode()), Ok(change));
        }
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let change = LoggedChange {
            seq: 0x0102,
            pin: 3,
            running: true,
            time: EventTime::Uptime { boot: 9, ms: 500 },
        };
        let bytes = change.encode();
        assert_eq!(bytes[..11], [1, 2, 1, 0, 0, 0, 0, 0, 0, 3, 1]);
        assert_eq!(bytes[11..15], [9, 0, 0, 0]);
        assert_eq!(bytes[15..17], [0xf4, 1]);
    }

    #[test]
    fn damaged_records_are_refused() {
        let good = LoggedChange {
            seq: 5,
            pin: 0,
            running: false,
            time: EventTime::Wall { ts_ms: 1 },
        }
        .encode();
        assert_eq!(
            LoggedChange::decode(&good[..22]),
            Err(RecordError::Length(22))
        );
        let mut v = good;
        v[0] = 2;
        assert_eq!(LoggedChange::decode(&v), Err(RecordError::Version(2)));
        let mut f = good;
        f[10] = 0x80;
        assert_eq!(LoggedChange::decode(&f), Err(RecordError::Flags(0x80)));
        let mut z = good;
        z[1] = 0;
        assert_eq!(LoggedChange::decode(&z), Err(RecordError::ZeroSeq));
        // Erased flash reads as 0xff.
        assert!(LoggedChange::decode(&[0xff; LEN]).is_err());
    }
}
