//! Loggers over MQTT (`--mqtt-url`): assetlog subscribes to a broker the plant runs and takes
//! logger reports from it through the one ingest path, with HTTP's guarantees.
//!
//! - **Nothing lost:** QoS 1 on a persistent session (clean session off, a stable client id),
//!   so what is published while assetlog is down waits at the broker; each message is
//!   acknowledged to the broker only after its events are committed, in the order received
//!   (manual acks), so a crash before the commit means redelivery.
//! - **Nothing doubled:** the seq; a redelivered batch is a duplicate and answered as such.
//! - **The logger's answer:** on `assetlog/v1/<id>/ack` after the commit, a batch's
//!   `{acked_seq, last_seq}` (HTTP's answer, and which batch it answers) or a heartbeat's
//!   `{status, heartbeat_interval_s, server_time}`; a refusal's `{error: {code, message,
//!   status}}` on `assetlog/v1/<id>/error`. A logger releases events only on that ack, never on
//!   the broker's PUBACK.
//! - **Nothing from another client:** the topic names the logger and the broker decides who may
//!   publish on it: [`dynsec`] keeps one broker client per logger. A broker that lets anonymous
//!   clients in is refused at start unless the operator vouches for its own ACLs with
//!   `--mqtt-trust-broker`.
//! - **Replicas:** one shared subscription (`$share/assetlog/…`): each message goes to one server.
//!
//! # Layout
//! - [`topics`]: the topics' spelling.
//! - [`dynsec`]: the broker clients of loggers (Mosquitto's dynamic-security plugin).
//! - [`settings`]: `--mqtt-*` read into where and as whom assetlog connects (TLS included).
//! - [`link`]: the connection: connect and check the broker, its control requests, the loggers'
//!   broker clients kept in step with their keys.
//! - [`receive`]: the loggers' messages taken in order, stored, answered and acknowledged.

pub mod dynsec;
mod link;
mod receive;
mod settings;
pub mod topics;

pub use link::{Link, Receiving, keyed, removed};
pub use receive::run;
pub use settings::Settings;
