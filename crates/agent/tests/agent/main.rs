//! The agent as a user runs it: real `assetlog` server processes and real `assetlog-agent`
//! processes, killed and restarted, checked through the server's events endpoint and live socket
//! and the agent's status page. Every wait awaits an event with a deadline (see `helpers`).
//!
//! The server binary comes from the same target directory. `cargo test --workspace` builds it;
//! with `cargo test -p assetlog-agent` alone, run `cargo build -p assetlog-server` first.

mod bad_config;
#[path = "../../../server/tests/support/certs.rs"]
mod certs;
mod delivery;
mod faults;
mod heartbeat;
mod helpers;
mod modbus;
#[path = "../../../server/tests/support/mosquitto.rs"]
mod mosquitto;
mod mqtt;
mod simulate;
mod tls;
