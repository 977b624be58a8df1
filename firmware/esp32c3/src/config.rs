//! What is fixed when the image is built: the default inputs, the display's pins, the server
//! paths and the timings. What a person sets on the setup portal (Wi-Fi, the server, and the
//! inputs) is [`Settings`] and the inputs, kept in flash by the store.

use alloc::string::String;
use alloc::vec::Vec;

pub use assetlog_logger::inputs::{Gpios, InputSpec, MAX_INPUTS};

/// The inputs until the setup portal sets others (`/inputs`): GPIO, asset name, whether the
/// input reads low while the machine runs (an optocoupler module, PC817, pulls the GPIO to
/// ground when the 24 V signal is on), and how long a new level must hold. GPIO 3, 4, 5, 6, 7,
/// 10, 20 and 21 are free on an ESP32-C3 board whose OLED uses GPIO 8 and 9 (see
/// docs/FIRMWARE.md); avoid 2, 8 and 9 for inputs (strapping pins) and 11–17 (the flash chip).
const DEFAULT_INPUTS: &[(u8, &str, bool, u64)] = &[
    (3, "Machine 1", true, 50),
    (4, "Machine 2", true, 50),
    (5, "Machine 3", true, 50),
    (6, "Machine 4", true, 50),
];

/// The default inputs as the rest of the image takes inputs.
pub fn default_inputs() -> Vec<InputSpec> {
    DEFAULT_INPUTS
        .iter()
        .map(|&(gpio, name, active_low, debounce_ms)| InputSpec {
            gpio,
            name: String::from(name),
            active_low,
            debounce_ms,
        })
        .collect()
}

const _: () = assert!(DEFAULT_INPUTS.len() <= MAX_INPUTS);

/// How often the inputs are read.
pub const SAMPLE_PERIOD_MS: u64 = 5;

/// GPIOs the board itself uses ([`crate::board`]): the OLED's I2C (SDA 8, SCL 9, SCL shared
/// with the BOOT button), the flash chip (11–17) and the USB port (18, 19). No input may use
/// them; the portal's inputs are checked against them, the defaults at compile time.
pub const RESERVED_GPIOS: &[u8] = &[8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19];

/// Which GPIOs the inputs may use on this board.
pub const GPIOS: Gpios = Gpios {
    highest: 21,
    reserved: RESERVED_GPIOS,
};

const fn inputs_are_valid() -> bool {
    let mut i = 0;
    while i < DEFAULT_INPUTS.len() {
        let gpio = DEFAULT_INPUTS[i].0;
        if gpio > GPIOS.highest {
            return false;
        }
        let mut r = 0;
        while r < RESERVED_GPIOS.len() {
            if RESERVED_GPIOS[r] == gpio {
                return false;
            }
            r += 1;
        }
        let mut j = i + 1;
        while j < DEFAULT_INPUTS.len() {
            if DEFAULT_INPUTS[j].0 == gpio {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

const _: () = assert!(
    inputs_are_valid(),
    "every input needs its own GPIO in 0..=21, none of RESERVED_GPIOS"
);

/// The access point's address and netmask while the setup portal is open.
pub const PORTAL_IP: [u8; 4] = [192, 168, 4, 1];

/// Give up on the configured network and open the portal beside it after this long without a
/// connection (the logger keeps trying the network meanwhile).
pub const PORTAL_AFTER_MS: u64 = 3 * 60 * 1000;

/// SNTP: the server asked, and how often.
pub const SNTP_SERVER: &str = "pool.ntp.org";
pub const SNTP_PERIOD_MS: u64 = 60 * 60 * 1000;
pub const SNTP_RETRY_MS: u64 = 30 * 1000;

/// Most events one upload carries: 50 events of about 70 bytes of JSON each fit the request
/// buffer with room to spare.
pub const MAX_UPLOAD_EVENTS: usize = 50;

/// A server request that has not finished after this long is given up (and retried later).
pub const REQUEST_TIMEOUT_MS: u64 = 20_000;

/// Wi-Fi's dynamic receive and transmit buffers, about 1.6 KB of heap each at most (esp-radio's
/// default is 32 each; with 10 static receive buffers, the block-ack window of 6 fits).
pub const WIFI_DYNAMIC_RX_BUFFERS: u16 = 16;
pub const WIFI_DYNAMIC_TX_BUFFERS: u16 = 16;

/// The watchdog resets the chip when the input loop has not run for this long.
pub const WATCHDOG_TIMEOUT_MS: u64 = 30_000;

/// The image's version, sent at registration and with every heartbeat.
pub const FIRMWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the setup portal stores: the network to join and the server to report to.
pub use assetlog_logger::settings::Settings;
