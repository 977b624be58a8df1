//! The local page on port 80: the inputs' states, the recent changes, what waits in the flash
//! log, and the configuration. On the setup portal's network it also serves the setup form; a
//! saved form is checked by `assetlog-core`'s `setup::parse_form`, written to flash, and the
//! logger restarts with it. The form is not served on the factory network: whoever can reach
//! the logger there must not be able to point it at another server.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use assetlog_core::setup::parse_form;
use assetlog_logger::view;
use embassy_net::Stack;
use embassy_net::tcp::TcpSocket;
use embassy_time::{Duration, Timer, with_timeout};
use embedded_io_async::Write as _;

use crate::SharedStore;
use crate::config::{GPIOS, Settings};
use crate::inputs::uptime_ms;
use crate::status;

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
            send(socket, "200 OK", &view::setup_page(&settings, None)).await;
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
                    let page = view::setup_page(&settings, Some(problem));
                    send(socket, "400 Bad Request", &page).await;
                    return false;
                }
                match store.lock().await.save_settings(&settings).await {
                    Ok(()) => {
                        let page = view::page(
                            "Saved",
                            &format!(
                                "<p>Saved. The logger restarts and joins <b>{}</b>.</p>",
                                view::escape(&settings.ssid)
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
                            &view::setup_page(&settings, Some(&message)),
                        )
                        .await;
                        false
                    }
                }
            }
            Err(e) => {
                let settings = Settings::default();
                let page = view::setup_page(&settings, Some(&format!("{e}")));
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
            send(socket, "200 OK", &view::inputs_page(&inputs, &GPIOS, None)).await;
            false
        }
        ("POST", "/inputs", Side::Portal) => {
            let checked = assetlog_logger::inputs::from_form(&request.body).and_then(|inputs| {
                assetlog_logger::inputs::check(&inputs, &GPIOS).map(|()| inputs)
            });
            match checked {
                Ok(inputs) => match store.lock().await.save_inputs(&inputs).await {
                    Ok(()) => {
                        let page = view::page(
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
                            &view::inputs_page(&inputs, &GPIOS, Some(&message)),
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
                        &view::inputs_page(&inputs, &GPIOS, Some(&format!("{e}"))),
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
                &view::page("Not found", "<p><a href=\"/\">Status</a></p>"),
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

async fn status_page(store: &SharedStore, side: Side) -> String {
    let (pending, settings) = {
        let mut store = store.lock().await;
        (
            store.oldest(20).await.unwrap_or_default(),
            store.settings().await.unwrap_or_default(),
        )
    };
    let html = view::status_page(
        &status::snapshot(),
        &pending,
        &settings,
        uptime_ms(),
        side == Side::Portal,
        crate::config::FIRMWARE_VERSION,
    );
    view::page("assetlog logger", &html)
}
