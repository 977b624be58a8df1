//! HTTPS and WSS with `--tls-cert`/`--tls-key`: served, renewed on SIGHUP without dropping a
//! connection, refused at start with a clear error, and robust against clients that do not speak
//! TLS.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStderr, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Message;

use crate::certs::{Ca, Issued, Validity};
use crate::helpers::*;

/// A client of the server that trusts only `ca`.
fn client_trusting(ca: &Ca) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap()])
        .build()
        .unwrap()
}

fn connector(ca: &Ca) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    let der = rustls::pki_types::CertificateDer::from_pem_slice(ca.pem().as_bytes()).unwrap();
    roots.add(der).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

use rustls::pki_types::pem::PemObject;

/// A TLS connection to `addr` (HOST:PORT) for the name 127.0.0.1.
async fn tls_connect(ca: &Ca, addr: &str) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connects");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    connector(ca)
        .connect(name, tcp)
        .await
        .expect("TLS handshake")
}

/// The certificate the server presented on `stream`.
fn presented(stream: &TlsStream<TcpStream>) -> Vec<u8> {
    stream
        .get_ref()
        .1
        .peer_certificates()
        .expect("a certificate")[0]
        .to_vec()
}

/// `GET /healthz` on a kept-alive connection: the status line's code.
async fn healthz_on(stream: &mut TlsStream<TcpStream>) -> u16 {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    while !answer.ends_with(br#"{"status":"ok"}"#) {
        let mut chunk = [0u8; 512];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "closed while answering: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&chunk[..n]);
    }
    std::str::from_utf8(&answer[9..12])
        .unwrap()
        .parse()
        .unwrap()
}

fn addr_of(url: &str) -> &str {
    url.trim_start_matches("https://")
        .trim_start_matches("http://")
}

#[tokio::test]
async fn https_serves_the_api_and_wss_the_live_socket_with_hsts() {
    let pki = tempfile::tempdir().unwrap();
    let ca = Ca::new(pki.path(), "ca", "assetlog test CA");
    let server = ca.issue(
        pki.path(),
        "server",
        &["127.0.0.1", "localhost"],
        Validity::Now,
    );
    let mut app = spawn_app_with(|c| {
        c.tls_cert = Some(server.cert.clone());
        c.tls_key = Some(server.key.clone());
    })
    .await;
    assert!(app.url.starts_with("https://127.0.0.1:"), "{}", app.url);
    app.client = client_trusting(&ca);

    let resp = app.get("/healthz", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["strict-transport-security"],
        "max-age=31536000"
    );

    // The whole logger path over HTTPS, seen live over WSS.
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-tls").await;
    let stream = tls_connect(&ca, addr_of(&app.url)).await;
    let url = format!(
        "wss://{}/api/v1/live?token={}",
        addr_of(&app.url),
        admin.token
    );
    let (mut live, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("the live socket opens over TLS");
    let resp = app
        .ingest(
            &device,
            json!([{"seq": 1, "pin": 2, "running": true, "ts": now_ms() - 1000}]),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let change = loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .expect("a live message in time")
            .expect("the socket stays open")
            .expect("a frame");
        if let Message::Text(text) = frame {
            let message: Value = serde_json::from_str(&text).unwrap();
            if message["type"] == "asset_state_change" {
                break message;
            }
        }
    };
    assert_eq!(change["logger_id"], "esp-tls");
    assert_eq!(change["state"], "RUNNING");
    app.shutdown().await;
}

#[tokio::test]
async fn without_tls_no_hsts_is_sent() {
    let app = spawn_app().await;
    assert!(app.url.starts_with("http://"));
    let resp = app.get("/healthz", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        !resp.headers().contains_key("strict-transport-security"),
        "HSTS over plain HTTP"
    );
}

#[tokio::test]
async fn clients_that_do_not_speak_tls_are_closed_and_the_server_keeps_serving() {
    let pki = tempfile::tempdir().unwrap();
    let ca = Ca::new(pki.path(), "ca", "assetlog test CA");
    let server = ca.issue(pki.path(), "server", &["127.0.0.1"], Validity::Now);
    let mut app = spawn_app_with(|c| {
        c.tls_cert = Some(server.cert.clone());
        c.tls_key = Some(server.key.clone());
        c.header_read_timeout = 1;
        c.idle_timeout = 60;
    })
    .await;
    app.client = client_trusting(&ca);
    let addr = addr_of(&app.url).to_owned();

    // Plain HTTP to the TLS port: no answer in clear, the connection closed.
    let mut plain = TcpStream::connect(&addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut got))
        .await
        .expect("closed by the server")
        .ok();
    assert!(!got.starts_with(b"HTTP/"), "answered in clear: {got:?}");

    // Connected, never a byte, and a handshake begun and left: both closed by the
    // header-read timeout (the idle timeout, 60 s, would not end them in time).
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let mut half = TcpStream::connect(&addr).await.unwrap();
    // The first bytes of a TLS record header for a ClientHello, and no more.
    half.write_all(&[0x16, 0x03, 0x01, 0x02]).await.unwrap();
    for socket in [&mut silent, &mut half] {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut rest))
            .await
            .expect("closed by the server")
            .ok();
    }

    // Garbage where a ClientHello belongs.
    let mut junk = TcpStream::connect(&addr).await.unwrap();
    junk.write_all(&[0xff; 600]).await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), junk.read_to_end(&mut rest))
        .await
        .expect("closed by the server")
        .ok();

    let resp = app.get("/healthz", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

/// `assetlog serve` (with TLS, unless `issued` is None) as a process, its log read line by line.
struct LoggedServer {
    child: Child,
    log: BufReader<ChildStderr>,
    url: String,
}

impl LoggedServer {
    fn start(data_dir: &Path, issued: Option<&Issued>) -> Self {
        let mut command = assetlog();
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir);
        if let Some(issued) = issued {
            command
                .arg("--tls-cert")
                .arg(&issued.cert)
                .arg("--tls-key")
                .arg(&issued.key);
        }
        let mut child = command
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("server process starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("no listening line: {line:?}"))
            .to_owned();
        let log = BufReader::new(child.stderr.take().unwrap());
        Self { child, log, url }
    }

    fn hang_up(&self) {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Reads the log until a line containing `needle`; returns that line.
    fn log_until(&mut self, needle: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.log.read_line(&mut line).unwrap();
            assert!(n > 0, "the server exited before logging {needle:?}");
            if line.contains(needle) {
                return line;
            }
        }
    }
}

impl Drop for LoggedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn sighup_serves_a_renewed_certificate_to_new_connections_and_keeps_open_ones() {
    let pki = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let ca = Ca::new(pki.path(), "ca", "assetlog test CA");
    let first = ca.issue(pki.path(), "server", &["127.0.0.1"], Validity::Now);
    let mut server = LoggedServer::start(data.path(), Some(&first));
    let addr = addr_of(&server.url).to_owned();
    assert!(server.url.starts_with("https://"), "{}", server.url);

    let mut kept = tls_connect(&ca, &addr).await;
    assert_eq!(presented(&kept), first.der);
    assert_eq!(healthz_on(&mut kept).await, 200);

    // The renewal: new files in place (a new key too), then SIGHUP.
    let renewed = ca.issue(pki.path(), "renewed", &["127.0.0.1"], Validity::Now);
    std::fs::copy(&renewed.cert, &first.cert).unwrap();
    std::fs::copy(&renewed.key, &first.key).unwrap();
    server.hang_up();
    server.log_until("SIGHUP: re-read the TLS certificate and key");

    let mut fresh = tls_connect(&ca, &addr).await;
    assert_eq!(
        presented(&fresh),
        renewed.der,
        "a new connection gets the renewed certificate"
    );
    assert_eq!(healthz_on(&mut fresh).await, 200);
    // The connection opened before the renewal goes on with its own.
    assert_eq!(healthz_on(&mut kept).await, 200);

    // A renewal gone wrong (a key that is not the certificate's): the certificate in use stays.
    let other = ca.issue(pki.path(), "other", &["127.0.0.1"], Validity::Now);
    std::fs::copy(&other.key, &first.key).unwrap();
    server.hang_up();
    let line = server.log_until("SIGHUP: cannot re-read the TLS files");
    assert!(line.contains("is not the key of the certificate"), "{line}");
    let mut after = tls_connect(&ca, &addr).await;
    assert_eq!(presented(&after), renewed.der);
    assert_eq!(healthz_on(&mut after).await, 200);
    assert_eq!(healthz_on(&mut kept).await, 200);

    // A file that is not PEM at all: the same.
    std::fs::write(&first.cert, "not a certificate").unwrap();
    server.hang_up();
    let line = server.log_until("SIGHUP: cannot re-read the TLS files");
    assert!(line.contains("holds no certificate"), "{line}");
    let mut last = tls_connect(&ca, &addr).await;
    assert_eq!(presented(&last), renewed.der);
    assert_eq!(healthz_on(&mut last).await, 200);
}

#[tokio::test]
async fn sighup_without_tls_is_logged_and_the_server_goes_on() {
    let data = tempfile::tempdir().unwrap();
    let mut server = LoggedServer::start(data.path(), None);
    assert!(server.url.starts_with("http://"), "{}", server.url);
    server.hang_up();
    server.log_until("SIGHUP: nothing to re-read");
    let resp = http()
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[test]
fn bad_tls_files_stop_the_start_with_an_error_that_names_the_file() {
    let pki = tempfile::tempdir().unwrap();
    let ca = Ca::new(pki.path(), "ca", "assetlog test CA");
    let good = ca.issue(pki.path(), "server", &["127.0.0.1"], Validity::Now);
    let other = ca.issue(pki.path(), "other", &["127.0.0.1"], Validity::Now);
    let garbage = pki.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64 !!\n").unwrap();
    let empty = pki.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let missing = pki.path().join("missing.pem");
    let p = |path: &Path| path.to_str().unwrap().to_owned();

    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--tls-cert".into(), p(&good.cert)], "--tls-key"),
        (vec!["--tls-key".into(), p(&good.key)], "--tls-cert"),
        (
            vec![
                "--tls-cert".into(),
                p(&missing),
                "--tls-key".into(),
                p(&good.key),
            ],
            "cannot read --tls-cert",
        ),
        (
            vec![
                "--tls-cert".into(),
                p(&empty),
                "--tls-key".into(),
                p(&good.key),
            ],
            "holds no certificate",
        ),
        (
            vec![
                "--tls-cert".into(),
                p(&garbage),
                "--tls-key".into(),
                p(&good.key),
            ],
            "is not PEM",
        ),
        (
            vec![
                "--tls-cert".into(),
                p(&good.cert),
                "--tls-key".into(),
                p(&good.cert),
            ],
            "holds no private key",
        ),
        (
            vec![
                "--tls-cert".into(),
                p(&good.cert),
                "--tls-key".into(),
                p(&other.key),
            ],
            "is not the key of the certificate",
        ),
    ];
    for (flags, expected) in cases {
        let data = tempfile::tempdir().unwrap();
        let out = assetlog()
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(&flags)
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?} started");
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    }
}
