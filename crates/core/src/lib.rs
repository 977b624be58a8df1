//! The shared truth of assetlog: the values that the server, the Linux agent and the ESP32-C3
//! firmware all speak, and the pure logic they all run. Nothing here does I/O or reads a clock:
//! time comes in as a parameter, so every rule is tested on the host.
//!
//! The crate is `no_std` + `alloc` unless the `std` feature (on by default) is enabled, so the
//! firmware builds it for `riscv32imc-unknown-none-elf`.
//!
//! # Layout
//! - [`ids`]: identifiers parsed once at the edge ([`LoggerId`], [`Pin`]).
//! - [`state`]: a machine's run state ([`RunState`]).
//! - [`wire`]: the logger protocol's payloads and limits (batched ingest, acknowledgements,
//!   timestamp bounds).
//! - [`seq`]: acknowledgement arithmetic over event sequence numbers.
//! - [`debounce`]: the input debouncer and edge detector.
//! - [`queue`]: the logger-side queue bookkeeping (seq allocation, bounded queue, release on ack).
//! - [`sim`]: a seeded random machine (runs, short and long stops, shifts) for simulators, demos
//!   and backfilled history.
//! - [`timebase`]: event times on a logger whose clock may not be set yet (uptime, age, placing).
//! - [`record`]: the firmware's flash-log entry.
//! - [`backoff`]: exponential backoff with jitter.
//! - [`uplink`]: what a logger sends next (register, heartbeat, upload), without I/O.
//! - [`setup`]: the firmware's Wi-Fi portal form.
//! - [`kpi`]: the analytics arithmetic (timeline, stops, availability, MTBF, MTTR, buckets).
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod backoff;
pub mod debounce;
pub mod fingerprint;
pub mod ids;
pub mod kpi;
pub mod queue;
pub mod record;
pub mod seq;
pub mod setup;
pub mod sim;
pub mod state;
pub mod timebase;
pub mod uplink;
pub mod wire;

pub use ids::{LoggerId, LoggerIdError, Pin, PinError};
pub use state::RunState;
pub use wire::{IngestAck, IngestRequest, StateChange, WireEvent};
