//! What the logger shows: the shared picture of itself ([`Status`]) and the texts made from it,
//! the OLED's eight lines ([`screen`]) and the local web pages ([`status_page`], the setup
//! forms). The firmware keeps the status behind a mutex and draws or serves these; here they
//! are plain functions, tested on the host.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use assetlog_core::record::LoggedChange;
use assetlog_core::timebase::{EventTime, TimeBase};
use assetlog_core::uplink::Link;
use heapless::Deque;

use crate::inputs::{Gpios, InputSpec, MAX_INPUTS};
use crate::settings::Settings;
use crate::uplink::is_up;

/// Text lines on the screen (64 px / 8 px).
pub const LINES: usize = 8;

/// One input's debounced state.
#[derive(Debug, Clone, Copy, Default)]
pub struct InputState {
    /// `None` until the first level has held for the debounce time.
    pub running: Option<bool>,
    /// Uptime (ms) since which the state holds.
    pub since_ms: u64,
}

/// The Wi-Fi side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WifiState {
    /// Joining the configured network.
    #[default]
    Connecting,
    /// Joined, with an address.
    Connected { ip: [u8; 4] },
    /// No network configured: only the setup portal runs.
    PortalOnly,
}

/// A change as it was recorded, for the page's list of recent changes.
#[derive(Debug, Clone, Copy)]
pub struct RecentChange {
    pub seq: u64,
    pub gpio: u8,
    pub running: bool,
    pub uptime_ms: u64,
}

/// How many recorded changes the page lists.
pub const RECENT: usize = 16;

#[derive(Debug, Clone)]
pub struct Status {
    pub logger_id: String,
    /// Each input and its state, in the order they are set.
    pub inputs: Vec<(InputSpec, InputState)>,
    pub wifi: WifiState,
    /// The setup portal's access point is up (its name).
    pub portal: Option<String>,
    pub rssi: Option<i32>,
    pub link: Link,
    /// Failed server requests in a row.
    pub failures: u32,
    pub claim_code: Option<String>,
    /// Events in the flash log not yet acknowledged by the server.
    pub queued: usize,
    /// Events dropped because the flash log was full (oldest first), over the logger's life.
    pub dropped: u64,
    pub time: TimeBase,
    /// The newest changes, newest last.
    pub recent: Deque<RecentChange, RECENT>,
    /// The latest problem worth showing (flash, server, Wi-Fi).
    pub last_error: Option<String>,
}

impl Status {
    pub fn new() -> Self {
        Self {
            logger_id: String::new(),
            inputs: Vec::new(),
            wifi: WifiState::Connecting,
            portal: None,
            rssi: None,
            link: Link::Unregistered,
            failures: 0,
            claim_code: None,
            queued: 0,
            dropped: 0,
            time: TimeBase::new(0),
            recent: Deque::new(),
            last_error: None,
        }
    }

    /// Notes a change that is now in the flash log.
    pub fn recorded(&mut self, change: RecentChange) {
        if let Some((_, state)) = self.inputs.iter_mut().find(|(s, _)| s.gpio == change.gpio) {
            *state = InputState {
                running: Some(change.running),
                since_ms: change.uptime_ms,
            };
        }
        if self.recent.is_full() {
            self.recent.pop_front();
        }
        let _ = self.recent.push_back(change);
    }
}

impl Default for Status {
    fn default() -> Self {
        Self::new()
    }
}

/// The screen's text for a status at uptime `now_ms`.
pub fn screen(s: &Status, now_ms: u64) -> [String; LINES] {
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

/// A whole HTML page around `content`.
pub fn page(title: &str, content: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>assetlog · {title}</title><style>body{{font-family:sans-serif;margin:1em;max-width:40em}}\
table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ccc;padding:.2em .6em;text-align:left}}\
.run{{color:#070}}.stop{{color:#a00}}</style></head><body><h1>{title}</h1>{content}</body></html>"
    )
}

/// The local page's body: the inputs, the connection, the recent changes, and `pending`, the
/// oldest changes still in the flash log; `portal` adds the links to the setup forms.
pub fn status_page(
    s: &Status,
    pending: &[LoggedChange],
    settings: &Settings,
    now: u64,
    portal: bool,
    firmware_version: &str,
) -> String {
    let mut html = String::new();
    {
        let _ = write!(
            html,
            "<p>Logger <b>{}</b>, firmware {}, up {}</p>",
            escape(&s.logger_id),
            firmware_version,
            duration(now / 1000)
        );
        html.push_str(
            "<h2>Inputs</h2><table><tr><th>GPIO</th><th>Asset</th><th>State</th><th>For</th></tr>",
        );
        for (spec, state) in &s.inputs {
            let (class, label) = match state.running {
                Some(true) => ("run", "RUNNING"),
                Some(false) => ("stop", "STOPPED"),
                None => ("", "—"),
            };
            let since = if state.running.is_some() {
                duration(now.saturating_sub(state.since_ms) / 1000)
            } else {
                String::new()
            };
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{label}</td><td>{since}</td></tr>",
                spec.gpio,
                escape(&spec.name)
            );
        }
        html.push_str("</table><h2>Connection</h2><table>");
        let wifi = match s.wifi {
            WifiState::Connected { ip: [a, b, c, d] } => format!(
                "joined {}, {a}.{b}.{c}.{d}, {} dBm",
                escape(&settings.ssid),
                s.rssi.unwrap_or(0)
            ),
            WifiState::Connecting => format!("joining {}", escape(&settings.ssid)),
            WifiState::PortalOnly => String::from("no network configured"),
        };
        let _ = write!(html, "<tr><th>Wi-Fi</th><td>{wifi}</td></tr>");
        if let Some(portal) = &s.portal {
            let _ = write!(
                html,
                "<tr><th>Setup portal</th><td>{} (http://192.168.4.1/setup)</td></tr>",
                escape(portal)
            );
        }
        let server = if is_up(s.link, s.failures) {
            "reachable"
        } else if s.failures > 0 {
            "unreachable"
        } else {
            "not contacted yet"
        };
        let _ = write!(
            html,
            "<tr><th>Server</th><td>{} — {server}, {:?}</td></tr>",
            escape(&settings.server_url),
            s.link
        );
        if let Some(code) = &s.claim_code {
            let _ = write!(
                html,
                "<tr><th>Claim code</th><td><b>{}</b></td></tr>",
                escape(code)
            );
        }
        let clock = if s.time.is_synced() {
            "set by SNTP"
        } else {
            "not set yet (changes carry their age)"
        };
        let _ = write!(html, "<tr><th>Clock</th><td>{clock}</td></tr>");
        let _ = write!(
            html,
            "<tr><th>Waiting for upload</th><td>{} (dropped when the log was full: {})</td></tr>",
            s.queued, s.dropped
        );
        if let Some(error) = &s.last_error {
            let _ = write!(
                html,
                "<tr><th>Last problem</th><td>{}</td></tr>",
                escape(error)
            );
        }
        html.push_str("</table><h2>Recent changes (this boot)</h2><table><tr><th>Seq</th><th>GPIO</th><th>State</th><th>Ago</th></tr>");
        for change in s.recent.iter().rev() {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                change.seq,
                change.gpio,
                if change.running { "RUNNING" } else { "STOPPED" },
                duration(now.saturating_sub(change.uptime_ms) / 1000)
            );
        }
        html.push_str("</table>");
    }
    html.push_str("<h2>Flash log (oldest not yet acknowledged)</h2><table><tr><th>Seq</th><th>GPIO</th><th>State</th><th>Time</th></tr>");
    for change in pending {
        let time = match change.time {
            EventTime::Wall { ts_ms } => format!("{ts_ms} ms since 1970 (UTC)"),
            EventTime::Uptime { boot, ms } => format!("boot {boot}, {} s after start", ms / 1000),
        };
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{time}</td></tr>",
            change.seq,
            change.pin,
            if change.running { "RUNNING" } else { "STOPPED" }
        );
    }
    html.push_str("</table>");
    if portal {
        html.push_str(
            "<p><a href=\"/setup\">Set up Wi-Fi and server</a> · <a href=\"/inputs\">Set up the inputs</a></p>",
        );
    }
    page("assetlog logger", &html)
}

/// The Wi-Fi and server form, filled with `settings`, with `problem` above it.
pub fn setup_page(settings: &Settings, problem: Option<&str>) -> String {
    let mut html = String::new();
    if let Some(problem) = problem {
        let _ = write!(html, "<p style=\"color:#a00\">{}</p>", escape(problem));
    }
    let _ = write!(
        html,
        "<form method=\"post\" action=\"/setup\">\
<p><label>Wi-Fi network<br><input name=\"ssid\" maxlength=\"32\" required value=\"{}\"></label></p>\
<p><label>Wi-Fi password (empty for an open network)<br><input name=\"password\" type=\"password\" maxlength=\"64\"></label></p>\
<p><label>Server URL<br><input name=\"server_url\" maxlength=\"128\" required placeholder=\"http://192.168.1.10:8080\" value=\"{}\"></label></p>\
<p>For an https:// server, one of:</p>\
<p><label>The server certificate's SHA-256 (<code>openssl x509 -noout -fingerprint -sha256</code>)<br><input name=\"tls_pin_sha256\" maxlength=\"95\" size=\"70\" value=\"{}\"></label></p>\
<p><label>Or the CA certificate that signed it (PEM)<br><textarea name=\"tls_ca_pem\" rows=\"8\" cols=\"66\" maxlength=\"3072\">{}</textarea></label></p>\
<p><button>Save and restart</button></p></form>",
        escape(&settings.ssid),
        escape(&settings.server_url),
        escape(&settings.tls_pin_sha256),
        escape(&settings.tls_ca_pem)
    );
    page("Set up", &html)
}

/// The inputs form: one row per possible input, filled with `inputs`.
pub fn inputs_page(inputs: &[InputSpec], gpios: &Gpios, problem: Option<&str>) -> String {
    let mut html = String::new();
    if let Some(problem) = problem {
        let _ = write!(html, "<p style=\"color:#a00\">{}</p>", escape(problem));
    }
    let _ = write!(
        html,
        "<p>GPIO 0 to {}, not {:?} (the board's own). Leave the GPIO empty for no input in that row. An optocoupler module pulls the input low while the machine runs: tick <i>low = running</i>.</p>\
<form method=\"post\" action=\"/inputs\"><table><tr><th>GPIO</th><th>Asset name</th><th>low = running</th><th>Debounce (ms)</th></tr>",
        gpios.highest, gpios.reserved
    );
    for row in 0..MAX_INPUTS {
        let input = inputs.get(row);
        let _ = write!(
            html,
            "<tr><td><input name=\"gpio{row}\" size=\"3\" inputmode=\"numeric\" value=\"{}\"></td>\
<td><input name=\"name{row}\" maxlength=\"40\" value=\"{}\"></td>\
<td><input type=\"checkbox\" name=\"low{row}\"{}></td>\
<td><input name=\"debounce{row}\" size=\"5\" inputmode=\"numeric\" value=\"{}\"></td></tr>",
            input.map(|i| format!("{}", i.gpio)).unwrap_or_default(),
            input.map(|i| escape(&i.name)).unwrap_or_default(),
            if input.is_none_or(|i| i.active_low) {
                " checked"
            } else {
                ""
            },
            input.map_or(50, |i| i.debounce_ms)
        );
    }
    html.push_str("</table><p><button>Save and restart</button></p></form>");
    page("Inputs", &html)
}

/// HTML-escapes text from flash, the network or the form.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
