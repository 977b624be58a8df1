//! The server under test: a child the bench starts (the default) or one already running.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use hyper::StatusCode;
use hyper::header::HeaderValue;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::Cli;
use crate::client::{Conn, bearer};

/// How long a started server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// `ASSETLOG_BENCH_CALLGRIND=DIR`: the bench starts the server under valgrind's callgrind,
/// writing its counts to DIR, so a scenario can count the instructions a phase cost the server
/// ([`Target::server_instructions`]): a figure that a busy neighbour on a shared host does not
/// move, unlike CPU time. The server runs some 50 times slower under it.
pub const CALLGRIND_ENV: &str = "ASSETLOG_BENCH_CALLGRIND";
/// How long a server may take to drain and close its database after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

const BENCH_EMAIL: &str = "bench@example.com";
const BENCH_PASSWORD: &str = "bench harbour quiet lemon";

/// A server the bench started: killed when dropped (on any error path), stopped gently at the end.
struct ServerChild {
    child: Child,
    pid: u32,
    bin: PathBuf,
    /// Which backend it runs on, for the report.
    database: &'static str,
    /// Removed after the server is gone.
    _data: tempfile::TempDir,
}

pub struct Target {
    /// The first server: setup, checks and the scenarios' writes go here.
    pub addr: SocketAddr,
    /// Every server, the first included (`--replicas`: several on one PostgreSQL database).
    pub addrs: Vec<SocketAddr>,
    children: Vec<ServerChild>,
    /// Setup and checks go through this one connection.
    conn: Conn,
    pub user_token: String,
    user_bearer: HeaderValue,
    /// Makes logger ids unique per run, so a long-running server can be benched again.
    run_id: String,
}

/// A logger the bench registered.
pub struct Logger {
    pub id: String,
    pub key: HeaderValue,
    /// The device key itself (the logger's broker password).
    pub secret: String,
}

/// Counters read from `/metrics`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counters {
    pub ingested: u64,
    pub duplicates: u64,
    pub live_dropped: u64,
    /// Background settles of the day rollups finished, and asset-days computed from events.
    pub rollup_settles: u64,
    pub rollup_days_computed: u64,
}

impl Target {
    /// Starts the servers (with `flags` beside the bench's own) or reaches `--url`, and signs in.
    pub async fn prepare(cli: &Cli, flags: &[String]) -> anyhow::Result<Self> {
        let (addrs, children) = match &cli.url {
            Some(url) => (vec![parse_loopback_url(url)?], Vec::new()),
            None => {
                let bin = match &cli.server_bin {
                    Some(bin) => bin.clone(),
                    None => std::env::current_exe()?.with_file_name("assetlog"),
                };
                ensure!(
                    cli.replicas == 1 || cli.database_url.is_some(),
                    "--replicas needs --database-url: replicas share one PostgreSQL database"
                );
                let mut addrs = Vec::new();
                let mut children = Vec::new();
                for _ in 0..cli.replicas {
                    let (addr, child) =
                        start_server(bin.clone(), cli.database_url.as_deref(), flags).await?;
                    addrs.push(addr);
                    children.push(child);
                }
                (addrs, children)
            }
        };
        let addr = addrs[0];
        let mut conn = Conn::open(addr).await?;
        let user_token = match (&cli.email, &cli.password) {
            (Some(email), Some(password)) => sign_in(&mut conn, email, password).await?,
            _ => sign_up(&mut conn).await?,
        };
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis();
        Ok(Self {
            addr,
            addrs,
            children,
            conn,
            user_bearer: bearer(&user_token)?,
            user_token,
            run_id: format!("{:x}", millis % (1 << 40)),
        })
    }

    pub fn describe(&self) -> String {
        if self.children.is_empty() {
            return format!("already running at http://{}", self.addr);
        }
        let servers: Vec<String> = self
            .children
            .iter()
            .zip(&self.addrs)
            .map(|(child, addr)| format!("pid {} at http://{addr}", child.pid))
            .collect();
        format!(
            "{} (started by the bench: {}; {})",
            self.children[0].bin.display(),
            servers.join(", "),
            self.children[0].database
        )
    }

    /// What the ids of this run's loggers of one kind start with.
    pub fn logger_prefix(&self, kind: &str) -> String {
        format!("bench-{}-{kind}", self.run_id)
    }

    /// Registers `count` new loggers named `bench-<run>-<kind><n>`; they must be claimed at
    /// once (`--enrollment auto`), since events of a pending logger reach no tenant.
    pub async fn register_loggers(
        &mut self,
        kind: &str,
        count: u32,
    ) -> anyhow::Result<Vec<Logger>> {
        #[derive(Deserialize)]
        struct Registered {
            status: String,
            device_key: Option<String>,
        }
        let mut loggers = Vec::with_capacity(count as usize);
        for n in 0..count {
            let id = format!("{}{n}", self.logger_prefix(kind));
            let body = json!({ "logger_id": id, "logger_name": format!("bench {kind}{n}") });
            let reply = self
                .conn
                .post("/api/device/register", None, body.to_string())
                .await?;
            ensure!(
                reply.status == StatusCode::OK,
                "registering {id}: {}",
                reply.snippet()
            );
            let registered: Registered = serde_json::from_slice(&reply.body)?;
            ensure!(
                registered.status == "claimed",
                "logger {id} is {}: the server must run with --enrollment auto",
                registered.status
            );
            let key = registered
                .device_key
                .context("a new logger got no device key")?;
            loggers.push(Logger {
                id,
                key: bearer(&key)?,
                secret: key,
            });
        }
        Ok(loggers)
    }

    /// The counters of every server, added up.
    pub async fn metrics(&mut self) -> anyhow::Result<Counters> {
        let mut total = self.metrics_of_first().await?;
        for addr in self.addrs.clone().into_iter().skip(1) {
            let mut conn = Conn::open(addr).await?;
            let c = counters_of(&mut conn).await?;
            total.ingested += c.ingested;
            total.duplicates += c.duplicates;
            total.live_dropped += c.live_dropped;
            total.rollup_settles += c.rollup_settles;
            total.rollup_days_computed += c.rollup_days_computed;
        }
        Ok(total)
    }

    async fn metrics_of_first(&mut self) -> anyhow::Result<Counters> {
        counters_of(&mut self.conn).await
    }

    /// The server the `n`th connection of a scenario goes to: round the servers.
    pub fn addr_for(&self, n: usize) -> SocketAddr {
        self.addrs[n % self.addrs.len()]
    }

    /// Where the live scenario's watchers connect: the last server, so that with replicas the
    /// events cross from the first to it.
    pub fn watch_addr(&self) -> SocketAddr {
        *self.addrs.last().expect("one server at least")
    }

    /// The newest stored event, in short, as a sign that reads see what was written.
    pub async fn newest_event(&mut self) -> anyhow::Result<String> {
        let reply = self
            .conn
            .get("/api/v1/events?limit=1", Some(&self.user_bearer))
            .await?;
        ensure!(reply.status == StatusCode::OK, "{}", reply.snippet());
        let page: serde_json::Value = serde_json::from_slice(&reply.body)?;
        let event = page["events"].get(0).context("no event stored")?;
        Ok(event.to_string())
    }

    /// Sends a request as the bench's user; an error unless the answer is a success.
    pub async fn user_send(
        &mut self,
        method: hyper::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let body = body.map(|b| bytes::Bytes::from(b.to_string()));
        let reply = self
            .conn
            .send(method.clone(), path, Some(&self.user_bearer), body)
            .await?;
        ensure!(
            reply.status.is_success(),
            "{method} {path}: {}",
            reply.snippet()
        );
        if reply.body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        Ok(serde_json::from_slice(&reply.body)?)
    }

    /// GETs `path` as the bench's user; an error unless the answer is 200.
    pub async fn user_get_ok(&mut self, path: &str) -> anyhow::Result<()> {
        let reply = self.conn.get(path, Some(&self.user_bearer)).await?;
        ensure!(
            reply.status == StatusCode::OK,
            "GET {path}: {}",
            reply.snippet()
        );
        Ok(())
    }

    /// The id of the first asset the server lists.
    pub async fn first_asset_id(&mut self) -> anyhow::Result<i64> {
        let reply = self
            .conn
            .get("/api/v1/assets", Some(&self.user_bearer))
            .await?;
        ensure!(
            reply.status == StatusCode::OK,
            "/api/v1/assets: {}",
            reply.snippet()
        );
        let assets: serde_json::Value = serde_json::from_slice(&reply.body)?;
        assets[0]["id"].as_i64().context("no asset")
    }

    /// The SQLite file of a server the bench started (None for `--url` or PostgreSQL).
    pub fn database_path(&self) -> Option<PathBuf> {
        self.children
            .first()
            .filter(|c| c.database == "SQLite")
            .map(|c| c._data.path().join("assetlog.db"))
    }

    /// CPU seconds the started servers have used so far (PostgreSQL's own processes not
    /// counted); None for a server the bench did not start.
    pub fn server_cpu(&self) -> Option<f64> {
        if self.children.is_empty() {
            return None;
        }
        self.children.iter().map(|c| process_cpu(c.pid)).sum()
    }

    /// With [`CALLGRIND_ENV`]: the instructions the first server ran since the last call (the
    /// first call starts the count). None without it.
    pub fn server_instructions(&self) -> Option<u64> {
        let dir = PathBuf::from(std::env::var_os(CALLGRIND_ENV)?);
        let pid = self.children.first()?.pid;
        // Dumps the counts so far into a new file and sets them to zero.
        let dumped = std::process::Command::new("callgrind_control")
            .args(["--dump", &pid.to_string()])
            .output()
            .ok()?;
        if !dumped.status.success() {
            return None;
        }
        let prefix = format!("callgrind.out.{pid}.");
        let newest = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let n: u32 = name.strip_prefix(&prefix)?.parse().ok()?;
                Some((n, e.path()))
            })
            .max_by_key(|(n, _)| *n)?
            .1;
        let text = std::fs::read_to_string(newest).ok()?;
        text.lines()
            .find_map(|l| {
                l.strip_prefix("summary: ")
                    .or_else(|| l.strip_prefix("totals: "))
            })
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }

    /// Asks the started servers to shut down (they drain and close the database), then waits.
    pub async fn stop(mut self) {
        for server in std::mem::take(&mut self.children) {
            stop_server(server).await;
        }
    }
}

async fn stop_server(mut server: ServerChild) {
    // SIGTERM lets the server checkpoint and close cleanly; SIGKILL is the fallback.
    // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped).
    unsafe {
        libc::kill(server.pid as libc::pid_t, libc::SIGTERM);
    }
    match tokio::time::timeout(STOP_TIMEOUT, server.child.wait()).await {
        Ok(Ok(status)) if !status.success() => {
            eprintln!("warning: the server exited with {status}");
        }
        Ok(_) => {}
        Err(_) => {
            eprintln!("warning: the server did not stop within {STOP_TIMEOUT:?}; killing it");
            let _ = server.child.kill().await;
        }
    }
}

fn parse_loopback_url(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .context("--url must start with http://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    let addr = authority
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {authority}"))?
        .next()
        .with_context(|| format!("{authority} resolves to nothing"))?;
    // A load generator aimed at someone else's machine is an attack, not a benchmark.
    ensure!(
        addr.ip().is_loopback(),
        "--url must be a loopback address, not {addr}"
    );
    Ok(addr)
}

async fn start_server(
    bin: PathBuf,
    database_url: Option<&str>,
    flags: &[String],
) -> anyhow::Result<(SocketAddr, ServerChild)> {
    ensure!(
        bin.is_file(),
        "no server binary at {}: build it (cargo build --release -p assetlog-server) or pass --server-bin",
        bin.display()
    );
    let data = tempfile::Builder::new()
        .prefix("assetlog-bench-")
        .tempdir()?;
    let callgrind = std::env::var_os(CALLGRIND_ENV).map(PathBuf::from);
    let mut command = match &callgrind {
        Some(dir) => {
            let mut command = Command::new("valgrind");
            command
                .arg("--tool=callgrind")
                .arg(format!(
                    "--callgrind-out-file={}/callgrind.out.%p",
                    dir.display()
                ))
                .arg(&bin);
            command
        }
        None => Command::new(&bin),
    };
    command
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--enrollment",
            "auto",
            // Every bench connection comes from 127.0.0.1.
            "--max-connections-per-address",
            "100000",
            // The `alerts` scenario's webhook receiver is on loopback.
            "--allow-private-webhooks",
            "--data-dir",
        ])
        .arg(data.path())
        .args(flags)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    // If the bench dies without cleaning up (SIGKILL, say), the server must not live on.
    // SAFETY: prctl is async-signal-safe and touches only the child being started. The
    // signal is tied to the spawning thread, which is the main thread here (the whole run is
    // `block_on` there), so it does not fire early.
    #[cfg(target_os = "linux")]
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    // Info logs (one per registered logger) would bury the report; warnings still show.
    if std::env::var_os("RUST_LOG").is_none() {
        command.env("RUST_LOG", "warn");
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let pid = child.id().context("the server exited at once")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let addr = tokio::time::timeout(START_TIMEOUT, async {
        while let Some(line) = lines.next_line().await? {
            if let Some(addr) = line.trim().strip_prefix("listening on http://") {
                return Ok(addr.parse::<SocketAddr>()?);
            }
        }
        bail!("the server exited before it listened")
    })
    .await
    .context("the server did not say where it listens")??;
    // Keep reading, so a chatty server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((
        addr,
        ServerChild {
            child,
            pid,
            bin,
            database: if database_url.is_some() {
                "PostgreSQL"
            } else {
                "SQLite"
            },
            _data: data,
        },
    ))
}

#[derive(Deserialize)]
struct SessionAnswer {
    token: String,
}

async fn sign_up(conn: &mut Conn) -> anyhow::Result<String> {
    let body = json!({ "email": BENCH_EMAIL, "password": BENCH_PASSWORD, "tenant_name": "bench" });
    let reply = conn
        .post("/api/v1/auth/signup", None, body.to_string())
        .await?;
    if reply.status == StatusCode::FORBIDDEN {
        bail!("sign-up is closed on this server: pass --email and --password of a user");
    }
    ensure!(
        reply.status == StatusCode::CREATED,
        "sign-up: {}",
        reply.snippet()
    );
    Ok(serde_json::from_slice::<SessionAnswer>(&reply.body)?.token)
}

async fn sign_in(conn: &mut Conn, email: &str, password: &str) -> anyhow::Result<String> {
    let body = json!({ "email": email, "password": password });
    let reply = conn
        .post("/api/v1/auth/login", None, body.to_string())
        .await?;
    ensure!(
        reply.status == StatusCode::OK,
        "sign-in: {}",
        reply.snippet()
    );
    Ok(serde_json::from_slice::<SessionAnswer>(&reply.body)?.token)
}

/// User + system CPU seconds of a process, from `/proc/<pid>/stat` (all its threads).
pub fn process_cpu(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields we want follow its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then(|| (utime + stime) as f64 / ticks as f64)
}

/// The counters `/metrics` of one server shows.
async fn counters_of(conn: &mut Conn) -> anyhow::Result<Counters> {
    let reply = conn.get("/metrics", None).await?;
    ensure!(
        reply.status == StatusCode::OK,
        "/metrics: {}",
        reply.snippet()
    );
    let text = String::from_utf8_lossy(&reply.body);
    let counter = |name: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    };
    Ok(Counters {
        ingested: counter("assetlog_events_ingested_total"),
        duplicates: counter("assetlog_events_duplicate_total"),
        live_dropped: counter("assetlog_live_dropped_clients_total"),
        rollup_settles: counter("assetlog_analytics_rollup_settles_total"),
        rollup_days_computed: counter("assetlog_analytics_rollup_days_computed_total"),
    })
}
