//! The command line and the agent's TOML file, parsed once into values that cannot be wrong:
//! every mistake becomes one `error: …` line naming the file, the line where known, and the fix.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assetlog_core::LoggerId;
use assetlog_core::sim::{EVERY_DAY, MachineParams, Shift, Weekdays};
use assetlog_core::uplink::HEARTBEAT_MS;
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use crate::tls::ServerTrust;

/// The assetlog logger for Linux boxes: watches machine run signals (GPIO, Modbus TCP, or
/// simulated), keeps every change in a durable queue on disk and uploads it to the server.
#[derive(Debug, Parser)]
#[command(
    name = "assetlog-agent",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// The agent's configuration file (TOML); see crates/agent/agent.example.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run many virtual loggers with simulated machines against a server (demos, load tests).
    ///
    /// Each virtual logger registers with its own identity and keeps its own queue. The queues
    /// are in memory: events not yet uploaded are lost when the simulator stops (the real agent
    /// keeps them on disk). With --state-dir the identities are kept, so a second run reports as
    /// the same loggers.
    Simulate(SimulateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// The server, e.g. http://127.0.0.1:8080 or https://assetlog.plant.example.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// Check an https:// server against the CA certificates in this PEM file instead of the
    /// system's roots.
    #[arg(long, value_name = "FILE")]
    pub tls_ca_file: Option<PathBuf>,
    /// How many virtual loggers.
    #[arg(long, default_value_t = 1)]
    pub loggers: u32,
    /// Machines (input pins) per logger, 1 to 64.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=64))]
    pub assets_per_logger: u8,
    /// Seed of the machines' randomness: the same seed plays the same machines.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Time lapse: at 60, an hour of machine life passes in a minute (event times are still
    /// the real clock).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Keep the loggers' keys here, so a later run reuses them; without it every run registers
    /// new loggers under a fresh random prefix.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Logger ids are PREFIX-0001, PREFIX-0002, …; default `sim-<seed>` with --state-dir, else
    /// `sim-<random>`.
    #[arg(long, value_name = "PREFIX")]
    pub id_prefix: Option<String>,
    /// Machines run around the clock instead of 06:00–22:00 UTC, Monday to Friday.
    #[arg(long)]
    pub no_shift: bool,
    /// Each machine stops changing after this many changes (its initial state counts as one).
    #[arg(long)]
    pub max_changes: Option<u64>,
    /// Events each virtual logger holds while the server is unreachable; the oldest go first.
    #[arg(long, default_value_t = 10_000)]
    pub queue_capacity: usize,
    /// Longest wait between retries, in milliseconds. (Heartbeats go at the period the server
    /// answers, its `--heartbeat-interval`, as from every logger.)
    #[arg(long, default_value_t = 30_000)]
    pub retry_max_ms: u64,
}

/// A validated agent configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the logger registers (always over HTTP or HTTPS), and uploads unless `mqtt` is set.
    pub server_url: String,
    /// How an `https://` server is checked (`tls_ca_file`, `tls_pin_sha256`,
    /// `insecure_skip_verify`; the system's roots by default).
    pub server_trust: ServerTrust,
    /// `uplink = "mqtt"`: heartbeats and batches through this broker (`mqtt_url`).
    pub mqtt: Option<MqttBroker>,
    pub logger_id: LoggerId,
    pub logger_name: Option<String>,
    /// The heartbeat period until the server names its own, which it does in every answer to a
    /// registration (and then wins); 5 s to 1 h, as the logger's `Uplink` accepts.
    pub heartbeat_interval: Duration,
    pub state_dir: PathBuf,
    pub key_file: PathBuf,
    pub queue_capacity: usize,
    pub status_addr: SocketAddr,
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub request_timeout: Duration,
    pub inputs: Vec<Input>,
}

#[derive(Debug, Clone)]
pub struct Input {
    pub pin: u8,
    pub name: String,
    pub kind: InputKind,
}

#[derive(Debug, Clone)]
pub enum InputKind {
    Gpio(GpioInput),
    Modbus(ModbusInput),
    Sim(SimInput),
}

impl InputKind {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Gpio(_) => "gpio",
            Self::Modbus(_) => "modbus",
            Self::Sim(_) => "sim",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bias {
    /// Leave the line's bias as it is.
    AsIs,
    Disabled,
    PullUp,
    PullDown,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioInput {
    /// `/dev/gpiochip0`, or just `gpiochip0`.
    pub chip: String,
    /// The line offset on the chip.
    pub line: u32,
    #[serde(default)]
    pub active_low: bool,
    #[serde(default = "bias_as_is")]
    pub bias: Bias,
    #[serde(default = "gpio_debounce_ms")]
    pub debounce_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Register {
    DiscreteInput,
    Coil,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModbusInput {
    /// `host` or `host:port` (port 502 if left out).
    pub host: String,
    #[serde(default = "one")]
    pub unit_id: u8,
    /// The 0-based address of the discrete input or coil.
    pub address: u16,
    #[serde(default = "discrete_input")]
    pub register: Register,
    #[serde(default = "modbus_poll_ms")]
    pub poll_interval_ms: u64,
    #[serde(default)]
    pub active_low: bool,
    #[serde(default)]
    pub debounce_ms: u64,
}

#[derive(Debug, Clone)]
pub struct SimInput {
    pub params: MachineParams,
    pub seed: u64,
    pub speed: f64,
    pub max_changes: Option<u64>,
}

fn bias_as_is() -> Bias {
    Bias::AsIs
}
fn gpio_debounce_ms() -> u64 {
    50
}
fn one() -> u8 {
    1
}
fn discrete_input() -> Register {
    Register::DiscreteInput
}
fn modbus_poll_ms() -> u64 {
    500
}

/// The broker of `mqtt_url = "mqtt://HOST:PORT"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttBroker {
    pub host: String,
    pub port: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    server_url: Option<String>,
    tls_ca_file: Option<PathBuf>,
    tls_pin_sha256: Option<String>,
    insecure_skip_verify: Option<bool>,
    uplink: Option<String>,
    mqtt_url: Option<String>,
    logger_id: Option<String>,
    logger_name: Option<String>,
    heartbeat_interval_s: Option<u64>,
    state_dir: Option<PathBuf>,
    key_file: Option<PathBuf>,
    queue_capacity: Option<usize>,
    status_addr: Option<String>,
    retry_min_ms: Option<u64>,
    retry_max_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    #[serde(default)]
    input: Vec<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSim {
    seed: Option<u64>,
    mean_run_s: Option<f64>,
    mean_short_stop_s: Option<f64>,
    mean_long_stop_s: Option<f64>,
    short_stop_share: Option<f64>,
    shift: Option<RawShift>,
    speed: Option<f64>,
    max_changes: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShift {
    start: String,
    end: String,
    #[serde(default)]
    days: Option<String>,
    #[serde(default)]
    utc_offset_min: i16,
}

impl Config {
    /// Reads and checks a configuration file; the error is one line for the operator.
    pub fn load(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|e| format!("{shown}: {e}"))
    }

    /// Parses a configuration; relative paths are taken from `base` (the file's directory).
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let message = e.message().trim_end().replace('\n', " ");
            match line {
                Some(n) => format!("line {n}: {message}"),
                None => message,
            }
        })?;
        let server_url = raw
            .server_url
            .ok_or("server_url is missing: the server to report to, e.g. server_url = \"http://10.0.0.5:8080\"")?;
        let server_url = parse_server_url(&server_url)?;
        let server_trust = parse_trust(
            &server_url,
            raw.tls_ca_file.map(|f| base.join(f)),
            raw.tls_pin_sha256.as_deref(),
            raw.insecure_skip_verify.unwrap_or(false),
        )?;
        let mqtt = match (raw.uplink.as_deref().unwrap_or("http"), raw.mqtt_url) {
            ("http", None) => None,
            ("http", Some(_)) => {
                return Err("mqtt_url is set but uplink is \"http\": add uplink = \"mqtt\" to upload through the broker, or remove mqtt_url".into());
            }
            ("mqtt", Some(url)) => Some(parse_mqtt_url(&url)?),
            ("mqtt", None) => {
                return Err("uplink = \"mqtt\" needs mqtt_url, the broker, e.g. mqtt_url = \"mqtt://10.0.0.5:1883\"".into());
            }
            (other, _) => {
                return Err(format!("uplink {other:?} must be \"http\" or \"mqtt\""));
            }
        };
        let logger_id = raw.logger_id.ok_or(
            "logger_id is missing: this logger's hardware id, e.g. logger_id = \"pi-press-hall-1\"",
        )?;
        let logger_id =
            LoggerId::parse(&logger_id).map_err(|e| format!("logger_id {logger_id:?}: {e}"))?;
        let state_dir = base.join(raw.state_dir.unwrap_or_else(|| "state".into()));
        let key_file = raw
            .key_file
            .map(|k| base.join(k))
            .unwrap_or_else(|| state_dir.join("identity.json"));
        let status_addr = raw.status_addr.as_deref().unwrap_or("127.0.0.1:8090");
        let status_addr = status_addr.parse().map_err(|_| {
            format!("status_addr {status_addr:?} is not an address like 127.0.0.1:8090")
        })?;
        let heartbeat = raw.heartbeat_interval_s.unwrap_or(30);
        let (shortest, longest) = (HEARTBEAT_MS.start() / 1000, HEARTBEAT_MS.end() / 1000);
        if !(shortest..=longest).contains(&heartbeat) {
            return Err(format!(
                "heartbeat_interval_s must be {shortest} to {longest} (the server's own period replaces it once it answers)"
            ));
        }
        let queue_capacity = raw.queue_capacity.unwrap_or(100_000);
        if queue_capacity == 0 {
            return Err("queue_capacity must be at least 1".into());
        }
        let retry_min = raw.retry_min_ms.unwrap_or(500).max(1);
        let retry_max = raw.retry_max_ms.unwrap_or(60_000).max(retry_min);

        let mut inputs = Vec::new();
        let mut pins = BTreeSet::new();
        for (i, table) in raw.input.into_iter().enumerate() {
            let input = parse_input(table).map_err(|e| format!("[[input]] #{}: {e}", i + 1))?;
            if !pins.insert(input.pin) {
                return Err(format!(
                    "[[input]] #{}: pin {} is used twice",
                    i + 1,
                    input.pin
                ));
            }
            inputs.push(input);
        }
        Ok(Self {
            server_url,
            server_trust,
            mqtt,
            logger_id,
            logger_name: raw.logger_name,
            heartbeat_interval: Duration::from_secs(heartbeat),
            state_dir,
            key_file,
            queue_capacity,
            status_addr,
            retry_min: Duration::from_millis(retry_min),
            retry_max: Duration::from_millis(retry_max),
            request_timeout: Duration::from_millis(raw.request_timeout_ms.unwrap_or(10_000).max(1)),
            inputs,
        })
    }
}

/// `mqtt://HOST[:PORT]` (1883 by default).
pub fn parse_mqtt_url(raw: &str) -> Result<MqttBroker, String> {
    let url = raw.trim();
    if url.starts_with("mqtts://") {
        return Err(format!(
            "mqtt_url {raw:?}: the agent speaks plain mqtt only; use mqtt:// on a network you trust, or the HTTPS uplink (uplink = \"http\" with an https:// server_url)"
        ));
    }
    let Some(rest) = url.strip_prefix("mqtt://") else {
        return Err(format!(
            "mqtt_url {raw:?} must start with mqtt:// (e.g. mqtt://10.0.0.5:1883)"
        ));
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => {
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("mqtt_url {raw:?}: the port must be 1 to 65535"))?;
            (host, port)
        }
        None => (rest, 1883),
    };
    if host.is_empty() || host.contains(['/', '@', '?', '#', ':', '[', ']', ' ']) {
        return Err(format!("mqtt_url {raw:?} has no host (mqtt://HOST:PORT)"));
    }
    Ok(MqttBroker {
        host: host.to_owned(),
        port,
    })
}

/// The server's base URL, without a trailing slash.
pub fn parse_server_url(raw: &str) -> Result<String, String> {
    let url = raw.trim().trim_end_matches('/');
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return Err(format!(
            "server_url {raw:?} must start with https:// or http:// (e.g. https://assetlog.plant.example or http://10.0.0.5:8080)"
        ));
    };
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err(format!("server_url {raw:?} has no host"));
    }
    Ok(url.to_owned())
}

/// At most one of the ways to check an `https://` server, and none for `http://`.
fn parse_trust(
    server_url: &str,
    ca_file: Option<PathBuf>,
    pin: Option<&str>,
    insecure: bool,
) -> Result<ServerTrust, String> {
    let set: Vec<&str> = [
        ca_file.is_some().then_some("tls_ca_file"),
        pin.is_some().then_some("tls_pin_sha256"),
        insecure.then_some("insecure_skip_verify"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if set.len() > 1 {
        return Err(format!(
            "{} are alternatives (a CA, a pinned certificate, or no check): set one",
            set.join(" and ")
        ));
    }
    if let Some(key) = set.first()
        && !server_url.starts_with("https://")
    {
        return Err(format!(
            "{key} is set but server_url {server_url:?} is plain http://: use https://, or remove {key}"
        ));
    }
    Ok(match (ca_file, pin) {
        (Some(file), _) => ServerTrust::CaFile(file),
        (None, Some(pin)) => ServerTrust::Pin(crate::tls::parse_pin(pin)?),
        (None, None) if insecure => ServerTrust::InsecureSkipVerify,
        (None, None) => ServerTrust::SystemRoots,
    })
}

fn parse_input(mut table: toml::Table) -> Result<Input, String> {
    let kind = match table.remove("kind") {
        Some(toml::Value::String(k)) => k,
        Some(_) => return Err("kind must be a string: \"gpio\", \"modbus\" or \"sim\"".into()),
        None => return Err("kind is missing: \"gpio\", \"modbus\" or \"sim\"".into()),
    };
    let pin = match table.remove("pin") {
        Some(toml::Value::Integer(n)) => assetlog_core::Pin::new(n)
            .map(assetlog_core::Pin::get)
            .map_err(|e| format!("pin {n}: {e}"))?,
        Some(_) => return Err("pin must be a number 0..=63".into()),
        None => {
            return Err(
                "pin is missing: the input's pin number 0..=63, which names the asset".into(),
            );
        }
    };
    let name = match table.remove("name") {
        Some(toml::Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(_) => return Err("name must be a non-empty string".into()),
        None => format!("{kind} {pin}"),
    };
    let fields = |e: toml::de::Error| e.message().trim_end().replace('\n', " ");
    let value = toml::Value::Table(table);
    let kind = match kind.as_str() {
        "gpio" => InputKind::Gpio(value.try_into().map_err(fields)?),
        "modbus" => {
            let m: ModbusInput = value.try_into().map_err(fields)?;
            if m.poll_interval_ms == 0 {
                return Err("poll_interval_ms must be at least 1".into());
            }
            InputKind::Modbus(m)
        }
        "sim" => InputKind::Sim(parse_sim(value.try_into().map_err(fields)?, pin)?),
        other => {
            return Err(format!(
                "unknown input kind {other:?}: use \"gpio\", \"modbus\" or \"sim\""
            ));
        }
    };
    Ok(Input { pin, name, kind })
}

fn parse_sim(raw: RawSim, pin: u8) -> Result<SimInput, String> {
    let defaults = MachineParams::always_on();
    let ms = |s: Option<f64>, default: u64, field: &str| match s {
        None => Ok(default),
        Some(s) if s.is_finite() && s > 0.0 => Ok((s * 1000.0).max(1.0) as u64),
        Some(_) => Err(format!("{field} must be a positive number of seconds")),
    };
    let shift = raw.shift.map(parse_shift).transpose()?;
    let params = MachineParams {
        mean_run_ms: ms(raw.mean_run_s, defaults.mean_run_ms, "mean_run_s")?,
        mean_short_stop_ms: ms(
            raw.mean_short_stop_s,
            defaults.mean_short_stop_ms,
            "mean_short_stop_s",
        )?,
        mean_long_stop_ms: ms(
            raw.mean_long_stop_s,
            defaults.mean_long_stop_ms,
            "mean_long_stop_s",
        )?,
        short_stop_share: raw.short_stop_share.unwrap_or(defaults.short_stop_share),
        shift,
    };
    params.validate().map_err(|e| e.to_string())?;
    let speed = raw.speed.unwrap_or(1.0);
    if !(speed.is_finite() && speed > 0.0) {
        return Err("speed must be a positive number".into());
    }
    Ok(SimInput {
        params,
        seed: raw.seed.unwrap_or(u64::from(pin) + 1),
        speed,
        max_changes: raw.max_changes,
    })
}

fn parse_shift(raw: RawShift) -> Result<Shift, String> {
    let minute = |s: &str| -> Result<u16, String> {
        let bad = || format!("shift time {s:?} must be HH:MM");
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(h * 60 + m)
    };
    Ok(Shift {
        start_min: minute(&raw.start)?,
        end_min: minute(&raw.end)?,
        days: raw.days.as_deref().map_or(Ok(EVERY_DAY), parse_days)?,
        utc_offset_min: raw.utc_offset_min,
    })
}

/// `"mon-fri"`, `"mon,wed,fri"`, `"sat-sun"`, `"mon-sun"`.
fn parse_days(raw: &str) -> Result<Weekdays, String> {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let day = |d: &str| {
        NAMES
            .iter()
            .position(|n| d.trim().eq_ignore_ascii_case(n))
            .ok_or_else(|| format!("shift days {raw:?}: use names like \"mon-fri\" or \"mon,wed\""))
    };
    let mut days = 0;
    for part in raw.split(',') {
        let (from, to) = match part.split_once('-') {
            Some((a, b)) => (day(a)?, day(b)?),
            None => (day(part)?, day(part)?),
        };
        if from > to {
            return Err(format!(
                "shift days {raw:?}: a range runs from Monday to Sunday"
            ));
        }
        for d in from..=to {
            days |= 1 << d;
        }
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/etc/assetlog"))
    }

    const MINIMAL: &str = "server_url = \"http://10.0.0.5:8080/\"\nlogger_id = \"pi-1\"\n";

    #[test]
    fn a_minimal_file_gets_working_defaults() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.server_url, "http://10.0.0.5:8080");
        assert_eq!(c.state_dir, Path::new("/etc/assetlog/state"));
        assert_eq!(c.key_file, Path::new("/etc/assetlog/state/identity.json"));
        assert_eq!(c.status_addr, "127.0.0.1:8090".parse().unwrap());
        assert_eq!(c.heartbeat_interval, Duration::from_secs(30));
        assert_eq!(c.queue_capacity, 100_000);
        assert!(c.inputs.is_empty());
    }

    #[test]
    fn the_mqtt_uplink_names_its_broker() {
        assert_eq!(parse(MINIMAL).unwrap().mqtt, None);
        let c = parse(&format!(
            "{MINIMAL}uplink = \"mqtt\"\nmqtt_url = \"mqtt://broker.plant:1884/\"\n"
        ))
        .unwrap();
        let broker = c.mqtt.unwrap();
        assert_eq!((broker.host.as_str(), broker.port), ("broker.plant", 1884));
        assert_eq!(parse_mqtt_url("mqtt://10.0.0.5").unwrap().port, 1883);
    }

    #[test]
    fn an_https_server_is_checked_by_the_system_roots_a_ca_file_or_a_pin() {
        let https = "server_url = \"https://assetlog.plant.example/\"\nlogger_id = \"pi-1\"\n";
        let c = parse(https).unwrap();
        assert_eq!(c.server_url, "https://assetlog.plant.example");
        assert_eq!(c.server_trust, ServerTrust::SystemRoots);
        let c = parse(&format!("{https}tls_ca_file = \"plant-ca.pem\"\n")).unwrap();
        assert_eq!(
            c.server_trust,
            ServerTrust::CaFile("/etc/assetlog/plant-ca.pem".into())
        );
        let pin = "AB:".repeat(31) + "AB";
        let c = parse(&format!("{https}tls_pin_sha256 = \"{pin}\"\n")).unwrap();
        assert_eq!(c.server_trust, ServerTrust::Pin([0xab; 32]));
        let c = parse(&format!("{https}insecure_skip_verify = true\n")).unwrap();
        assert_eq!(c.server_trust, ServerTrust::InsecureSkipVerify);
        let c = parse(&format!("{https}insecure_skip_verify = false\n")).unwrap();
        assert_eq!(c.server_trust, ServerTrust::SystemRoots);
        assert_eq!(
            parse(MINIMAL).unwrap().server_trust,
            ServerTrust::SystemRoots
        );
    }

    #[test]
    fn the_example_file_parses() {
        let text = include_str!("../agent.example.toml");
        let c = parse(text).unwrap();
        let kinds: Vec<_> = c.inputs.iter().map(|i| i.kind.label()).collect();
        assert_eq!(kinds, ["gpio", "modbus", "sim"]);
    }

    #[test]
    fn inputs_are_read_by_kind() {
        let c = parse(&format!(
            "{MINIMAL}
            [[input]]
            kind = \"gpio\"
            pin = 3
            chip = \"gpiochip0\"
            line = 17
            active_low = true
            bias = \"pull-up\"
            [[input]]
            kind = \"sim\"
            pin = 4
            shift = {{ start = \"22:00\", end = \"06:00\", days = \"mon-fri,sun\", utc_offset_min = 60 }}
            "
        ))
        .unwrap();
        let InputKind::Gpio(g) = &c.inputs[0].kind else {
            panic!("gpio")
        };
        assert_eq!(
            (g.line, g.active_low, g.bias, g.debounce_ms),
            (17, true, Bias::PullUp, 50)
        );
        assert_eq!(c.inputs[0].name, "gpio 3");
        let InputKind::Sim(s) = &c.inputs[1].kind else {
            panic!("sim")
        };
        let shift = s.params.shift.unwrap();
        assert_eq!(
            (shift.start_min, shift.end_min, shift.days),
            (1320, 360, 0b101_1111)
        );
    }

    #[test]
    fn mistakes_are_one_clear_line() {
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("logger_id = \"a\"", "server_url is missing"),
            ("server_url = \"ftp://x\"\nlogger_id = \"a\"", "must start with https:// or http://"),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\ntls_ca_file = \"ca.pem\"", "tls_ca_file is set but server_url \"http://x\" is plain http://"),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\ninsecure_skip_verify = true", "insecure_skip_verify is set but"),
            ("server_url = \"https://x\"\nlogger_id = \"a\"\ntls_ca_file = \"ca.pem\"\ntls_pin_sha256 = \"00\"", "tls_ca_file and tls_pin_sha256 are alternatives"),
            ("server_url = \"https://x\"\nlogger_id = \"a\"\ntls_pin_sha256 = \"00\"\ninsecure_skip_verify = true", "tls_pin_sha256 and insecure_skip_verify are alternatives"),
            ("server_url = \"https://x\"\nlogger_id = \"a\"\ntls_pin_sha256 = \"AB:CD\"", "not a SHA-256 fingerprint"),
            ("server_url = \"https://x\"\nlogger_id = \"a\"\ninsecure_skip_verify = \"yes\"", "line 3"),
            ("server_url = \"http://x\"", "logger_id is missing"),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\nuplink = \"mqtt\"", "needs mqtt_url"),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\nmqtt_url = \"mqtt://b\"", "uplink is \"http\""),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\nuplink = \"udp\"", "must be \"http\" or \"mqtt\""),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\nuplink = \"mqtt\"\nmqtt_url = \"mqtts://b\"", "plain mqtt only"),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\nuplink = \"mqtt\"\nmqtt_url = \"tcp://b\"", "must start with mqtt://"),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\nuplink = \"mqtt\"\nmqtt_url = \"mqtt://b:0\"", "port must be 1 to 65535"),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\nuplink = \"mqtt\"\nmqtt_url = \"mqtt://\"", "has no host"),
            ("server_url = \"http://x\"\nlogger_id = \"a b\"", "may only contain"),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\nsurplus = 1", "line 3: unknown field `surplus`"),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\n[[input]]\nkind = \"serial\"\npin = 1",
                "[[input]] #1: unknown input kind \"serial\""),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\n[[input]]\npin = 1", "kind is missing"),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\n[[input]]\nkind = \"gpio\"\npin = 64\nchip=\"c\"\nline=1",
                "pin 64: pin numbers are 0..=63"),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\n[[input]]\nkind = \"gpio\"\npin = 1\nchip=\"c\"",
                "missing field `line`"),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\n[[input]]\nkind = \"sim\"\npin = 1\n[[input]]\nkind = \"sim\"\npin = 1",
                "pin 1 is used twice"),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\n[[input]]\nkind = \"sim\"\npin = 1\nshort_stop_share = 2.0",
                "short_stop_share must be between 0 and 1"),
            ("server_url = \"http://x\"\nlogger_id = \"a\"\n[[input]]\nkind = \"sim\"\npin = 1\nshift = { start = \"6\", end = \"22:00\" }",
                "must be HH:MM"),
            ("server_url = \"http://x\"\nlogger_id = [", "line 2"),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }
}
