//! The firmware's uploader (`assetlog_logger::uplink::run`, the code the chip runs) on the host,
//! over tokio's TCP, against a real `assetlog serve` process: it registers, is claimed, uploads,
//! rides out a server killed and restarted while changes wait, and after its key is rotated is
//! refused until an admin deletes the logger, when it registers anew. Every change is stored
//! exactly once.
//!
//! The server binary comes from the same target directory: `cargo test --workspace` builds it;
//! with `cargo test -p assetlog-logger` alone, run `cargo build -p assetlog-server` first.

#[path = "../../server/tests/support/certs.rs"]
mod certs;
mod flash;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use assetlog_core::timebase::{EarlierBoots, EventTime, TimeBase};
use assetlog_core::uplink::Link;
use assetlog_core::wire::AssetName;
use assetlog_logger::store::Store;
use assetlog_logger::tls::ServerCheck;
use assetlog_logger::uplink::{Logger, Shared, Station};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::mutex::Mutex;
use embedded_io_adapters::tokio_1::FromTokio;
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

use crate::flash::{Flash, SECTOR};

/// How long anything here may take before it counts as never.
const DEADLINE: Duration = Duration::from_secs(90);
/// The flash: settings and a log far larger than the workload.
const SECTORS: usize = 64;
const PASSWORD: &str = "correct horse battery";

/// tokio's TCP and resolver as `embedded-nal-async` sees a network.
struct Net;

impl TcpConnect for Net {
    type Error = std::io::Error;
    type Connection<'a> = FromTokio<TcpStream>;

    async fn connect<'a>(
        &'a self,
        remote: SocketAddr,
    ) -> Result<Self::Connection<'a>, Self::Error> {
        let tcp = TcpStream::connect(remote).await?;
        tcp.set_nodelay(true)?;
        Ok(FromTokio::new(tcp))
    }
}

impl Dns for Net {
    type Error = std::io::Error;

    async fn get_host_by_name(&self, host: &str, _: AddrType) -> Result<IpAddr, Self::Error> {
        tokio::net::lookup_host((host, 0))
            .await?
            .next()
            .map(|a| a.ip())
            .ok_or_else(|| std::io::Error::other(format!("{host} has no address")))
    }

    async fn get_host_by_address(&self, _: IpAddr, _: &mut [u8]) -> Result<usize, Self::Error> {
        Err(std::io::Error::other("no reverse lookups"))
    }
}

/// The board as the test plays it: what the uploader shows, as channels the test awaits.
struct Board {
    link: watch::Sender<(Link, u32)>,
    claim_code: watch::Sender<Option<String>>,
    queued: watch::Sender<usize>,
    error: watch::Sender<Option<String>>,
    recorded: Notify,
    errors: RefCell<Vec<String>>,
}

impl Board {
    fn new() -> Self {
        Self {
            link: watch::channel((Link::Unregistered, 0)).0,
            claim_code: watch::channel(None).0,
            queued: watch::channel(0).0,
            error: watch::channel(None).0,
            recorded: Notify::new(),
            errors: RefCell::new(Vec::new()),
        }
    }
}

impl Station for Board {
    fn error(&self, message: String) {
        self.errors.borrow_mut().push(message.clone());
        self.error.send_replace(Some(message));
    }
    fn link(&self, link: Link, failures: u32) {
        self.link.send_replace((link, failures));
    }
    fn claim_code(&self, code: Option<String>) {
        self.claim_code.send_replace(code);
    }
    fn shows_claim_code(&self) -> bool {
        self.claim_code.borrow().is_some()
    }
    fn queued(&self, queued: usize) {
        self.queued.send_replace(queued);
    }
    fn time(&self) -> TimeBase {
        // SNTP has answered: the wall clock is known (certificates' dates are checked by it).
        let mut time = TimeBase::new(1);
        time.synced(assetlog_logger::uplink::uptime_ms(), now_ms());
        time
    }
    fn rssi(&self) -> Option<i32> {
        Some(-60)
    }
    fn free_heap(&self) -> Option<u64> {
        None
    }
    fn ip_address(&self) -> Option<String> {
        Some("127.0.0.1".into())
    }
    async fn network_up(&self) {}
    async fn recorded(&self) {
        self.recorded.notified().await;
    }
    async fn clock_set(&self) {
        std::future::pending::<()>().await;
    }
}

/// Waits until `rx` satisfies `check`, failing the test after [`DEADLINE`].
async fn until<T>(what: &str, rx: &watch::Sender<T>, check: impl FnMut(&T) -> bool) {
    let mut rx = rx.subscribe();
    tokio::time::timeout(DEADLINE, rx.wait_for(check))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .expect("the board stays");
}

fn server_bin() -> PathBuf {
    let bin = std::env::current_exe()
        .expect("the test's path")
        .parent()
        .and_then(Path::parent)
        .expect("target/debug")
        .join("assetlog");
    assert!(
        bin.exists(),
        "the server binary {} is missing: run `cargo build -p assetlog-server` (or test the whole workspace with `cargo test --workspace`, which builds it)",
        bin.display()
    );
    bin
}

/// `assetlog serve` on a port of its own, and its API as an admin uses it.
struct Server {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Server {
    fn start(data_dir: &Path, port: u16, enrollment: &str) -> Self {
        Self::start_with(data_dir, port, enrollment, &[])
    }

    /// With TLS: the certificate and key files of `issued`. The test's own requests take any
    /// certificate: what the logger trusts is what these tests are about.
    fn start_tls(data_dir: &Path, issued: &certs::Issued) -> Self {
        let mut server = Self::start_with(
            data_dir,
            free_port(),
            "auto",
            &[
                "--tls-cert".into(),
                issued.cert.display().to_string(),
                "--tls-key".into(),
                issued.key.display().to_string(),
            ],
        );
        server.http = reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        server
    }

    fn start_with(data_dir: &Path, port: u16, enrollment: &str, flags: &[String]) -> Self {
        // The test's own client is reqwest on rustls, which needs its crypto chosen.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut child = Command::new(server_bin())
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args(["--enrollment", enrollment, "--heartbeat-interval", "5"])
            .args(flags)
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the server did not start: {line:?}"))
            .to_owned();
        Self {
            child,
            url,
            http: reqwest::Client::new(),
        }
    }

    /// SIGKILL: no chance to finish anything.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let resp = request.send().await.expect("the server answers");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn signup(&self) -> String {
        let body =
            json!({"email": "ada@plant.example", "password": PASSWORD, "tenant_name": "Plant"});
        let answer = self
            .call(
                reqwest::Method::POST,
                "/api/v1/auth/signup",
                None,
                Some(body),
            )
            .await;
        answer["token"].as_str().unwrap().to_owned()
    }

    /// How many times the tenant holds each seq.
    async fn seqs(&self, token: &str) -> BTreeMap<u64, usize> {
        let page = self
            .call(
                reqwest::Method::GET,
                "/api/v1/events?limit=1000",
                Some(token),
                None,
            )
            .await;
        let events = page["events"].as_array().unwrap();
        assert!(events.len() < 1000, "one page holds them all");
        let mut seqs = BTreeMap::new();
        for event in events {
            *seqs.entry(event["seq"].as_u64().unwrap()).or_insert(0) += 1;
        }
        seqs
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// 32 bytes from the system's random source, as the chip's hardware RNG gives them.
fn random_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    let mut urandom = std::fs::File::open("/dev/urandom").unwrap();
    std::io::Read::read_exact(&mut urandom, &mut seed).unwrap();
    seed
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The logger: its flash, its store, what it shows.
struct Device {
    store: Shared<NoopRawMutex, Flash>,
    board: Board,
    logger: Logger,
    /// The next change's number in the workload (its pin, state and time follow from it).
    step: std::cell::Cell<u64>,
    started_ms: i64,
}

impl Device {
    async fn new(server_url: &str, logger_id: &str) -> Self {
        Self::checking(server_url, logger_id, None).await
    }

    /// A logger of an `https://` server, checked by `check`.
    async fn checking(server_url: &str, logger_id: &str, check: Option<ServerCheck>) -> Self {
        let opened = Store::open(Flash::new(SECTORS), 0..(SECTORS * SECTOR) as u32)
            .await
            .expect("a fresh flash opens");
        Self {
            store: Mutex::new(opened.store),
            board: Board::new(),
            logger: Logger {
                logger_id: logger_id.into(),
                server_url: server_url.into(),
                firmware_version: "host-test".into(),
                assets: (0..2)
                    .map(|pin| AssetName {
                        pin_number: pin,
                        asset_name: format!("Machine {pin}"),
                    })
                    .collect(),
                // Small batches: an upload of a few hundred changes takes many requests.
                max_batch: 10,
                request_timeout_ms: 5_000,
                seed: 7,
                server_check: check,
                tls_seed: random_seed(),
            },
            step: std::cell::Cell::new(0),
            started_ms: now_ms() - 3_600_000,
        }
    }

    /// Records `n` changes as the inputs would, and wakes the uploader.
    async fn record(&self, n: u64) {
        for _ in 0..n {
            let step = self.step.get();
            self.step.set(step + 1);
            let pin = (step % 2) as u8;
            let running = (step / 2).is_multiple_of(2);
            let time = EventTime::Wall {
                ts_ms: self.started_ms + step as i64 * 100,
            };
            let mut store = self.store.lock().await;
            store.record(pin, running, time).await.expect("recorded");
            self.board.queued.send_replace(store.depth());
        }
        self.board.recorded.notify_one();
    }

    async fn drained(&self, what: &str) {
        until(what, &self.board.queued, |q| *q == 0).await;
    }

    async fn uplink(&self) {
        assetlog_logger::uplink::run(
            &Net,
            &Net,
            &self.store,
            &self.board,
            &self.logger,
            EarlierBoots::new(),
        )
        .await;
    }
}

fn assert_once_each(seqs: &BTreeMap<u64, usize>, upto: u64) {
    let expected: BTreeMap<u64, usize> = (1..=upto).map(|s| (s, 1)).collect();
    assert_eq!(*seqs, expected, "every seq 1..={upto} exactly once");
}

#[tokio::test]
async fn the_uploader_registers_is_claimed_uploads_and_rides_out_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Server::start(dir.path(), port, "claim");
    let token = server.signup().await;
    let device = Device::new(&server.url, "esp32c3-host-1").await;

    let test = async {
        device.record(30).await;
        // Pending: it shows its claim code, and the server keeps its changes meanwhile.
        until("a claim code", &device.board.claim_code, Option::is_some).await;
        device.drained("30 changes while pending").await;
        let code = device.board.claim_code.borrow().clone().unwrap();
        server
            .call(
                reqwest::Method::POST,
                "/api/v1/loggers/claim",
                Some(&token),
                Some(json!({"logger_id": "esp32c3-host-1", "claim_code": code})),
            )
            .await;
        // The next heartbeat (the server asks for one every 5 s) tells it it is claimed.
        until("the claim noticed", &device.board.link, |(link, _)| {
            *link == Link::Claimed
        })
        .await;
        assert_eq!(*device.board.claim_code.borrow(), None);
        assert_once_each(&server.seqs(&token).await, 30);

        // 300 more; the server dies as soon as the first batch of them is acknowledged.
        device.record(300).await;
        until("an upload under way", &device.board.queued, |q| *q < 300).await;
        // Killed with changes still waiting: the next upload finds no server, backs off and
        // tries again until the new one answers.
        assert!(*device.board.queued.borrow() > 0);
        server.kill();
        server = Server::start(dir.path(), port, "claim");
        device.drained("330 changes across the restart").await;
        assert_once_each(&server.seqs(&token).await, 330);
    };
    tokio::select! {
        () = test => {}
        () = device.uplink() => unreachable!("the uploader runs for as long as the logger"),
    }
}

/// Between the logger and the server: passes each request and its answer, except the first
/// upload that carries events once armed: that one reaches the server, which stores it, but its
/// answer is held back and the connection closed; `held` then fires. What a logger sees when
/// the server dies after its commit and before its answer.
async fn interceptor(server_port: u16) -> (String, tokio::sync::oneshot::Receiver<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (held_tx, held) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut held_tx = Some(held_tx);
        while let Ok((mut client, _)) = listener.accept().await {
            // One request per connection (the uploader connects for each).
            let mut request = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = client.read(&mut chunk).await {
                request.extend_from_slice(&chunk[..n]);
                if complete(&request) {
                    break;
                }
            }
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", server_port)).await else {
                continue;
            };
            if server.write_all(&request).await.is_err() {
                continue;
            }
            let text = String::from_utf8_lossy(&request);
            let uploads_events =
                text.starts_with("POST /api/v1/ingest") && text.contains("\"seq\":");
            if uploads_events && let Some(tx) = held_tx.take() {
                // The answer's first bytes: the server has committed. They go nowhere.
                let _ = server.read(&mut chunk).await;
                drop(client);
                let _ = tx.send(());
                continue;
            }
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        }
    });
    (url, held)
}

/// A whole HTTP request: its head and `Content-Length` bytes of body.
fn complete(request: &[u8]) -> bool {
    let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    request.len() >= end + 4 + length
}

#[tokio::test]
async fn a_batch_stored_by_a_server_killed_before_it_answered_is_sent_again_and_kept_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Server::start(dir.path(), port, "auto");
    let token = server.signup().await;
    let (url, held) = interceptor(port).await;
    let device = Device::new(&url, "esp32c3-host-3").await;
    let test = async {
        device.record(40).await;
        tokio::time::timeout(DEADLINE, held)
            .await
            .expect("an upload reached the server")
            .unwrap();
        // The server committed that batch; it dies before anyone hears it did.
        server.kill();
        assert_eq!(
            device.store.lock().await.depth(),
            40,
            "nothing released without an answer"
        );
        server = Server::start(dir.path(), port, "auto");
        device.drained("40 changes after the restart").await;
        assert_once_each(&server.seqs(&token).await, 40);
        // The batch came again and the new server found it stored: the commit had happened.
        let metrics = server
            .http
            .get(format!("{}/metrics", server.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let duplicates = metrics
            .lines()
            .find_map(|l| l.strip_prefix("assetlog_events_duplicate_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        assert!(duplicates >= 1.0, "no upload came twice:\n{metrics}");
    };
    tokio::select! {
        () = test => {}
        () = device.uplink() => unreachable!("the uploader runs for as long as the logger"),
    }
}

#[tokio::test]
async fn a_rotated_key_is_refused_until_the_logger_is_deleted_and_registers_anew() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), free_port(), "auto");
    let token = server.signup().await;
    let device = Device::new(&server.url, "esp32c3-host-2").await;

    let test = async {
        device.record(10).await;
        device.drained("10 changes").await;
        let first_key = device.store.lock().await.device_key().await.unwrap();
        assert!(first_key.is_some());

        server
            .call(
                reqwest::Method::POST,
                "/api/v1/loggers/esp32c3-host-2/rotate-key",
                Some(&token),
                None,
            )
            .await;
        device.record(5).await;
        until("the key refused", &device.board.error, |e| {
            e.as_deref()
                .is_some_and(|e| e.contains("refuses this logger's key"))
        })
        .await;
        assert_eq!(device.store.lock().await.depth(), 5, "kept while refused");

        // The admin deletes it (keeping its history); it registers anew and uploads the rest.
        let resp = server
            .http
            .delete(format!("{}/api/v1/loggers/esp32c3-host-2", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        device.drained("the 5 refused changes").await;
        assert_once_each(&server.seqs(&token).await, 15);
        let new_key = device.store.lock().await.device_key().await.unwrap();
        assert!(
            new_key.is_some() && new_key != first_key,
            "the new key is kept"
        );
    };
    tokio::select! {
        () = test => {}
        () = device.uplink() => unreachable!("the uploader runs for as long as the logger"),
    }
}

/// A logger of the HTTPS server at `server`, checked by `check`, records 12 changes: they
/// arrive exactly once.
async fn uploads_over_https(server: &Server, check: ServerCheck) {
    let token = server.signup().await;
    let device = Device::checking(&server.url, "esp32c3-tls", Some(check)).await;
    let test = async {
        device.record(12).await;
        device.drained("12 changes over HTTPS").await;
        assert_once_each(&server.seqs(&token).await, 12);
    };
    tokio::select! {
        () = test => {}
        () = device.uplink() => unreachable!("the uploader runs for as long as the logger"),
    }
}

/// The logger refuses the HTTPS server at `server`: it shows why (`expected`), keeps its
/// changes, and never registered.
async fn refuses(server: &Server, check: ServerCheck, expected: &str) {
    let token = server.signup().await;
    let device = Device::checking(&server.url, "esp32c3-refuses", Some(check)).await;
    let test = async {
        device.record(3).await;
        until(expected, &device.board.error, |e| {
            e.as_deref().is_some_and(|e| e.contains(expected))
        })
        .await;
        assert_eq!(
            device.store.lock().await.depth(),
            3,
            "kept for a server it trusts"
        );
        let loggers = server
            .call(reqwest::Method::GET, "/api/v1/loggers", Some(&token), None)
            .await;
        assert_eq!(loggers.as_array().map(Vec::len), Some(0), "{loggers}");
        assert!(
            device
                .board
                .errors
                .borrow()
                .iter()
                .all(|e| e.contains(expected)),
            "every attempt refused for the same reason: {:?}",
            device.board.errors.borrow()
        );
    };
    tokio::select! {
        () = test => {}
        () = device.uplink() => unreachable!("the uploader runs for as long as the logger"),
    }
}

fn der_of(pem_file: &Path) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_file(pem_file).unwrap().to_vec()
}

fn sha256(der: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(der).into()
}

#[tokio::test]
async fn over_https_a_server_signed_by_the_configured_ca_gets_every_change_once() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new(dir.path(), "ca", "Plant CA");
    let issued = ca.issue(dir.path(), "server", &["127.0.0.1"], certs::Validity::Now);
    let server = Server::start_tls(&dir.path().join("data"), &issued);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    uploads_over_https(&server, ServerCheck::Ca(der_of(&ca.file))).await;
}

#[tokio::test]
async fn over_https_the_pinned_certificate_is_trusted_whatever_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new(dir.path(), "ca", "Its own CA");
    let issued = ca.issue(
        dir.path(),
        "server",
        &["elsewhere.example"],
        certs::Validity::Now,
    );
    let server = Server::start_tls(&dir.path().join("data"), &issued);
    uploads_over_https(&server, ServerCheck::Pin(sha256(&issued.der))).await;
}

#[tokio::test]
async fn an_expired_certificate_is_refused_as_expired() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new(dir.path(), "ca", "Plant CA");
    let issued = ca.issue(
        dir.path(),
        "server",
        &["127.0.0.1"],
        certs::Validity::Expired,
    );
    let server = Server::start_tls(&dir.path().join("data"), &issued);
    let check = ServerCheck::Ca(der_of(&ca.file));
    refuses(&server, check, "the server's certificate has expired").await;
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new(dir.path(), "ca", "Plant CA");
    let issued = ca.issue(
        dir.path(),
        "server",
        &["other.plant.example"],
        certs::Validity::Now,
    );
    let server = Server::start_tls(&dir.path().join("data"), &issued);
    let check = ServerCheck::Ca(der_of(&ca.file));
    let expected =
        "the server's certificate is not valid for 127.0.0.1 (it names other.plant.example)";
    refuses(&server, check, expected).await;
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plant = certs::Ca::new(dir.path(), "plant", "Plant CA");
    let stranger = certs::Ca::new(dir.path(), "stranger", "Stranger CA");
    let issued = stranger.issue(dir.path(), "server", &["127.0.0.1"], certs::Validity::Now);
    let server = Server::start_tls(&dir.path().join("data"), &issued);
    let check = ServerCheck::Ca(der_of(&plant.file));
    refuses(&server, check, "not signed by the configured CA").await;
}

#[tokio::test]
async fn a_certificate_other_than_the_pinned_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new(dir.path(), "ca", "Plant CA");
    let pinned = ca.issue(dir.path(), "pinned", &["127.0.0.1"], certs::Validity::Now);
    let served = ca.issue(dir.path(), "served", &["127.0.0.1"], certs::Validity::Now);
    let server = Server::start_tls(&dir.path().join("data"), &served);
    let expected = format!(
        "has SHA-256 {}, not the pinned one",
        assetlog_logger::tls::fingerprint(&sha256(&served.der))
    );
    refuses(&server, ServerCheck::Pin(sha256(&pinned.der)), &expected).await;
}

/// Serves one certificate and key to every handshake.
#[derive(Debug)]
struct Always(std::sync::Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for Always {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<std::sync::Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// A TLS server that presents `cert` but signs the handshake with a key of its own: what a
/// machine on the network could do with a certificate it copied (certificates are public).
async fn impostor(cert: &certs::Issued) -> (String, tokio::task::JoinHandle<()>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new(dir.path(), "own", "Impostor CA");
    let own = ca.issue(dir.path(), "own", &["127.0.0.1"], certs::Validity::Now);
    let key = PrivateKeyDer::from_pem_file(&own.key).unwrap();
    let signer = provider.key_provider.load_private_key(key).unwrap();
    let copied = CertificateDer::from_pem_file(&cert.cert).unwrap();
    // `new`, not `from_der`: it does not check that the key is the certificate's.
    let certified = rustls::sign::CertifiedKey::new(vec![copied], signer);
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(std::sync::Arc::new(Always(std::sync::Arc::new(certified))));
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            // The handshake fails at the logger; nothing is ever served.
            let _ = acceptor.accept(tcp).await;
        }
    });
    (url, task)
}

#[tokio::test]
async fn a_server_showing_the_pinned_certificate_without_its_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new(dir.path(), "ca", "Plant CA");
    let real = ca.issue(dir.path(), "real", &["127.0.0.1"], certs::Validity::Now);
    let (url, server) = impostor(&real).await;
    let device = Device::checking(
        &url,
        "esp32c3-mitm",
        Some(ServerCheck::Pin(sha256(&real.der))),
    )
    .await;
    let test = async {
        device.record(2).await;
        let expected = "the server's handshake is not signed by its certificate's key";
        until(expected, &device.board.error, |e| {
            e.as_deref().is_some_and(|e| e.contains(expected))
        })
        .await;
        assert_eq!(device.store.lock().await.depth(), 2);
    };
    tokio::select! {
        () = test => {}
        () = device.uplink() => unreachable!("the uploader runs for as long as the logger"),
    }
    server.abort();
}
