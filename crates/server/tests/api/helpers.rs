//! `TestApp`: a running server plus one method per endpoint, the way a client would call it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use assetlog_server::Application;
use assetlog_server::config::ServeConfig;
use assetlog_server::domain::UserId;
use futures_util::StreamExt;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub dir: TempDir,
    /// The server's store, for the few tests that must set up what no endpoint can (in-process only).
    pub store: Option<assetlog_server::store::Store>,
    /// The server's shared state, for tests that run a background step at once (in-process only).
    pub state: Option<assetlog_server::AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// An admin (or other user) signed in, with their tenant.
#[derive(Clone, Debug)]
pub struct Account {
    pub token: String,
    pub tenant_id: i64,
    pub user_id: UserId,
}

/// A logger registered with the server.
#[derive(Clone, Debug)]
pub struct Device {
    pub logger_id: String,
    pub key: String,
    pub claim_code: Option<String>,
}

/// A plain HTTP client for the tests' requests. The server's alert deliveries bring rustls
/// without a default crypto provider, so every client of the process needs ring set first.
///
/// Idle connections are dropped after 30 s, before the server closes them (its idle keep-alive
/// timeout is 60 s): a test that waits a minute for an email would otherwise send its next
/// request on a connection the server is closing, and get "incomplete message".
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut ServeConfig)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = ServeConfig::local(dir.path().join("data"));
    configure(&mut config);
    if config.database_url.is_none() {
        config.database_url = test_database(&config.data_dir);
    }
    let app = Application::build(config).await.expect("server starts");
    let url = app.url();
    let store = Some(app.state().store.clone());
    let state = Some(app.state().clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        url,
        client: crate::helpers::http(),
        dir,
        store,
        state,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    /// Stops the server the way SIGTERM does and waits until the database is closed.
    pub async fn shutdown(mut self) -> TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("clean shutdown");
        }
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"))
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.client.post(format!("{}{path}", self.url)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }

    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        token: Option<&str>,
    ) -> Response {
        let mut req = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Response {
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.send(reqwest::Method::GET, path, None, token).await
    }

    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        let resp = self.get(path, Some(token)).await;
        assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
        resp.json().await.expect("json body")
    }

    pub async fn signup(&self, email: &str, tenant: &str) -> Account {
        let resp = self
            .post(
                "/api/v1/auth/signup",
                &json!({ "email": email, "password": PASSWORD, "tenant_name": tenant }),
                None,
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED, "signup of {email}");
        account(resp.json().await.expect("json"))
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post(
            "/api/v1/auth/login",
            &json!({ "email": email, "password": password }),
            None,
        )
        .await
    }

    /// Adds a user with a role to the admin's tenant and signs them in.
    pub async fn add_user(&self, admin: &Account, email: &str, role: &str) -> Account {
        let resp = self
            .post(
                "/api/v1/users",
                &json!({ "email": email, "password": PASSWORD, "role": role }),
                Some(&admin.token),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        self.sign_in(email).await
    }

    /// Signs in with the tests' password (for instance after a restart); it must succeed.
    pub async fn sign_in(&self, email: &str) -> Account {
        let resp = self.login(email, PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::OK);
        account(resp.json().await.expect("json"))
    }

    /// `GET /api/v1/analytics?{query}` as `account`; it must answer 200.
    pub async fn analytics(&self, account: &Account, query: &str) -> Value {
        self.get_json(&format!("/api/v1/analytics?{query}"), &account.token)
            .await
    }

    /// `GET /api/v1/stops?{query}` as `account`; it must answer 200.
    pub async fn stops(&self, account: &Account, query: &str) -> Value {
        self.get_json(&format!("/api/v1/stops?{query}"), &account.token)
            .await
    }

    /// `PUT /api/v1/settings` as `account`.
    pub async fn put_settings(&self, account: &Account, settings: &Value) -> Response {
        self.send(
            reqwest::Method::PUT,
            "/api/v1/settings",
            Some(settings),
            Some(&account.token),
        )
        .await
    }

    /// `POST /api/v1/planned-downtime` as `account`.
    pub async fn add_planned_downtime(&self, account: &Account, downtime: &Value) -> Response {
        self.post("/api/v1/planned-downtime", downtime, Some(&account.token))
            .await
    }

    /// `PUT /api/v1/stops/{id}` (a reason and a comment) as `account`.
    pub async fn annotate_stop(&self, account: &Account, id: &str, note: &Value) -> Response {
        self.send(
            reqwest::Method::PUT,
            &format!("/api/v1/stops/{id}"),
            Some(note),
            Some(&account.token),
        )
        .await
    }

    /// `POST /api/v1/stops/{id}/split` as `account`.
    pub async fn split_stop(&self, account: &Account, id: &str, at: &Value) -> Response {
        self.post(
            &format!("/api/v1/stops/{id}/split"),
            at,
            Some(&account.token),
        )
        .await
    }

    /// Sets the tenant's shift calendar as `admin` for every day of the test's history (from
    /// 1970 on); it must be accepted.
    pub async fn set_shifts(&self, admin: &Account, calendar: &Value) {
        let resp = self
            .send(
                reqwest::Method::PUT,
                "/api/v1/shifts?from=1970-01-01",
                Some(calendar),
                Some(&admin.token),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{:?}", resp.text().await);
    }

    /// Adds a downtime reason as `admin`; returns its JSON.
    pub async fn add_reason(&self, admin: &Account, category: &str, name: &str) -> Value {
        let resp = self
            .post(
                "/api/v1/reasons",
                &json!({"category": category, "name": name}),
                Some(&admin.token),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED, "POST /api/v1/reasons");
        resp.json().await.expect("json body")
    }

    pub async fn register(&self, logger_id: &str) -> Device {
        let resp = self
            .post(
                "/api/device/register",
                &json!({ "logger_id": logger_id }),
                None,
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "register {logger_id}");
        let body: Value = resp.json().await.expect("json");
        Device {
            logger_id: logger_id.into(),
            key: body["device_key"]
                .as_str()
                .expect("a new logger gets a key")
                .into(),
            claim_code: body["claim_code"].as_str().map(Into::into),
        }
    }

    pub async fn claim(&self, admin: &Account, device: &Device) -> Value {
        let code = device
            .claim_code
            .as_deref()
            .expect("pending logger has a claim code");
        let resp = self
            .post(
                "/api/v1/loggers/claim",
                &json!({ "logger_id": device.logger_id, "claim_code": code }),
                Some(&admin.token),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "claim {}", device.logger_id);
        resp.json().await.expect("json")
    }

    /// Rotates logger `id`'s key (as its tenant's admin); the new key.
    pub async fn rotate_key(&self, admin: &Account, id: i64) -> String {
        let resp = self
            .post(
                &format!("/api/v1/loggers/{id}/rotate-key"),
                &json!({}),
                Some(&admin.token),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "rotate the key of {id}");
        let rotated: Value = resp.json().await.expect("json");
        rotated["device_key"].as_str().expect("a new key").into()
    }

    /// A logger registered and claimed into the admin's tenant.
    pub async fn claimed_device(&self, admin: &Account, logger_id: &str) -> Device {
        let device = self.register(logger_id).await;
        self.claim(admin, &device).await;
        device
    }

    pub async fn asset_state(&self, device: &Device, body: Value) -> Response {
        let mut body = body;
        body["logger_id"] = device.logger_id.clone().into();
        self.post("/api/asset-state", &body, Some(&device.key))
            .await
    }

    pub async fn ingest(&self, device: &Device, events: Value) -> Response {
        self.post(
            "/api/v1/ingest",
            &json!({ "logger_id": device.logger_id, "events": events }),
            Some(&device.key),
        )
        .await
    }

    /// All of the tenant's events, newest first (up to 1000).
    pub async fn events(&self, account: &Account) -> Vec<Value> {
        let body = self
            .get_json("/api/v1/events?limit=1000", &account.token)
            .await;
        body["events"].as_array().expect("events array").clone()
    }

    pub async fn live(&self, token: &str) -> LiveClient {
        let url = format!(
            "{}/api/v1/live?token={token}",
            self.url.replace("http://", "ws://")
        );
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        LiveClient { socket }
    }
}

fn account(body: Value) -> Account {
    Account {
        token: body["token"].as_str().expect("token").into(),
        tenant_id: body["tenant"]["id"].as_i64().expect("tenant id"),
        user_id: UserId(body["user"]["id"].as_i64().expect("user id")),
    }
}

/// Asserts a JSON error of the given status and code, and returns its message.
pub async fn assert_error(resp: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(resp.status(), status, "status");
    let body: Value = resp.json().await.expect("error bodies are JSON");
    assert_eq!(body["error"]["code"], code, "error code in {body}");
    let message = body["error"]["message"]
        .as_str()
        .expect("error message")
        .to_owned();
    assert!(!message.is_empty());
    message
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub struct LiveClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl LiveClient {
    /// The next JSON message, failing the test if none arrives within 5 s.
    pub async fn next(&mut self) -> Value {
        self.next_within(Duration::from_secs(5))
            .await
            .expect("a live message within 5 s")
    }

    pub async fn next_within(&mut self, limit: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??;
            match message.expect("websocket frame") {
                Message::Text(text) => {
                    return Some(serde_json::from_str(&text).expect("live messages are JSON"));
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Waits for the server to close the socket, skipping messages: the close code (1006 when
    /// the connection ended without a close frame), or `None` if it stayed open for `limit`.
    pub async fn closed_within(&mut self, limit: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => return None,
                Ok(None | Some(Err(_))) => return Some(1006),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Some(frame.map_or(1005, |f| f.code.into()));
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next message of a type, skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let m = self.next().await;
            if m["type"] == kind {
                return m;
            }
        }
    }
}

/// The server as a real process (for restarts, crashes and the command line).
pub struct ServerProcess {
    pub child: Child,
    pub url: String,
}

pub fn assetlog() -> Command {
    Command::new(env!("CARGO_BIN_EXE_assetlog"))
}

impl ServerProcess {
    pub fn start(data_dir: &std::path::Path, extra: &[&str]) -> Self {
        Self::start_on(data_dir, test_database(data_dir).as_deref(), extra)
    }

    /// The server on exactly this database: PostgreSQL at `database_url`, or SQLite in
    /// `data_dir` when None (also when the suite runs against PostgreSQL).
    pub fn start_on(
        data_dir: &std::path::Path,
        database_url: Option<&str>,
        extra: &[&str],
    ) -> Self {
        let mut command = assetlog();
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env_remove("DATABASE_URL");
        if let Some(url) = database_url {
            command.env("DATABASE_URL", url);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("server process starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("first line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .expect("listening line")
            .to_owned();
        Self { child, url }
    }

    pub fn app(&self, dir: TempDir) -> TestApp {
        Self::app_at(&self.url, dir)
    }

    /// A client of a server at `url` that this test started some other way.
    pub fn app_at(url: &str, dir: TempDir) -> TestApp {
        TestApp {
            url: url.to_owned(),
            client: crate::helpers::http(),
            dir,
            store: None,
            state: None,
            stop: None,
            server: None,
        }
    }
}

/// A counter's value in a `/metrics` text (0 when it is not there).
pub fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

impl ServerProcess {
    /// Stops the server as `systemctl stop` does (SIGTERM) and waits for it to exit.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(status.is_ok_and(|s| s.success()), "SIGTERM sent");
        let exit = self.child.wait().expect("the server exits");
        assert!(exit.success(), "a clean exit: {exit}");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment variable that runs the suite against PostgreSQL: the URL of a database the
/// tests may connect to, as a role that may create databases (docs/OPERATIONS.md, the README).
pub const TEST_DATABASE_ENV: &str = "ASSETLOG_TEST_DATABASE_URL";

/// Whether this run is against PostgreSQL: the few tests of SQLite's own file (a full disk, a
/// damaged file, `assetlog check`) return early then.
pub fn on_postgres() -> bool {
    std::env::var_os(TEST_DATABASE_ENV).is_some()
}

/// With [`TEST_DATABASE_ENV`] set: the URL of a fresh database for the data directory
/// `data_dir` (made at its first use), so a test that restarts its server over the same
/// directory finds its data again. Databases are named `assetlog_t_*`; `cargo xtask test` drops
/// them before a run.
pub fn test_database(data_dir: &std::path::Path) -> Option<String> {
    use std::hash::{Hash, Hasher};
    let admin = std::env::var(TEST_DATABASE_ENV).ok()?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut hasher);
    let name = format!("assetlog_t_{:016x}", hasher.finish());
    let url = match admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("{TEST_DATABASE_ENV} must end in /DATABASE"),
    };
    // Its own thread and runtime: callers may be inside a runtime, or not.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("cannot reach {TEST_DATABASE_ENV}: {e}"));
            tokio::spawn(connection);
            let exists = client
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
                .await
                .expect("list databases")
                .is_some();
            if !exists {
                client
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create the test database");
            }
        });
    })
    .join()
    .expect("test database made");
    Some(url)
}

/// A real SMTP server (aiosmtpd, `tests/support/smtp_sink.py`) on a free port; what it receives
/// arrives parsed on `mail`. Python comes from `ASSETLOG_TEST_PYTHON` (`cargo xtask test` sets
/// it to a venv with aiosmtpd) or is `python3`.
pub struct SmtpSink {
    pub port: u16,
    pub mail: tokio::sync::mpsc::UnboundedReceiver<Value>,
    _child: KillOnDrop,
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl SmtpSink {
    pub fn start() -> Self {
        let python = std::env::var("ASSETLOG_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");
        let mut child = Command::new(&python)
            .args(["-u", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {python}: {e}"));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(|l| l.ok()).unwrap_or_else(|| {
            panic!(
                "the SMTP sink did not start: {python} needs aiosmtpd (run `cargo xtask test`, \
                 or `pip install aiosmtpd` and set ASSETLOG_TEST_PYTHON)"
            )
        });
        let port = serde_json::from_str::<Value>(&first).unwrap()["port"]
            .as_u64()
            .unwrap() as u16;
        let (tx, mail) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                    break;
                }
            }
        });
        Self {
            port,
            mail,
            _child: KillOnDrop(child),
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The next message received, within 15 s.
    pub async fn next(&mut self) -> Value {
        self.next_within(Duration::from_secs(15)).await
    }

    /// The next message received, within `limit`.
    pub async fn next_within(&mut self, limit: Duration) -> Value {
        tokio::time::timeout(limit, self.mail.recv())
            .await
            .unwrap_or_else(|_| panic!("a message within {limit:?}"))
            .expect("the sink runs")
    }
}
