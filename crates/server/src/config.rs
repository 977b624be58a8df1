//! Command line and environment. Every default works on a laptop.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "assetlog",
    version,
    about = "Machine availability monitor: loggers report, dashboards watch live"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(Box<ServeConfig>),
    /// Run a demo: the server with a demo tenant and user, a dozen simulated machines on three
    /// lines, and a week of history, so every page has data at once.
    Demo(DemoArgs),
    /// Check the whole database (PRAGMA integrity_check, reads every page; the server may run
    /// meanwhile). Exit status 0 when it is sound, 1 when it has problems (listed).
    Check(CheckArgs),
    /// Copy a SQLite installation into a new, empty PostgreSQL database, then check the copy.
    ///
    /// Everything is copied with its ids: tenants, users and their sessions, loggers (their
    /// keys stay valid: only their hashes are stored, and those are copied), assets, the whole
    /// event history (with the events still in SQLite's inbox), planned downtime, reasons, stop
    /// notes, offline spans and day rollups. The PostgreSQL schema is made first; a database
    /// that already holds any row is refused. The copy is one transaction: before it commits,
    /// the rows of every table are counted on both sides and a digest of the events is compared;
    /// any difference, or any error, leaves the PostgreSQL database as it was.
    ///
    /// The SQLite file is opened read-only and never changed, so the old installation stays
    /// usable. Stop its server first: what arrives during the copy is not copied. Afterwards
    /// start `assetlog serve --database-url URL`; loggers and people sign in as before.
    MigrateToPostgres(MigrateArgs),
    /// Copy the SQLite database into a new file while the server runs (a consistent snapshot;
    /// the server goes on writing). Restore: stop the server, put the file at DATA_DIR/assetlog.db
    /// and remove any assetlog.db-wal and assetlog.db-shm beside it (docs/OPERATIONS.md).
    Backup(BackupArgs),
    /// Manage users from the command line (works while the server is stopped or running).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (password read from standard input); creates the tenant if it does not exist.
    Add(UserAdd),
}

/// What happens when a logger nobody knows registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Enrollment {
    /// It stays pending until an admin claims it with the code on its display.
    Claim,
    /// It joins the first tenant at once (a single-plant install).
    Auto,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free one. Default 127.0.0.1:8080.
    #[arg(long, env = "ASSETLOG_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Directory for the database. Default ./data.
    #[arg(long, env = "ASSETLOG_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Serve HTTPS (and WSS) with this certificate, PEM, followed by any intermediates; with
    /// --tls-key. Both files are read again on SIGHUP. Default: plain HTTP (for a proxy in front).
    #[arg(long, env = "ASSETLOG_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert, PEM (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "ASSETLOG_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PostgreSQL instead of SQLite: postgres://USER:PASSWORD@HOST:PORT/DB. Several servers may
    /// share one database (docs/OPERATIONS.md). Default: SQLite in --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Connections each server keeps to PostgreSQL. Default 16.
    #[arg(long, env = "ASSETLOG_DATABASE_POOL", default_value_t = 16,
          value_parser = clap::value_parser!(u64).range(2..=1024))]
    pub database_pool: u64,
    /// Let alert channels send to loopback, link-local and private addresses (the plant's own
    /// network). Default off: a tenant admin cannot make the server probe the network it runs in.
    #[arg(long, env = "ASSETLOG_ALLOW_PRIVATE_WEBHOOKS")]
    pub allow_private_webhooks: bool,
    /// Milliseconds before a failed alert delivery is tried again; the wait doubles up to 15
    /// minutes, for a day. Default 5000.
    #[arg(long, env = "ASSETLOG_ALERT_RETRY_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub alert_retry_ms: u64,
    /// Seconds after a report's period ends before its email is made, so that loggers that
    /// report a little late (a batch, a short outage) are in it. Default 60.
    #[arg(long, env = "ASSETLOG_REPORT_DELAY_S", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub report_delay_s: u64,
    /// The SMTP server for alert emails and reports: smtp://HOST:PORT (add ?tls=required for
    /// STARTTLS) or smtps://HOST:PORT. Default: none (email channels are refused).
    #[arg(long, env = "ASSETLOG_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The SMTP user (with --smtp-password-file), when the URL names none.
    #[arg(long, env = "ASSETLOG_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    /// A file holding the SMTP password (its first line).
    #[arg(long, env = "ASSETLOG_SMTP_PASSWORD_FILE")]
    pub smtp_password_file: Option<PathBuf>,
    /// The sender of emails, such as "assetlog <alerts@plant.example>" (needed with --smtp-url).
    #[arg(long, env = "ASSETLOG_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// The MQTT broker loggers report through: mqtt://HOST:1883 or mqtts://HOST:8883, with
    /// credentials in the URL or below. Default: none (loggers use HTTP only).
    #[arg(long, env = "ASSETLOG_MQTT_URL", hide_env_values = true)]
    pub mqtt_url: Option<String>,
    /// assetlog's own account at the broker (the dynamic-security admin), when the URL names none.
    #[arg(long, env = "ASSETLOG_MQTT_USERNAME")]
    pub mqtt_username: Option<String>,
    /// A file holding the broker password (its first line).
    #[arg(long, env = "ASSETLOG_MQTT_PASSWORD_FILE")]
    pub mqtt_password_file: Option<PathBuf>,
    /// The client id of this server's persistent session; each replica needs its own.
    /// Default: assetlog-<hostname>.
    #[arg(long, env = "ASSETLOG_MQTT_CLIENT_ID")]
    pub mqtt_client_id: Option<String>,
    /// The CA certificate (PEM) that signed the broker's, for mqtts:// (default: the system's roots).
    #[arg(long, env = "ASSETLOG_MQTT_CA_FILE")]
    pub mqtt_ca_file: Option<PathBuf>,
    /// The broker's own ACLs let only logger X publish under assetlog/v1/X/: assetlog then keeps
    /// no broker clients and accepts a broker that lets anonymous clients in (docs/MQTT.md).
    #[arg(long, env = "ASSETLOG_MQTT_TRUST_BROKER")]
    pub mqtt_trust_broker: bool,
    /// claim (default): new loggers wait for an admin; auto: they join the first tenant.
    #[arg(long, env = "ASSETLOG_ENROLLMENT", value_enum, default_value_t = Enrollment::Claim)]
    pub enrollment: Enrollment,
    /// Let anyone sign up a new tenant. Default off: only the very first user may sign up.
    #[arg(long, env = "ASSETLOG_OPEN_SIGNUP")]
    pub open_signup: bool,
    /// Seconds between logger heartbeats; three missed ones make a logger offline. Default 30.
    #[arg(long, env = "ASSETLOG_HEARTBEAT_INTERVAL", default_value_t = DEFAULT_HEARTBEAT_INTERVAL_S,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub heartbeat_interval: u64,
    /// Hours a sign-in token stays valid. Default 720 (30 days).
    #[arg(long, env = "ASSETLOG_TOKEN_TTL_HOURS", default_value_t = DEFAULT_TOKEN_TTL_HOURS,
          value_parser = clap::value_parser!(u64).range(1..=87600))]
    pub token_ttl_hours: u64,
    /// Password hashes (argon2, 19 MiB each) computed at once; further sign-ins wait up to 2 s,
    /// then get 503. Default: one per CPU core.
    #[arg(long, env = "ASSETLOG_HASH_CONCURRENCY",
          value_parser = clap::value_parser!(u64).range(1..=256))]
    pub hash_concurrency: Option<u64>,
    /// Failed sign-ins and claims one client address may make in a row before it is answered 429
    /// (with Retry-After, growing while it keeps failing), and, counted apart, the sign-ups it
    /// may make; regained over 10 minutes. Default 10.
    #[arg(long, env = "ASSETLOG_AUTH_ATTEMPTS_PER_ADDRESS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub auth_attempts_per_address: u32,
    /// Failed sign-ins against one account (or claims by one admin), from any address, before
    /// 429; regained over an hour. Default 30.
    #[arg(long, env = "ASSETLOG_AUTH_ATTEMPTS_PER_ACCOUNT", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub auth_attempts_per_account: u32,
    /// Most connections open at once, WebSocket clients included; at the cap new clients wait
    /// until one closes. Lowered at start to fit the open files limit. Default 4096.
    #[arg(long, env = "ASSETLOG_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Most connections one client address (IPv6: one /64) may hold; one more from it is closed
    /// at once. Raise it behind a proxy, which is one address for everyone. Default 256.
    #[arg(long, env = "ASSETLOG_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections_per_address: u64,
    /// Seconds a connection may stay open without sending a request (a new one, or one kept
    /// alive after its last answer) before it is closed. Default 60.
    #[arg(long, env = "ASSETLOG_IDLE_TIMEOUT", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout: u64,
    /// Seconds a client has to finish sending a request head once it began (and, with TLS, its
    /// handshake once connected). Default 10.
    #[arg(long, env = "ASSETLOG_HEADER_READ_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub header_read_timeout: u64,
    /// Seconds a client may take no byte of an answer being sent (it stopped reading) before
    /// its connection is closed, which frees what the answer held (a query slot). A slow but
    /// reading client is not cut. Default 30.
    #[arg(long, env = "ASSETLOG_SEND_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub send_timeout: u64,
    /// Loggers that may wait to be claimed at once; a new one beyond is answered 429
    /// too_many_pending. Default 1000.
    #[arg(long, env = "ASSETLOG_MAX_PENDING_LOGGERS", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_pending_loggers: u64,
    /// Events an unclaimed logger may store; a report beyond is answered 429 and nothing of it
    /// stored (the logger keeps it until it is claimed). Default 10000.
    #[arg(long, env = "ASSETLOG_PENDING_MAX_EVENTS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub pending_max_events: u64,
    /// Assets (inputs) an unclaimed logger may have. Default 64 (every pin).
    #[arg(long, env = "ASSETLOG_PENDING_MAX_ASSETS", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub pending_max_assets: u64,
    /// Seconds after its first registration an unclaimed logger is deleted with its events and
    /// assets (it may register again). Default 604800 (7 days).
    #[arg(long, env = "ASSETLOG_PENDING_EXPIRY", default_value_t = 604_800,
          value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    pub pending_expiry: u64,
    /// Figures one analytics question may need (assets × buckets, or × days where its figures
    /// are summed from days); a bigger one is answered 400 query_too_large. Default 200000 (a
    /// year of 500 assets by day).
    #[arg(long, env = "ASSETLOG_ANALYTICS_MAX_FIGURES", default_value_t = 200_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub analytics_max_figures: u64,
    /// Stops one stops question may list; a window with more is answered 400 query_too_large.
    /// Default 100000.
    #[arg(long, env = "ASSETLOG_STOPS_MAX", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub stops_max: u64,
    /// Analytics and stops questions answered at once; further ones wait up to
    /// `--query-wait` seconds, then get 503 with Retry-After. Default: one per CPU core.
    #[arg(long, env = "ASSETLOG_QUERY_CONCURRENCY",
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub query_concurrency: Option<u64>,
    /// Seconds an analytics or stops question waits for its turn before it is refused. Default 10.
    #[arg(long, env = "ASSETLOG_QUERY_WAIT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=300))]
    pub query_wait: u64,
}

/// The heartbeat period loggers are told to keep: the one they keep until told (core's uplink).
pub const DEFAULT_HEARTBEAT_INTERVAL_S: u64 = assetlog_core::uplink::DEFAULT_HEARTBEAT_MS / 1000;
/// How long a sign-in token stays valid: 30 days.
pub const DEFAULT_TOKEN_TTL_HOURS: u64 = 720;

impl ServeConfig {
    /// The caps on loggers nobody has claimed.
    pub fn pending_limits(&self) -> crate::store::PendingLimits {
        let cap = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        crate::store::PendingLimits {
            loggers: cap(self.max_pending_loggers),
            events: cap(self.pending_max_events),
            assets: cap(self.pending_max_assets),
        }
    }

    /// The gate of analytics and stops questions these settings ask for.
    pub fn query_gate(&self) -> crate::limits::QueryGate {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        crate::limits::QueryGate::new(
            self.query_concurrency.map_or(cores, |n| n as usize),
            std::time::Duration::from_secs(self.query_wait),
        )
    }

    /// The sign-in guards these settings ask for.
    pub fn auth_settings(&self) -> crate::limits::AuthSettings {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        crate::limits::AuthSettings {
            hash_concurrency: self.hash_concurrency.map_or(cores, |n| n as usize),
            per_address: self.auth_attempts_per_address,
            per_account: self.auth_attempts_per_account,
        }
    }

    /// Settings for a server on a free loopback port over `data_dir` (tests, benchmarks, demos).
    pub fn local(data_dir: PathBuf) -> Self {
        Self {
            bind: "127.0.0.1:0".into(),
            data_dir,
            tls_cert: None,
            tls_key: None,
            database_url: None,
            database_pool: 16,
            enrollment: Enrollment::Claim,
            open_signup: false,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL_S,
            token_ttl_hours: DEFAULT_TOKEN_TTL_HOURS,
            hash_concurrency: None,
            auth_attempts_per_address: 10,
            auth_attempts_per_account: 30,
            max_connections: 4096,
            max_connections_per_address: 256,
            idle_timeout: 60,
            header_read_timeout: 10,
            send_timeout: 30,
            max_pending_loggers: 1_000,
            pending_max_events: 10_000,
            pending_max_assets: 64,
            pending_expiry: 604_800,
            analytics_max_figures: 200_000,
            stops_max: 100_000,
            query_concurrency: None,
            query_wait: 10,
            allow_private_webhooks: false,
            smtp_url: None,
            smtp_username: None,
            smtp_password_file: None,
            mail_from: None,
            alert_retry_ms: 5000,
            report_delay_s: 60,
            mqtt_url: None,
            mqtt_username: None,
            mqtt_password_file: None,
            mqtt_client_id: None,
            mqtt_ca_file: None,
            mqtt_trust_broker: false,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Address to listen on. Default 127.0.0.1:8080.
    #[arg(long, env = "ASSETLOG_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Directory for the demo's database (kept, so a second run goes on where the first ended).
    /// Default ./demo-data.
    #[arg(long, env = "ASSETLOG_DEMO_DATA_DIR", default_value = "./demo-data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Directory of the database. Default ./data.
    #[arg(long, env = "ASSETLOG_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// Data directory of the SQLite installation to copy (read, never written). Default ./data.
    #[arg(long, env = "ASSETLOG_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The new PostgreSQL database to copy into: postgres://USER:PASSWORD@HOST:PORT/DB, as a
    /// role that may create tables there (it will own them). It must hold no rows. Required.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// Directory of the database. Default ./data.
    #[arg(long, env = "ASSETLOG_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The backup file to write; it must not exist (nothing is overwritten).
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct UserAdd {
    /// Directory of the database. Default ./data.
    #[arg(long, env = "ASSETLOG_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The PostgreSQL database instead of SQLite in --data-dir (as `serve --database-url`).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Tenant name; created if it does not exist.
    #[arg(long)]
    pub tenant: String,
    #[arg(long)]
    pub email: String,
    /// admin, operator or viewer. Default admin.
    #[arg(long, value_enum, default_value_t = RoleArg::Admin)]
    pub role: RoleArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Operator,
    Viewer,
}
