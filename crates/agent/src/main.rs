//! `assetlog-agent`: parse the command line, start the logger (or the simulator), run until
//! SIGINT/SIGTERM. Every startup problem is one `error: …` line and exit status 1.

use std::process::ExitCode;

use assetlog_agent::config::{Cli, Command, Config};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour for a person at a terminal, plain text for journald and log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let result = runtime.block_on(async {
        match (cli.command, cli.config) {
            (Some(Command::Simulate(args)), _) => assetlog_agent::simulate::run(args).await,
            (None, Some(path)) => run_agent(&path).await,
            (None, None) => Err(anyhow::anyhow!(
                "give --config FILE to run a logger (see agent.example.toml), or `simulate --server URL` to run virtual ones"
            )),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("{e:#}")),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {}", message.replace('\n', " "));
    ExitCode::FAILURE
}

async fn run_agent(path: &std::path::Path) -> anyhow::Result<()> {
    let config = Config::load(path).map_err(anyhow::Error::msg)?;
    let agent = assetlog_agent::agent::start(config).await?;
    println!("status page on {}", agent.status_url);
    shutdown_signal().await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. Nothing needs flushing: every event is on disk already.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
