//! What the ESP32-C3 logger decides, as code that builds for the chip (`no_std`) and for the
//! host, where its tests run: the firmware (`firmware/esp32c3`) adds only the board (pins,
//! Wi-Fi, SNTP, the OLED driver, the watchdog, the flash chip's driver).
//!
//! # Layout
//! - [`store`]: everything kept across a power cut, over any NOR flash: the settings map (the
//!   portal's settings, the device key, the boot counter, the highest seq) and the event log.
//!   `tests/power_cut.rs` cuts the power at every flash write and erase of a workload in turn.
//! - [`settings`]: what a person sets on the setup portal.
//! - [`inputs`]: which GPIOs are machines, set on the portal too: checked, kept, read from the
//!   form.
//! - [`tls`]: HTTPS: how the server is checked (a CA or a pinned certificate) and why it was
//!   refused.
//! - [`uplink`]: register, heartbeat and upload, driven by `assetlog_core::uplink::Uplink`, over
//!   any `embedded-nal-async` network; `tests/server.rs` runs it against a real `assetlog serve`.
//! - [`view`]: the status the logger shows, the OLED's lines and the local pages.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod inputs;
pub mod settings;
pub mod store;
pub mod tls;
pub mod uplink;
pub mod view;
