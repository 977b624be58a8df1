//! The assetlog logger for Linux boxes (a Raspberry Pi, an industrial gateway): it watches
//! machine run signals, keeps every RUNNING/STOPPED change in a durable queue on disk, uploads
//! the queue to the server until each change is acknowledged, and shows its state on a local
//! status page that works with no server at all. Its `simulate` mode runs many virtual loggers
//! with simulated machines, for demos and load tests.
//!
//! The rules it shares with the firmware (debouncing, seq numbering, timestamp clamping, the
//! bounded queue's books, the wire types, the machine model, and the uplink state machine that
//! decides when to register, heartbeat, upload and back off) come from `assetlog-core`; this
//! crate adds the I/O around them.
//!
//! # Layout
//! - [`config`]: the command line and the TOML file, checked into typed values.
//! - [`journal`]: the durable queue (append-only log + atomically replaced floor), crash recovery.
//! - [`identity`]: the device key and claim code, in a file only the agent's user can read.
//! - [`client`]: the logger protocol over HTTP (register, heartbeat, ingest) and its errors.
//! - [`tls`]: how an `https://` server is checked (system roots, a CA file, a pin) and why a
//!   check failed.
//! - [`mqtt`]: heartbeats and batches through an MQTT broker instead (`uplink = "mqtt"`).
//! - [`link`]: the one loop that drives core's `Uplink` with the client, for the agent and the
//!   simulator alike; each plugs in its [`link::Station`] (key, queue, where it shows its state).
//! - [`inputs`]: GPIO (gpiocdev), Modbus TCP (tokio-modbus) and simulated inputs.
//! - [`agent`]: one logger wired together: inputs → recorder → link, and its station.
//! - [`status`]: the local status page (HTML and JSON, with a wait-for-change long poll).
//! - [`simulate`]: many virtual loggers in one process, each a station on the same link loop.

pub mod agent;
pub mod client;
pub mod config;
pub mod identity;
pub mod inputs;
pub mod journal;
pub mod link;
pub mod mqtt;
pub mod simulate;
pub mod status;
pub mod tls;

/// The wall clock, epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
