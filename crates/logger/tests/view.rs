//! What the logger shows, on the host: the OLED's eight lines and the local pages, made from a
//! status as the firmware's tasks fill it in.

use assetlog_core::record::LoggedChange;
use assetlog_core::timebase::EventTime;
use assetlog_core::uplink::Link;
use assetlog_logger::inputs::{Gpios, InputSpec};
use assetlog_logger::settings::Settings;
use assetlog_logger::view::{
    self, InputState, RecentChange, Status, WifiState, duration, screen, status_page,
};

fn input(gpio: u8, name: &str) -> InputSpec {
    InputSpec {
        gpio,
        name: name.into(),
        active_low: true,
        debounce_ms: 50,
    }
}

/// A logger an hour and a bit after start: joined, registered but not claimed, three inputs.
fn pending_logger() -> Status {
    let mut s = Status::new();
    s.logger_id = "esp32c3-a1b2c3d4e5f6".into();
    s.wifi = WifiState::Connected { ip: [10, 0, 0, 23] };
    s.rssi = Some(-61);
    s.link = Link::Pending;
    s.queued = 3;
    s.claim_code = Some("K7QH2MZP".into());
    s.inputs = vec![
        (input(3, "Press <1>"), InputState::default()),
        (input(4, "Saw"), InputState::default()),
        (input(5, "Lathe"), InputState::default()),
    ];
    s.recorded(RecentChange {
        seq: 7,
        gpio: 3,
        running: true,
        uptime_ms: 60_000,
    });
    s.recorded(RecentChange {
        seq: 8,
        gpio: 4,
        running: false,
        uptime_ms: 3_000_000,
    });
    s
}

const NOW_MS: u64 = 3_780_000;

#[test]
fn durations_are_short() {
    assert_eq!(duration(42), "42s");
    assert_eq!(duration(12 * 60 + 5), "12m");
    assert_eq!(duration(3600 + 2 * 60), "1h02");
    assert_eq!(duration(3 * 86_400 + 4 * 3600), "3d04");
}

#[test]
fn the_screen_shows_network_server_claim_code_inputs_and_id() {
    let lines = screen(&pending_logger(), NOW_MS);
    assert_eq!(
        lines,
        [
            "WiFi -61dBm 10.0.0.23",
            "Srv ok  queue 3",
            "Claim K7QH2MZP",
            " 3 RUN  1h02  4 STOP  13m",
            " 5 --       ",
            "",
            "",
            "esp32c3-a1b2c3d4e5f6",
        ]
    );

    // Claimed, the server gone: no code, no id; the clock state instead.
    let mut s = pending_logger();
    s.claim_code = None;
    s.link = Link::Claimed;
    s.failures = 2;
    let lines = screen(&s, NOW_MS);
    assert_eq!(lines[1], "Srv down  queue 3");
    assert_eq!(lines[2], "Clock not set");
    assert_eq!(lines[7], "");

    // Only the portal: how to reach it.
    let mut s = Status::new();
    s.wifi = WifiState::PortalOnly;
    s.portal = Some("assetlog-e5f6".into());
    assert_eq!(screen(&s, 0)[0], "Setup: join assetlog-e5f6");
    assert_eq!(screen(&s, 0)[1], "Srv --  queue 0");
}

#[test]
fn the_status_page_lists_inputs_changes_and_the_flash_log_escaped() {
    let s = pending_logger();
    let settings = Settings {
        ssid: "Plant \"floor\"".into(),
        server_url: "https://assetlog.plant.example".into(),
        ..Settings::default()
    };
    let pending = [LoggedChange {
        seq: 9,
        pin: 5,
        running: true,
        time: EventTime::Uptime {
            boot: 2,
            ms: 65_000,
        },
    }];
    let html = status_page(&s, &pending, &settings, NOW_MS, false, "0.1.0");
    assert!(
        html.contains("Logger <b>esp32c3-a1b2c3d4e5f6</b>, firmware 0.1.0, up 1h03"),
        "{html}"
    );
    assert!(
        html.contains("<td>Press &lt;1&gt;</td><td class=\"run\">RUNNING</td><td>1h02</td>"),
        "{html}"
    );
    assert!(
        html.contains("<td>Saw</td><td class=\"stop\">STOPPED</td><td>13m</td>"),
        "{html}"
    );
    assert!(
        html.contains("joined Plant &quot;floor&quot;, 10.0.0.23, -61 dBm"),
        "{html}"
    );
    assert!(html.contains("<b>K7QH2MZP</b>"), "{html}");
    assert!(
        html.contains("<td>9</td><td>5</td><td>RUNNING</td><td>boot 2, 65 s after start</td>"),
        "{html}"
    );
    // Newest change first.
    let (at7, at8) = (
        html.find("<td>7</td>").unwrap(),
        html.find("<td>8</td>").unwrap(),
    );
    assert!(at8 < at7);
    // The factory network gets no link to the setup forms; the portal does.
    assert!(!html.contains("/setup"));
    let portal = status_page(&s, &pending, &settings, NOW_MS, true, "0.1.0");
    assert!(portal.contains("href=\"/setup\"") && portal.contains("href=\"/inputs\""));
}

#[test]
fn the_forms_are_filled_with_what_is_set_and_escape_it() {
    let settings = Settings {
        ssid: "<b>net</b>".into(),
        server_url: "https://h".into(),
        tls_pin_sha256: "AB".repeat(32),
        ..Settings::default()
    };
    let html = view::setup_page(&settings, Some("bad <input>"));
    assert!(html.contains("value=\"&lt;b&gt;net&lt;/b&gt;\""), "{html}");
    assert!(
        html.contains(&format!("value=\"{}\"", "AB".repeat(32))),
        "{html}"
    );
    assert!(html.contains("bad &lt;input&gt;"), "{html}");

    let board = Gpios {
        highest: 21,
        reserved: &[8, 9],
    };
    let mut saw = input(10, "Saw \"2\"");
    saw.active_low = false;
    saw.debounce_ms = 120;
    let html = view::inputs_page(&[input(3, "Press"), saw], &board, None);
    assert!(html.contains("GPIO 0 to 21, not [8, 9]"), "{html}");
    assert!(
        html.contains("name=\"gpio1\" size=\"3\" inputmode=\"numeric\" value=\"10\""),
        "{html}"
    );
    assert!(
        html.contains("name=\"name1\" maxlength=\"40\" value=\"Saw &quot;2&quot;\""),
        "{html}"
    );
    assert!(html.contains("name=\"low0\" checked"), "{html}");
    assert!(!html.contains("name=\"low1\" checked"), "{html}");
    assert!(
        html.contains("name=\"debounce1\" size=\"5\" inputmode=\"numeric\" value=\"120\""),
        "{html}"
    );
    // Empty rows up to eight, ready for more inputs.
    assert!(html.contains("name=\"gpio7\""), "{html}");
    assert!(!html.contains("name=\"gpio8\""), "{html}");
}
