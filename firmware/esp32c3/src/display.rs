//! The OLED (SSD1306, 128×64, I2C): once a second, eight lines of 5×8 text:
//!
//! ```text
//! WiFi -61dBm 10.0.0.23
//! Srv ok  queue 0
//! Claim K7QH2MZP            (until claimed; else the portal or the clock state)
//!  3 RUN  1h02  4 STOP  12m  (two inputs a line, up to 8)
//!  5 RUN    4m  6 --
//!
//!
//! esp32c3-a1b2c3d4e5f6       (the logger id, until claimed)
//! ```

use embassy_time::{Duration, Ticker};
use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::FONT_5X8;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::text::{Baseline, Text};
use esp_hal::Blocking;
use esp_hal::i2c::master::I2c;
use ssd1306::mode::DisplayConfig;
use ssd1306::prelude::*;
use ssd1306::{I2CDisplayInterface, Ssd1306};

use assetlog_logger::view::screen;

use crate::inputs::uptime_ms;
use crate::status;

#[embassy_executor::task]
pub async fn show(i2c: I2c<'static, Blocking>) {
    let interface = I2CDisplayInterface::new(i2c);
    let mut oled = Ssd1306::new(interface, DisplaySize128x64, DisplayRotation::Rotate0)
        .into_buffered_graphics_mode();
    if oled.init().is_err() {
        // No display fitted, or miswired: the logger works without it.
        log::warn!("no SSD1306 answers on I2C address 0x3C; running without the display");
        return;
    }
    let style = MonoTextStyle::new(&FONT_5X8, BinaryColor::On);
    let mut ticker = Ticker::every(Duration::from_secs(1));
    loop {
        let lines = screen(&status::snapshot(), uptime_ms());
        oled.clear_buffer();
        for (row, line) in lines.iter().enumerate() {
            let at = Point::new(0, row as i32 * 8);
            let _ = Text::with_baseline(line, at, style, Baseline::Top).draw(&mut oled);
        }
        if oled.flush().is_err() {
            log::warn!("the display stopped answering");
        }
        ticker.next().await;
    }
}
