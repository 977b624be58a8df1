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

use alloc::format;
use alloc::string::String;
use core::fmt::Write as _;

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

use crate::inputs::uptime_ms;
use crate::status::{self, Status, WifiState};
use crate::uplink::is_up;

/// Text lines on the screen (64 px / 8 px).
const LINES: usize = 8;

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

/// The screen's text for a status at uptime `now_ms`.
fn screen(s: &Status, now_ms: u64) -> [String; LINES] {
    let mut lines: [String; LINES] = Default::default();
    lines[0] = match (s.wifi, &s.portal) {
        (WifiState::PortalOnly, Some(portal)) => format!("Setup: join {portal}"),
        (WifiState::Connected { ip: [a, b, c, d] }, _) => {
            format!("WiFi {}dBm {a}.{b}.{c}.{d}", s.rssi.unwrap_or(0))
        }
        _ => String::from("WiFi joining..."),
    };
    let server = if is_up(s.link, s.failures) {
        "ok"
    } else if s.failures > 0 {
        "down"
    } else {
        "--"
    };
    lines[1] = format!("Srv {server}  queue {}", s.queued);
    lines[2] = match (&s.claim_code, &s.portal) {
        (Some(code), _) => format!("Claim {code}"),
        (None, Some(portal)) if s.wifi != WifiState::PortalOnly => format!("Portal {portal}"),
        _ if s.time.is_synced() => String::from("Clock set"),
        _ => String::from("Clock not set"),
    };
    for (i, (spec, state)) in s.inputs.iter().enumerate() {
        let line = &mut lines[3 + i / 2];
        if i % 2 == 1 {
            line.push(' ');
        }
        let label = match state.running {
            Some(true) => "RUN ",
            Some(false) => "STOP",
            None => "--  ",
        };
        let since = match state.running {
            Some(_) => duration(now_ms.saturating_sub(state.since_ms) / 1000),
            None => String::new(),
        };
        let _ = write!(line, "{:>2} {label}{since:>5}", spec.gpio);
    }
    if s.claim_code.is_some() {
        // An admin claims the logger with its id and code (the dashboard's Loggers page).
        lines[LINES - 1] = s.logger_id.clone();
    }
    lines
}

/// A short duration: `42s`, `12m`, `1h02`, `3d04`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h{:02}", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}", secs / 86400, secs % 86400 / 3600),
    }
}
