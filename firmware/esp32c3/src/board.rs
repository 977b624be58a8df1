//! The ESP32-C3 board: which peripheral does what. Everything pin-specific is here and in
//! [`crate::config::INPUTS`].
//!
//! | GPIO | use |
//! |---|---|
//! | inputs (config.rs, default 3, 4, 5, 6) | machine run signals, pulled up (active low) or down |
//! | 8 | OLED SDA (I2C0, 400 kHz) |
//! | 9 | OLED SCL; also the BOOT button, read once at power-on |

use alloc::vec::Vec;

use esp_hal::Blocking;
use esp_hal::gpio::{AnyPin, Input, InputConfig, Pull};
use esp_hal::i2c::master::{Config as I2cConfig, I2c};
use esp_hal::peripherals::{FLASH, Peripherals, TIMG0, TIMG1, WIFI};
use esp_hal::time::Rate;
use esp_hal::timer::timg::{TimerGroup, Wdt};

use crate::config::{INPUTS, InputSpec};

pub struct Board {
    pub inputs: Vec<(InputSpec, Input<'static>)>,
    /// The OLED's bus; `None` if the I2C driver refused its configuration.
    pub i2c: Option<I2c<'static, Blocking>>,
    /// The BOOT button was held at power-on: open the setup portal.
    pub portal_button_held: bool,
    pub flash: FLASH<'static>,
    pub wifi: WIFI<'static>,
    pub timers: TimerGroup<'static, TIMG0<'static>>,
    pub watchdog: Wdt<TIMG1<'static>>,
    pub rtos_interrupt: esp_hal::peripherals::FROM_CPU_INTR0<'static>,
}

impl Board {
    pub fn new(peripherals: Peripherals) -> Self {
        let mut boot_button = peripherals.GPIO9;
        let portal_button_held = {
            let button = Input::new(
                boot_button.reborrow(),
                InputConfig::default().with_pull(Pull::Up),
            );
            button.is_low()
        };

        let inputs = INPUTS
            .iter()
            .map(|spec| {
                // SAFETY: config.rs checks at compile time that every input has its own GPIO and
                // that none is one this module hands to a driver (8, 9) or the flash/USB pins;
                // nothing else in the image takes a GPIO by number.
                let pin = unsafe { AnyPin::steal(spec.gpio) };
                let pull = if spec.active_low {
                    Pull::Up
                } else {
                    Pull::Down
                };
                (
                    *spec,
                    Input::new(pin, InputConfig::default().with_pull(pull)),
                )
            })
            .collect();

        let i2c = I2c::new(
            peripherals.I2C0,
            I2cConfig::default().with_frequency(Rate::from_khz(400)),
        )
        .ok()
        .map(|bus| bus.with_sda(peripherals.GPIO8).with_scl(boot_button));

        Self {
            inputs,
            i2c,
            portal_button_held,
            flash: peripherals.FLASH,
            wifi: peripherals.WIFI,
            timers: TimerGroup::new(peripherals.TIMG0),
            watchdog: TimerGroup::new(peripherals.TIMG1).wdt,
            rtos_interrupt: peripherals.FROM_CPU_INTR0,
        }
    }
}
