//! The ESP32-C3 board: which peripheral does what. Everything pin-specific is here and in
//! [`crate::config`] (the default inputs, the GPIOs the portal's inputs may use).
//!
//! | GPIO | use |
//! |---|---|
//! | inputs (the portal's, or config.rs's default 3, 4, 5, 6) | machine run signals, pulled up (active low) or down |
//! | 8 | OLED SDA (I2C0, 400 kHz) |
//! | 9 | OLED SCL; also the BOOT button, watched for the first seconds after start |

use alloc::vec::Vec;

use embassy_time::{Duration, Instant, Timer};
use esp_hal::Blocking;
use esp_hal::gpio::{AnyPin, Input, InputConfig, Pull};
use esp_hal::i2c::master::{Config as I2cConfig, I2c};
use esp_hal::peripherals::{FLASH, GPIO8, GPIO9, I2C0, Peripherals, TIMG0, TIMG1, WIFI};
use esp_hal::time::Rate;
use esp_hal::timer::timg::{TimerGroup, Wdt};

use crate::config::{GPIOS, InputSpec};

pub struct Board {
    /// The OLED's bus and pins, taken by [`oled_bus`] once the BOOT button has been watched.
    pub i2c: I2C0<'static>,
    pub oled_sda: GPIO8<'static>,
    pub boot_button: GPIO9<'static>,
    pub flash: FLASH<'static>,
    pub wifi: WIFI<'static>,
    pub timers: TimerGroup<'static, TIMG0<'static>>,
    pub watchdog: Wdt<TIMG1<'static>>,
    pub rtos_interrupt: esp_hal::peripherals::FROM_CPU_INTR0<'static>,
}

impl Board {
    pub fn new(peripherals: Peripherals) -> Self {
        Self {
            i2c: peripherals.I2C0,
            oled_sda: peripherals.GPIO8,
            boot_button: peripherals.GPIO9,
            flash: peripherals.FLASH,
            wifi: peripherals.WIFI,
            timers: TimerGroup::new(peripherals.TIMG0),
            watchdog: TimerGroup::new(peripherals.TIMG1).wdt,
            rtos_interrupt: peripherals.FROM_CPU_INTR0,
        }
    }
}

/// The GPIOs of `specs` as inputs, pulled up or down. Called once, with inputs that passed
/// `assetlog_logger::inputs::check` against [`GPIOS`]; `None` (and no pin touched) otherwise.
pub fn input_pins(specs: &[InputSpec]) -> Option<Vec<(InputSpec, Input<'static>)>> {
    assetlog_logger::inputs::check(specs, &GPIOS).ok()?;
    let pins = specs
        .iter()
        .map(|spec| {
            // SAFETY: checked just above: every input has its own GPIO, none is one this module
            // hands to a driver (8, 9) or the flash/USB pins; nothing else in the image takes a
            // GPIO by number, and this runs once.
            let pin = unsafe { AnyPin::steal(spec.gpio) };
            let pull = if spec.active_low {
                Pull::Up
            } else {
                Pull::Down
            };
            (
                spec.clone(),
                Input::new(pin, InputConfig::default().with_pull(pull)),
            )
        })
        .collect();
    Some(pins)
}

/// How long after start a press of the BOOT button opens the setup portal. The button cannot be
/// held *at* power-on: GPIO 9 low at reset starts the chip's ROM download mode instead.
pub const PORTAL_BUTTON_WINDOW: Duration = Duration::from_secs(3);
/// How long the button must stay pressed to count.
const PORTAL_BUTTON_HOLD: Duration = Duration::from_millis(500);

/// Watches the BOOT button for [`PORTAL_BUTTON_WINDOW`]: true when it was held down for
/// [`PORTAL_BUTTON_HOLD`] (a person asking for the setup portal).
pub async fn portal_button_pressed(button: &mut GPIO9<'static>) -> bool {
    let button = Input::new(
        button.reborrow(),
        InputConfig::default().with_pull(Pull::Up),
    );
    let start = Instant::now();
    let mut pressed_since = None;
    while start.elapsed() < PORTAL_BUTTON_WINDOW {
        if button.is_low() {
            let since = *pressed_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= PORTAL_BUTTON_HOLD {
                return true;
            }
        } else {
            pressed_since = None;
        }
        Timer::after(Duration::from_millis(20)).await;
    }
    false
}

/// The OLED's I2C bus (400 kHz); `None` if the driver refuses the configuration.
pub fn oled_bus(
    i2c: I2C0<'static>,
    sda: GPIO8<'static>,
    scl: GPIO9<'static>,
) -> Option<I2c<'static, Blocking>> {
    I2c::new(
        i2c,
        I2cConfig::default().with_frequency(Rate::from_khz(400)),
    )
    .ok()
    .map(|bus| bus.with_sda(sda).with_scl(scl))
}
