//! `drain`: how long a Linux agent takes to deliver a long backlog. Writes `backlog` queued events
//! into an agent state directory through the agent's own journal (as if it had recorded them
//! while the server was away), starts the real `assetlog-agent` binary on it, and times until its
//! status page shows an empty queue; then checks that the server stored every event once.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use assetlog_agent::journal::{Journal, Observed};

use crate::client::Conn;
use crate::report::{now_ms, thousands};
use crate::target::{Target, process_cpu};

/// Changes recorded per journal write (one fsync each), as an agent catching a burst would.
const CHUNK: usize = 10_000;
/// Inputs the backlog is spread over.
const PINS: u8 = 16;
/// Longest the drain may take before the run is called failed.
const LIMIT: Duration = Duration::from_secs(1800);

pub async fn run(target: &mut Target, backlog: usize) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("state");
    let logger_id = format!("{}-drain", target.logger_prefix("agent"));

    let started = Instant::now();
    let mut journal = Journal::open(&state, backlog)?;
    // Spread over the hours before now, 10 ms apart, oldest first.
    let first_ms = now_ms() - backlog as i64 * 10;
    let mut running = [false; PINS as usize];
    for chunk_start in (0..backlog).step_by(CHUNK) {
        let changes: Vec<Observed> = (chunk_start..(chunk_start + CHUNK).min(backlog))
            .map(|i| {
                let pin = (i % PINS as usize) as u8;
                running[pin as usize] = !running[pin as usize];
                Observed {
                    pin,
                    running: running[pin as usize],
                    wall_ms: first_ms + i as i64 * 10,
                }
            })
            .collect();
        journal.record(&changes)?;
    }
    ensure!(
        journal.figures().depth == backlog,
        "the journal holds {} events",
        journal.figures().depth
    );
    drop(journal);
    let recorded = started.elapsed();

    let status_port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "server_url = \"http://{}\"\nlogger_id = \"{logger_id}\"\nstate_dir = \"state\"\n\
             queue_capacity = {backlog}\nstatus_addr = \"127.0.0.1:{status_port}\"\nheartbeat_interval_s = 30\n",
            target.addr
        ),
    )?;
    let bin: PathBuf = std::env::current_exe()?.with_file_name("assetlog-agent");
    ensure!(
        bin.is_file(),
        "no agent binary at {}: build it (cargo build --release -p assetlog-agent)",
        bin.display()
    );
    let before = target.metrics().await?;
    let server_cpu_before = target.server_cpu();
    let t0 = Instant::now();
    let mut agent = tokio::process::Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let pid = agent.id().context("the agent exited at once")?;
    let mut last_depth = backlog as u64;
    let drained = loop {
        if let Some(status) = agent.try_wait()? {
            anyhow::bail!("the agent exited with {status} before the queue drained");
        }
        // Not answering yet is normal while the agent opens its million-event queue.
        if let Ok(depth) = queue_depth(status_port).await {
            last_depth = depth;
            if depth == 0 {
                break t0.elapsed();
            }
        }
        ensure!(
            t0.elapsed() < LIMIT,
            "not drained after {LIMIT:?}: {last_depth} left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let agent_cpu = process_cpu(pid);
    let server_cpu = target
        .server_cpu()
        .zip(server_cpu_before)
        .map(|(a, b)| a - b);
    let _ = agent.kill().await;
    let after = target.metrics().await?;
    let stored = after.ingested - before.ingested;
    let duplicates = after.duplicates - before.duplicates;

    let secs = drained.as_secs_f64();
    let cpu = |c: Option<f64>| c.map_or("n/a".to_owned(), |c| format!("{c:.1} s"));
    let mut out = String::from("## drain: one agent delivers a queued backlog\n\n");
    out.push_str("| backlog | written to the queue in | drained in | events/s | agent CPU | server CPU | stored | duplicates |\n|---|---|---|---|---|---|---|---|\n");
    out.push_str(&format!(
        "| {} | {:.1} s | {secs:.1} s | {} | {} | {} | {} | {duplicates} |\n",
        thousands(backlog as u64),
        recorded.as_secs_f64(),
        thousands((backlog as f64 / secs) as u64),
        cpu(agent_cpu),
        cpu(server_cpu),
        thousands(stored),
    ));
    ensure!(
        stored == backlog as u64 && duplicates == 0,
        "{out}\nthe server stored {stored} events and counted {duplicates} duplicates; the queue held {backlog}"
    );
    Ok(out)
}

/// The queue depth on the agent's status page (a fresh connection each time: the status page
/// is not what is measured).
async fn queue_depth(port: u16) -> anyhow::Result<u64> {
    let mut conn = Conn::open(std::net::SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let reply = conn.get("/status.json", None).await?;
    let snapshot: serde_json::Value = serde_json::from_slice(&reply.body)?;
    snapshot["queue"]["depth"]
        .as_u64()
        .context("no queue depth in /status.json")
}
