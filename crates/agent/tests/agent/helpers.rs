//! Processes under test (`Server`, `Agent`), their configuration, and waiting with a deadline.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// How long anything in these tests may take before it counts as never.
pub const DEADLINE: Duration = Duration::from_secs(90);

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

/// Polls `check` every 50 ms until it returns `Some`, or panics after [`DEADLINE`].
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tick.tick().await;
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
    }
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

/// A free loopback port (bound and released), for a server that starts later.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Server {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    pub url: String,
    pub port: u16,
    pub data_dir: PathBuf,
    http: reqwest::Client,
}

impl Server {
    /// `assetlog serve` with auto enrollment on `port` (0 for any) over `data_dir`.
    pub fn start(data_dir: &Path, port: u16) -> Self {
        std::fs::create_dir_all(data_dir).unwrap();
        let log = data_dir.join(format!("server-{}.log", crate::helpers::unique()));
        let mut child = Command::new(server_bin())
            .args([
                "serve",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--enrollment",
                "auto",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("the server starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let url = read_announcement(&mut stdout, "listening on ", &log);
        let port = url.rsplit(':').next().unwrap().parse().unwrap();
        Self {
            child,
            _stdout: stdout,
            url,
            port,
            data_dir: data_dir.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// A server with its first user signed up, so that loggers enrol into that user's tenant.
    pub async fn with_tenant(data_dir: &Path, port: u16) -> (Self, String) {
        let server = Self::start(data_dir, port);
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

    /// Every event of `logger_id`, oldest seq first.
    pub async fn events(&self, token: &str, logger_id: &str) -> Vec<Event> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!(
                "{}/api/v1/events?limit=1000&logger_id={logger_id}",
                self.url
            );
            if let Some(c) = &cursor {
                url += &format!("&cursor={c}");
            }
            let page: Value = self
                .http
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
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

    /// Waits until the server holds at least `n` events of `logger_id`.
    pub async fn await_events(&self, token: &str, logger_id: &str, n: usize) -> Vec<Event> {
        eventually(
            &format!("{n} events of {logger_id} on the server"),
            async || {
                let events = self.events(token, logger_id).await;
                (events.len() >= n).then_some(events)
            },
        )
        .await
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

/// An agent configuration for tests: a status page on any port, quick heartbeats and retries.
pub fn agent_config(server_url: &str, logger_id: &str, state_dir: &Path, inputs: &str) -> String {
    format!(
        "server_url = \"{server_url}\"
logger_id = \"{logger_id}\"
logger_name = \"Test line\"
state_dir = \"{}\"
status_addr = \"127.0.0.1:0\"
heartbeat_interval_s = 5
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
            http: reqwest::Client::new(),
        }
    }

    pub async fn status(&self) -> Value {
        self.http
            .get(format!("{}/status.json", self.status_url))
            .send()
            .await
            .expect("the status page answers")
            .json()
            .await
            .expect("status JSON")
    }

    /// Waits until the status page satisfies `check`.
    pub async fn await_status(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        eventually(what, async || {
            let s = self.status().await;
            check(&s).then_some(s)
        })
        .await
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
