//! What is fixed when the image is built: the inputs, the display's pins, the server paths and
//! the timings. What a person sets on the setup portal (Wi-Fi and server URL) is [`Settings`],
//! kept in flash by the store.

/// The most inputs one logger watches.
pub const MAX_INPUTS: usize = 8;

/// One machine run signal wired to a GPIO.
#[derive(Debug, Clone, Copy)]
pub struct InputSpec {
    /// The ESP32-C3 GPIO number; also the `pin` the server files the asset under.
    pub gpio: u8,
    /// The asset's name, sent at registration for a pin the server does not know yet.
    pub name: &'static str,
    /// The input reads low while the machine runs: true for an optocoupler module (PC817) whose
    /// transistor pulls the GPIO to ground when the 24 V signal is on.
    pub active_low: bool,
    /// How long a new level must hold before it counts.
    pub debounce_ms: u64,
}

/// The inputs this image watches (at most [`MAX_INPUTS`]). GPIO 3, 4, 5, 6, 7, 10, 20 and 21 are
/// free on an ESP32-C3 board whose OLED uses GPIO 8 and 9 (see docs/FIRMWARE.md); avoid 2, 8
/// and 9 for inputs (strapping pins) and 11–17 (the flash chip).
pub const INPUTS: &[InputSpec] = &[
    InputSpec {
        gpio: 3,
        name: "Machine 1",
        active_low: true,
        debounce_ms: 50,
    },
    InputSpec {
        gpio: 4,
        name: "Machine 2",
        active_low: true,
        debounce_ms: 50,
    },
    InputSpec {
        gpio: 5,
        name: "Machine 3",
        active_low: true,
        debounce_ms: 50,
    },
    InputSpec {
        gpio: 6,
        name: "Machine 4",
        active_low: true,
        debounce_ms: 50,
    },
];

const _: () = assert!(INPUTS.len() <= MAX_INPUTS);

/// How often the inputs are read.
pub const SAMPLE_PERIOD_MS: u64 = 5;

/// GPIOs the board itself uses ([`crate::board`]): the OLED's I2C (SDA 8, SCL 9, SCL shared
/// with the BOOT button), the flash chip (11–17) and the USB port (18, 19). No input may use
/// them.
pub const RESERVED_GPIOS: &[u8] = &[8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19];

const fn inputs_are_valid() -> bool {
    let mut i = 0;
    while i < INPUTS.len() {
        let gpio = INPUTS[i].gpio;
        if gpio > 21 {
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
        while j < INPUTS.len() {
            if INPUTS[j].gpio == gpio {
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
