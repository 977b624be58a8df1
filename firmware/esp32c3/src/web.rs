//! The local page on port 80: the inputs' states, the recent changes, what waits in the flash
//! log, and the configuration. On the setup portal's network it also serves the setup form; a
//! saved form is checked by `assetlog-core`'s `setup::parse_form`, written to flash, and the
//! logger restarts with it. The form is not served on the factory network: whoever can reach
//! the logger there must not be able to point it at another server.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use assetlog_core::setup::parse_form;
use assetlog_core::timebase::EventTime;
use embassy_net::Stack;
use embassy_net::tcp::TcpSocket;
use embassy_time::{Duration, Timer, with_timeout};
use embedded_io_async::Write as _;

use crate::config::{GPIOS, InputSpec, MAX_INPUTS, RESERVED_GPIOS, Settings};
use crate::inputs::uptime_ms;
use crate::status::{self, WifiState};
use crate::uplink::is_up;
use crate::{SharedStore, display};

/// Longest request the page reads (headers and form body).
// The setup form carries a CA certificate of up to 3 KiB, URL-encoded.
const MAX_REQUEST: usize = 10 * 1024;

/// Which network a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The factory network (the station): the status page only.
    Station,
    /// The setup portal's access point: the status page and the setup form.
    Portal,
}

#[embassy_executor::task(pool_size = 2)]
pub async fn serve(stack: Stack<'static>, side: Side, store: &'static SharedStore) {
    let mut rx = [0u8; 1024];
    let mut tx = [0u8; 2048];
    loop {
        let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
        socket.set_timeout(Some(Duration::from_secs(10)));
        if socket.accept(80).await.is_err() {
            Timer::after(Duration::from_millis(100)).await;
            continue;
        }
        let restart = match read_request(&mut socket).await {
            Some(request) => respond(&mut socket, &request, side, store).await,
            None => false,
        };
        let _ = with_timeout(Duration::from_secs(2), socket.flush()).await;
        socket.close();
        Timer::after(Duration::from_millis(50)).await;
        socket.abort();
        if restart {
            log::info!("settings saved: restarting");
            Timer::after(Duration::from_millis(500)).await;
            esp_hal::system::software_reset();
        }
    }
}

struct HttpRequest {
    method: String,
    path: String,
    body: String,
}

async fn read_request(socket: &mut TcpSocket<'_>) -> Option<HttpRequest> {
    let mut buf = Vec::with_capacity(MAX_REQUEST);
    let mut chunk = [0u8; 512];
    let header_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            break end + 4;
        }
        if buf.len() >= MAX_REQUEST {
            return None;
        }
    };
    let head = core::str::from_utf8(&buf[..header_end]).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = String::from(request_line.next()?);
    let path = String::from(request_line.next()?);
    let content_length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if header_end + content_length > MAX_REQUEST {
        return None;
    }
    while buf.len() < header_end + content_length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body =
        String::from(core::str::from_utf8(&buf[header_end..header_end + content_length]).ok()?);
    Some(HttpRequest { method, path, body })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Answers one request; true when the logger should restart (new settings saved).
async fn respond(
    socket: &mut TcpSocket<'_>,
    request: &HttpRequest,
    side: Side,
    store: &SharedStore,
) -> bool {
    let path = request.path.split('?').next().unwrap_or("/");
    match (request.method.as_str(), path, side) {
        ("GET", "/", _) => {
            let page = status_page(store, side).await;
            send(socket, "200 OK", &page).await;
            false
        }
        ("GET", "/setup", Side::Portal) => {
            let settings = store.lock().await.settings().await.unwrap_or_default();
            send(socket, "200 OK", &setup_page(&settings, None)).await;
            false
        }
        ("POST", "/setup", Side::Portal) => match parse_form(&request.body) {
            Ok(form) => {
                let settings = Settings {
                    ssid: form.ssid,
                    password: form.password,
                    server_url: form.server_url,
                    tls_pin_sha256: form.tls_pin_sha256.unwrap_or_default(),
                    tls_ca_pem: form.tls_ca_pem.unwrap_or_default(),
                };
                // The form checked its shape; the CA must also be a certificate that parses.
                if let Err(problem) = settings.server_check() {
                    let page = setup_page(&settings, Some(problem));
                    send(socket, "400 Bad Request", &page).await;
                    return false;
                }
                match store.lock().await.save_settings(&settings).await {
                    Ok(()) => {
                        let page = page(
                            "Saved",
                            &format!(
                                "<p>Saved. The logger restarts and joins <b>{}</b>.</p>",
                                escape(&settings.ssid)
                            ),
                        );
                        send(socket, "200 OK", &page).await;
                        true
                    }
                    Err(e) => {
                        let message = format!("Cannot write the flash: {e}");
                        send(
                            socket,
                            "500 Internal Server Error",
                            &setup_page(&settings, Some(&message)),
                        )
                        .await;
                        false
                    }
                }
            }
            Err(e) => {
                let settings = Settings::default();
                let page = setup_page(&settings, Some(&format!("{e}")));
                send(socket, "400 Bad Request", &page).await;
                false
            }
        },
        ("GET", "/inputs", Side::Portal) => {
            let inputs = status::with(|s| {
                s.inputs
                    .iter()
                    .map(|(spec, _)| spec.clone())
                    .collect::<Vec<_>>()
            });
            send(socket, "200 OK", &inputs_page(&inputs, None)).await;
            false
        }
        ("POST", "/inputs", Side::Portal) => {
            let checked = assetlog_logger::inputs::from_form(&request.body).and_then(|inputs| {
                assetlog_logger::inputs::check(&inputs, &GPIOS).map(|()| inputs)
            });
            match checked {
                Ok(inputs) => match store.lock().await.save_inputs(&inputs).await {
                    Ok(()) => {
                        let page = page(
                            "Saved",
                            "<p>Saved. The logger restarts and watches the new inputs; the server learns new pins at its next registration.</p>",
                        );
                        send(socket, "200 OK", &page).await;
                        true
                    }
                    Err(e) => {
                        let message = format!("Cannot write the flash: {e}");
                        send(
                            socket,
                            "500 Internal Server Error",
                            &inputs_page(&inputs, Some(&message)),
                        )
                        .await;
                        false
                    }
                },
                Err(e) => {
                    let inputs = status::with(|s| {
                        s.inputs
                            .iter()
                            .map(|(spec, _)| spec.clone())
                            .collect::<Vec<_>>()
                    });
                    send(
                        socket,
                        "400 Bad Request",
                        &inputs_page(&inputs, Some(&format!("{e}"))),
                    )
                    .await;
                    false
                }
            }
        }
        _ => {
            send(
                socket,
                "404 Not Found",
                &page("Not found", "<p><a href=\"/\">Status</a></p>"),
            )
            .await;
            false
        }
    }
}

async fn send(socket: &mut TcpSocket<'_>, status: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if socket.write_all(head.as_bytes()).await.is_ok() {
        let _ = socket.write_all(body.as_bytes()).await;
    }
}

fn page(title: &str, content: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>assetlog · {title}</title><style>body{{font-family:sans-serif;margin:1em;max-width:40em}}\
table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ccc;padding:.2em .6em;text-align:left}}\
.run{{color:#070}}.stop{{color:#a00}}</style></head><body><h1>{title}</h1>{content}</body></html>"
    )
}

async fn status_page(store: &SharedStore, side: Side) -> String {
    let now = uptime_ms();
    let (pending, settings) = {
        let mut store = store.lock().await;
        (
            store.oldest(20).await.unwrap_or_default(),
            store.settings().await.unwrap_or_default(),
        )
    };
    let mut html = String::new();
    let s = status::snapshot();
    {
        let _ = write!(
            html,
            "<p>Logger <b>{}</b>, firmware {}, up {}</p>",
            escape(&s.logger_id),
            crate::config::FIRMWARE_VERSION,
            display::duration(now / 1000)
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
                display::duration(now.saturating_sub(state.since_ms) / 1000)
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
                display::duration(now.saturating_sub(change.uptime_ms) / 1000)
            );
        }
        html.push_str("</table>");
    }
    html.push_str("<h2>Flash log (oldest not yet acknowledged)</h2><table><tr><th>Seq</th><th>GPIO</th><th>State</th><th>Time</th></tr>");
    for change in &pending {
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
    if side == Side::Portal {
        html.push_str(
            "<p><a href=\"/setup\">Set up Wi-Fi and server</a> · <a href=\"/inputs\">Set up the inputs</a></p>",
        );
    }
    page("assetlog logger", &html)
}

fn setup_page(settings: &Settings, problem: Option<&str>) -> String {
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
fn inputs_page(inputs: &[InputSpec], problem: Option<&str>) -> String {
    let mut html = String::new();
    if let Some(problem) = problem {
        let _ = write!(html, "<p style=\"color:#a00\">{}</p>", escape(problem));
    }
    let _ = write!(
        html,
        "<p>GPIO 0 to {}, not {:?} (the board's own). Leave the GPIO empty for no input in that row. An optocoupler module pulls the input low while the machine runs: tick <i>low = running</i>.</p>\
<form method=\"post\" action=\"/inputs\"><table><tr><th>GPIO</th><th>Asset name</th><th>low = running</th><th>Debounce (ms)</th></tr>",
        GPIOS.highest, RESERVED_GPIOS
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
fn escape(text: &str) -> String {
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
