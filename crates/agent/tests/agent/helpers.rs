//! Processes under test (`Server`, `Agent`), their configuration, and waiting with a deadline.
//!
//! Nothing here waits by polling: a test awaits the server's live socket (a stored change is
//! announced to the tenant's dashboards), the agent's status feed (`/status.json?after=N`
//! answers at its next change) or a process's printed line, each within [`DEADLINE`]. Servers
//! and agents listen on port 0 and print the port they got.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;

/// A plain HTTP client for the tests' own requests (with the process's TLS crypto set).
pub fn http() -> reqwest::Client {
    assetlog_agent::client::install_crypto();
    reqwest::Client::new()
}
use serde_json::{Value, json};
use tokio::time::{Instant, timeout_at};

/// How long anything in these tests may take before it counts as never.
pub const DEADLINE: Duration = Duration::from_secs(90);

/// The heartbeat period every test server asks its loggers for (`--heartbeat-interval`): the
/// shortest a logger accepts, so that a claim or a rotated key shows at the next heartbeat soon.
pub const SERVER_HEARTBEAT_S: u64 = 5;

pub fn agent_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_assetlog-agent"))
}

/// The `assetlog` server binary, beside the agent's in the target directory.
pub fn server_bin() -> PathBuf {
    let bin = agent_bin()
        .parent()
        .expect("the agent binary is in a directory")
        .join("assetlog");
    assert!(
        bin.exists(),
        "the server binary {} is missing: run `cargo build -p assetlog-server` (or test the whole workspace with `cargo test --workspace`, which builds it)",
        bin.display()
    );
    bin
}

/// Reads a child's stdout until a line starting with `prefix`; returns the rest of it.
fn read_announcement(stdout: &mut BufReader<ChildStdout>, prefix: &str, log: &Path) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        let n = stdout
            .read_line(&mut line)
            .expect("reading the child's stdout");
        assert!(
            n > 0,
            "the process exited before printing {prefix:?}; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        if let Some(rest) = line.trim().strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
}

/// A loopback address where nothing listens, held for the whole test so that no other process
/// can take its port: a socket bound to it that never listens, so every connection is refused.
pub struct Refusing {
    _socket: tokio::net::TcpSocket,
    pub addr: SocketAddr,
}

impl Refusing {
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
        let addr = socket.local_addr().unwrap();
        Self {
            _socket: socket,
            addr,
        }
    }
}

/// One address for a server that comes and goes: the agent is given the relay's URL once, and
/// the test starts servers (each on a port of its own) behind it and kills them. While no live
/// server is behind it, every connection is closed at once, as by a host whose server is down.
pub struct Relay {
    pub url: String,
    target: Arc<Mutex<Option<SocketAddr>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let target = Arc::new(Mutex::new(None::<SocketAddr>));
        let to = target.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let server = *to.lock().unwrap();
                tokio::spawn(async move {
                    let Some(server) = server else { return };
                    if let Ok(mut upstream) = tokio::net::TcpStream::connect(server).await {
                        // Ends when either side closes: a killed server's connections close.
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
            }
        });
        Self { url, target, task }
    }

    /// New connections go to `server`.
    pub fn to(&self, server: &Server) {
        *self.target.lock().unwrap() = Some(server.addr);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct Server {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    pub url: String,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    http: reqwest::Client,
}

impl Server {
    /// `assetlog serve` with auto enrollment on a port of its choosing over `data_dir`, asking
    /// loggers for a heartbeat every [`SERVER_HEARTBEAT_S`].
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    /// The same with more `serve` flags (the MQTT broker's, say).
    pub fn start_with(data_dir: &Path, flags: &[String]) -> Self {
        Self::launch(data_dir, flags, crate::helpers::http())
    }

    /// The server over HTTPS with `issued` (its certificate and key). The test's own requests
    /// take any certificate: what the agent trusts is what its tests are about.
    pub fn start_tls(data_dir: &Path, issued: &crate::certs::Issued) -> Self {
        let flags = [
            "--tls-cert".to_owned(),
            issued.cert.display().to_string(),
            "--tls-key".to_owned(),
            issued.key.display().to_string(),
        ];
        assetlog_agent::client::install_crypto();
        let http = reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        Self::launch(data_dir, &flags, http)
    }

    fn launch(data_dir: &Path, flags: &[String], http: reqwest::Client) -> Self {
        std::fs::create_dir_all(data_dir).unwrap();
        let log = data_dir.join(format!("server-{}.log", crate::helpers::unique()));
        let mut child = Command::new(server_bin())
            .args(["serve", "--bind", "127.0.0.1:0", "--enrollment", "auto"])
            .args(["--heartbeat-interval", &SERVER_HEARTBEAT_S.to_string()])
            .args(flags)
            .arg("--data-dir")
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("the server starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let url = read_announcement(&mut stdout, "listening on ", &log);
        let addr = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("the server announced {url:?}, not http(s)://ADDRESS"));
        Self {
            child,
            _stdout: stdout,
            url,
            addr,
            data_dir: data_dir.to_owned(),
            http,
        }
    }

    /// A server with its first user signed up, so that loggers enrol into that user's tenant.
    pub async fn with_tenant(data_dir: &Path) -> (Self, String) {
        let server = Self::start(data_dir);
        let token = server.signup().await;
        (server, token)
    }

    pub async fn signup(&self) -> String {
        let resp = self
            .http
            .post(format!("{}/api/v1/auth/signup", self.url))
            .json(&json!({"email": "ada@plant.example", "password": "correct horse battery", "tenant_name": "Plant"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "signup");
        resp.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `GET {path}` as the user of `token`, its JSON answer.
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Every event of `logger_id`, oldest seq first.
    pub async fn events(&self, token: &str, logger_id: &str) -> Vec<Event> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/events?limit=1000&logger_id={logger_id}");
            if let Some(c) = &cursor {
                path += &format!("&cursor={c}");
            }
            let page = self.get_json(&path, token).await;
            let events = page["events"].as_array().expect("an events page");
            all.extend(events.iter().map(Event::from_json));
            match page["next_cursor"].as_str() {
                Some(c) if !events.is_empty() => cursor = Some(c.to_owned()),
                _ => break,
            }
        }
        all.sort_by_key(|e| e.seq);
        all
    }

    /// The tenant's live socket, as a dashboard holds it.
    pub async fn live(&self, token: &str) -> Live {
        let url = format!(
            "{}/api/v1/live?token={token}",
            self.url.replacen("http", "ws", 1)
        );
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Live(socket)
    }

    /// Waits until the server holds at least `n` events of `logger_id`: counts them, and again
    /// each time the live socket announces a change of that logger's (subscribed before the
    /// first count, so nothing stored after it goes unseen). The server announces a stored
    /// event that changes its asset's state; every test's events alternate, so each batch that
    /// stores new ones announces at least one.
    pub async fn await_events(&self, token: &str, logger_id: &str, n: usize) -> Vec<Event> {
        let deadline = Instant::now() + DEADLINE;
        let mut live = self.live(token).await;
        loop {
            let events = self.events(token, logger_id).await;
            if events.len() >= n {
                return events;
            }
            match timeout_at(deadline, live.next_change_of(logger_id)).await {
                Ok(Some(_)) => {}
                // A live client that falls behind is dropped: subscribe again, count again.
                Ok(None) => live = self.live(token).await,
                Err(_) => panic!(
                    "timed out waiting for {n} events of {logger_id} on the server: {} so far",
                    events.len()
                ),
            }
        }
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub fn kill(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.data_dir.clone()
    }
}

/// A live socket of a tenant.
pub struct Live(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl Live {
    /// The next message of type `kind`; `None` once the server closed the socket.
    pub async fn next_of(&mut self, kind: &str) -> Option<Value> {
        while let Some(frame) = self.0.next().await {
            let frame = frame.ok()?;
            let Ok(text) = frame.to_text() else { continue };
            match serde_json::from_str::<Value>(text) {
                Ok(v) if v["type"] == kind => return Some(v),
                _ => {}
            }
        }
        None
    }

    /// The next asset state change of `logger_id`; `None` once the server closed the socket.
    pub async fn next_change_of(&mut self, logger_id: &str) -> Option<Value> {
        loop {
            let v = self.next_of("asset_state_change").await?;
            if v["logger_id"] == logger_id {
                return Some(v);
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An event as the server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub seq: u64,
    pub pin: u8,
    pub running: bool,
    pub ts: i64,
    pub received_at: i64,
}

impl Event {
    fn from_json(v: &Value) -> Self {
        Self {
            seq: v["seq"].as_u64().expect("a seq"),
            pin: v["pin"].as_u64().unwrap() as u8,
            running: v["state"] == "RUNNING",
            ts: v["ts"].as_i64().unwrap(),
            received_at: v["received_at"].as_i64().unwrap(),
        }
    }

    pub fn key(&self) -> (u64, u8, bool, i64) {
        (self.seq, self.pin, self.running, self.ts)
    }
}

/// Asserts what "nothing lost, nothing doubled, in order" means for a logger's events: seqs are
/// exactly 1..=n, and times never go backwards in seq order.
pub fn assert_complete(events: &[Event], n: u64) {
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "every seq exactly once");
    for pair in events.windows(2) {
        assert!(pair[0].ts <= pair[1].ts, "times follow seqs: {pair:?}");
    }
}

pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A simulated input that changes about every 20–50 ms and stops after `max_changes`.
pub fn fast_sim(pin: u8, name: &str, max_changes: u64) -> String {
    format!(
        "[[input]]
kind = \"sim\"
pin = {pin}
name = \"{name}\"
seed = {seed}
mean_run_s = 0.03
mean_short_stop_s = 0.02
mean_long_stop_s = 0.05
max_changes = {max_changes}
",
        seed = 100 + pin
    )
}

/// The agent's own heartbeat period in tests: an hour, far beyond any test, so that every
/// heartbeat a test sees comes at the period the server answered ([`SERVER_HEARTBEAT_S`]).
pub const AGENT_HEARTBEAT_S: u64 = 3600;

/// An agent configuration for tests: a status page on any port, quick retries, and heartbeats
/// at the server's period.
pub fn agent_config(server_url: &str, logger_id: &str, state_dir: &Path, inputs: &str) -> String {
    format!(
        "server_url = \"{server_url}\"
logger_id = \"{logger_id}\"
logger_name = \"Test line\"
state_dir = \"{}\"
status_addr = \"127.0.0.1:0\"
heartbeat_interval_s = {AGENT_HEARTBEAT_S}
retry_min_ms = 50
retry_max_ms = 300
request_timeout_ms = 3000
{inputs}",
        state_dir.display()
    )
}

pub struct Agent {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    pub status_url: String,
    log: PathBuf,
    http: reqwest::Client,
}

impl Agent {
    /// An agent in `dir/agent` (its state in `dir/agent/state`) reporting `inputs` as
    /// `logger_id` to the server at `server_url`.
    pub fn in_dir(dir: &Path, server_url: &str, logger_id: &str, inputs: &str) -> Self {
        let home = dir.join("agent");
        Self::start(
            &home,
            &agent_config(server_url, logger_id, &home.join("state"), inputs),
        )
    }

    /// Writes `config` to `dir/agent.toml` and starts the agent on it.
    pub fn start(dir: &Path, config: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join("agent.toml");
        std::fs::write(&path, config).unwrap();
        let log = dir.join(format!("agent-{}.log", unique()));
        let mut child = Command::new(agent_bin())
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("the agent starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let status_url = read_announcement(&mut stdout, "status page on ", &log);
        Self {
            child,
            _stdout: stdout,
            status_url,
            log,
            http: crate::helpers::http(),
        }
    }

    /// The status page's JSON; with `after`, once its version is past that (the page answers
    /// at its next change, or unchanged after its long poll).
    pub async fn status(&self, after: Option<u64>) -> Value {
        let mut url = format!("{}/status.json", self.status_url);
        if let Some(version) = after {
            url += &format!("?after={version}");
        }
        self.http
            .get(url)
            .send()
            .await
            .expect("the status page answers")
            .json()
            .await
            .expect("status JSON")
    }

    /// Waits until the status page satisfies `check`: reads it, then again at each change.
    pub async fn await_status(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        let mut last: Option<Value> = None;
        loop {
            let after = last
                .as_ref()
                .map(|s| s["version"].as_u64().expect("a version"));
            match timeout_at(deadline, self.status(after)).await {
                Ok(status) if check(&status) => return status,
                Ok(status) => last = Some(status),
                Err(_) => {
                    panic!("timed out waiting for {what}; the status page last said {last:#?}")
                }
            }
        }
    }

    pub async fn page(&self) -> String {
        self.http
            .get(&self.status_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// What the agent has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no chance to flush or say goodbye.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- agent log {} ---\n{}",
                self.log.display(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

pub fn queue_depth(status: &Value) -> u64 {
    status["queue"]["depth"].as_u64().unwrap()
}

pub fn last_seq(status: &Value) -> u64 {
    status["queue"]["last_seq"].as_u64().unwrap()
}
