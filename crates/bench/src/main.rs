//! `assetlog-bench`: a load generator that measures an assetlog server on loopback.
//!
//! Three scenarios, each run for a bounded time after a short warm-up:
//! - `single`: one event per `POST /api/asset-state`, many concurrent loggers: events/s and
//!   request latency.
//! - `batch`: `POST /api/v1/ingest` with up to 1000 events per request: events/s.
//! - `live`: events at a fixed rate while many WebSocket clients watch: the time from a POST's
//!   response to the message reaching each client.
//!
//! By default the bench starts its own server (the `assetlog` binary beside it) on a free port
//! over a fresh data directory, so every run starts from an empty database; `--url` points it
//! at a running one instead. At the end it asks the server how many events it stored and
//! compares that with what the bench was acknowledged.
//!
//! Client and server share the machine, so the report gives the CPU time each used next to the
//! wall time: a client that eats a core caps what the server can show. It also says when other
//! processes took CPU during a measurement, since such a run reads low.
//!
//! # Running
//! ```text
//! cargo build --release -p assetlog-bench -p assetlog-server
//! target/release/assetlog-bench all --seconds 10
//! target/release/assetlog-bench live --clients 100 --rate 1000
//! target/release/assetlog-bench single --url http://127.0.0.1:8080 --email a@b.c --password …
//! ```
//! Each scenario prints a markdown table; the run exits non-zero when any request or delivery
//! failed or the server stored a different number of events than it acknowledged. Against a
//! shared `--url` server, other loggers' events would show up in that last check.
//!
//! # Layout
//! - `main.rs`: the command line and the order of the run.
//! - [`target`]: the server under test: start or reach it, sign in, register loggers, metrics.
//! - [`client`]: one persistent HTTP/1.1 connection, as cheap as hyper allows.
//! - [`single`], [`batch`], [`live`]: the scenarios.
//! - [`history`]: analytics over a long history (not part of `all`).
//! - [`drain`]: a Linux agent delivering a queued backlog (not part of `all`).
//! - [`mqtt`]: loggers through a Mosquitto the bench starts (not part of `all`; the broker is
//!   the server's test broker, `crates/server/tests/support/mosquitto.rs`).
//! - [`report`]: measurement windows, CPU time, histograms and the markdown tables.

mod alerts;
mod batch;
mod client;
mod drain;
mod history;
mod live;
#[path = "../../server/tests/support/mosquitto.rs"]
mod mosquitto;
mod mqtt;
mod report;
mod single;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::report::Outcome;
use crate::target::Target;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Single,
    Batch,
    Live,
    All,
    /// Not part of `all`: loads a long history, then times analytics queries.
    History,
    /// Not part of `all`: times a Linux agent (`assetlog-agent` beside this binary) draining a
    /// queued backlog of `--backlog` events.
    Drain,
    /// Not part of `all`: how late alerts are, and what rules cost ingestion (alerts.rs).
    Alerts,
    /// Not part of `all`: loggers publishing through a Mosquitto the bench starts (mqtt.rs).
    Mqtt,
}

/// Load generator for the assetlog server (loopback only).
#[derive(Debug, Parser)]
#[command(name = "assetlog-bench", version)]
pub struct Cli {
    /// Which scenario to run. Default all, one after the other against the same server.
    #[arg(value_enum, default_value_t = Scenario::All)]
    scenario: Scenario,
    /// Seconds each scenario is measured for, after the warm-up. Default 10.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// Seconds of warm-up before each measurement (not counted). Default 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=600))]
    warmup: u64,
    /// `single`: concurrent connections, each a logger of its own. Default 64.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    connections: u32,
    /// `batch`: concurrent connections, each a logger of its own. Default 4.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    batch_connections: u32,
    /// `batch`: events per request; lowered if the body would pass the server's 64 KiB limit.
    /// Default 1000 (the protocol's maximum).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1000))]
    batch_size: u32,
    /// `live`: WebSocket clients watching. Default 100.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10000))]
    clients: u32,
    /// `live`: events per second sent while the clients watch. Default 1000.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100000))]
    rate: u32,
    /// `live`: loggers (and connections) the events are spread over. Default 4.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    live_loggers: u32,
    /// The server binary to start. Default: `assetlog` beside this executable.
    #[arg(long, conflicts_with = "url")]
    server_bin: Option<PathBuf>,
    /// Use this running server (loopback only), e.g. http://127.0.0.1:8080, instead of
    /// starting one. It must run with `--enrollment auto`.
    #[arg(long)]
    url: Option<String>,
    /// With `--url`: sign in as this user instead of signing up (sign-up works only on a
    /// server without users).
    #[arg(long, requires = "url", requires = "password")]
    email: Option<String>,
    /// With `--email`: that user's password.
    #[arg(long, requires = "email")]
    password: Option<String>,
    /// `history`: assets (8 per logger). Default 50.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100000))]
    history_assets: u32,
    /// `history`: days of history, ending now. Default 30.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=400))]
    history_days: u32,
    /// `history`: state changes per asset and day. Default 150.
    #[arg(long, default_value_t = 150, value_parser = clap::value_parser!(u32).range(1..=100000))]
    changes_per_day: u32,
    /// `history`: times each query is repeated (the one-asset query four times as often). Default 5.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    repeats: u32,
    /// `drain`: events queued in the agent before it starts. Default 1,000,000.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    backlog: u64,
    /// Servers the bench starts use PostgreSQL at this URL (an empty database) instead of SQLite.
    #[arg(long, conflicts_with = "url")]
    database_url: Option<String>,
    /// Servers to start on the `--database-url` database: `single` and `batch` spread their
    /// connections over them, `live` sends to the first and watches on the last. Default 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    replicas: u32,
    /// `alerts`: machines that stop at once. Default 200.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=10000))]
    alert_machines: u32,
    /// `alerts`: the stop rule's threshold, seconds. Default 5.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    alert_threshold: u64,
    /// `alerts`: rules active while ingestion is measured. Default 500.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10000))]
    alert_rules: u32,
    /// `mqtt`: loggers publishing batches at once, each waiting for its ack. Default 100.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10000))]
    mqtt_loggers: u32,
    /// Worker threads of the client's runtime. Default: one per CPU.
    #[arg(long)]
    threads: Option<usize>,
}

impl Cli {
    fn timing(&self) -> report::Timing {
        report::Timing {
            warmup: Duration::from_secs(self.warmup),
            measure: Duration::from_secs(self.seconds),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = match runtime.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the chosen scenarios; `Ok(false)` when the run saw errors.
async fn run(cli: &Cli) -> anyhow::Result<bool> {
    // The `mqtt` scenario's broker, started before the server that connects to it.
    let broker = if cli.scenario == Scenario::Mqtt {
        anyhow::ensure!(
            cli.url.is_none() && cli.replicas == 1,
            "mqtt starts its own broker and one server: no --url, no --replicas"
        );
        Some(mosquitto::Broker::start())
    } else {
        None
    };
    let flags = broker
        .as_ref()
        .map(|b| mosquitto::flags(b, "assetlog@bench"))
        .unwrap_or_default();
    let mut target = Target::prepare(cli, &flags).await?;
    println!(
        "# assetlog-bench\n\nserver: {}; {} CPUs; client threads: {}; warm-up {} s, measured {} s\n",
        target.describe(),
        std::thread::available_parallelism().map_or(0, usize::from),
        cli.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(0, usize::from)),
        cli.warmup,
        cli.seconds,
    );
    let before = target.metrics().await?;
    if cli.scenario == Scenario::History {
        let params = history::Params {
            assets: cli.history_assets,
            days: cli.history_days,
            changes_per_day: cli.changes_per_day,
            repeats: cli.repeats,
        };
        let report = history::run(&mut target, params).await;
        target.stop().await;
        println!("{}", report?);
        return Ok(true);
    }
    if cli.scenario == Scenario::Alerts {
        let params = alerts::Params {
            machines: cli.alert_machines,
            threshold_s: cli.alert_threshold,
            rules: cli.alert_rules,
            connections: cli.connections,
        };
        let report = alerts::run(&mut target, params, cli.timing()).await;
        target.stop().await;
        println!("{}", report?);
        return Ok(true);
    }
    if cli.scenario == Scenario::Drain {
        let report = drain::run(&mut target, cli.backlog as usize).await;
        target.stop().await;
        println!("{}", report?);
        return Ok(true);
    }
    let scenarios = match cli.scenario {
        Scenario::All => vec![Scenario::Single, Scenario::Batch, Scenario::Live],
        one => vec![one],
    };
    let mut outcomes: Vec<Outcome> = Vec::new();
    for scenario in scenarios {
        if let (Scenario::Mqtt, Some(broker)) = (scenario, &broker) {
            let params = mqtt::Params {
                loggers: cli.mqtt_loggers,
                batch: cli.batch_size as usize,
                rate: cli.rate,
                live_loggers: cli.live_loggers,
            };
            for outcome in mqtt::run(&mut target, broker, params, cli.timing()).await? {
                println!("{}", outcome.table());
                outcomes.push(outcome);
            }
            continue;
        }
        let outcome = match scenario {
            Scenario::Single => single::run(&mut target, cli.connections, cli.timing()).await?,
            Scenario::Batch => {
                batch::run(
                    &mut target,
                    cli.batch_connections,
                    cli.batch_size as usize,
                    cli.timing(),
                )
                .await?
            }
            Scenario::Live
            | Scenario::All
            | Scenario::History
            | Scenario::Drain
            | Scenario::Alerts
            | Scenario::Mqtt => {
                live::run(
                    &mut target,
                    live::Params {
                        clients: cli.clients,
                        rate: cli.rate,
                        loggers: cli.live_loggers,
                    },
                    cli.timing(),
                )
                .await?
            }
        };
        println!("{}", outcome.table());
        outcomes.push(outcome);
    }

    let after = target.metrics().await?;
    let newest = target.newest_event().await;
    target.stop().await;

    let acked: u64 = outcomes.iter().map(|o| o.acked).sum();
    let errors: u64 = outcomes.iter().map(|o| o.errors).sum();
    let stored = after.ingested.saturating_sub(before.ingested);
    let duplicates = after.duplicates.saturating_sub(before.duplicates);
    let dropped = after.live_dropped.saturating_sub(before.live_dropped);
    let stored_ok = stored == acked && duplicates == 0;
    println!("## Checks\n");
    println!(
        "- stored: the server counted {stored} new events (and {duplicates} duplicates); \
         the bench was acknowledged {acked}: {}",
        if stored_ok { "OK" } else { "**MISMATCH**" }
    );
    match newest {
        Ok(line) => println!("- newest event via /api/v1/events?limit=1: {line}"),
        Err(e) => println!("- **/api/v1/events?limit=1 failed: {e:#}**"),
    }
    if dropped > 0 {
        println!("- **the server dropped {dropped} live clients for falling behind**");
    }
    let clean = errors == 0 && stored_ok && dropped == 0;
    if clean {
        println!("- errors: none");
    } else {
        println!(
            "\n**THIS RUN HAD ERRORS ({errors} failed requests or deliveries{}): \
             its numbers are not valid.**",
            if stored_ok {
                ""
            } else {
                ", stored count mismatch"
            }
        );
    }
    Ok(clean)
}
