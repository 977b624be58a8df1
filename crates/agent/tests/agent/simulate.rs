//! The simulator: N virtual loggers, each with its own identity and numbering.

use std::process::Command;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_loggers_each_deliver_their_own_numbered_events() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = Server::with_tenant(&dir.path().join("server")).await;
    let state = dir.path().join("sim");
    let run = || {
        let out = Command::new(agent_bin())
            .args(["simulate", "--server", &server.url, "--loggers", "3"])
            .args([
                "--assets-per-logger",
                "2",
                "--seed",
                "7",
                "--speed",
                "20000",
            ])
            .args(["--no-shift", "--max-changes", "10", "--id-prefix", "vm"])
            .arg("--state-dir")
            .arg(&state)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    // It ends by itself once every machine made its changes and all were delivered.
    let stdout = run();
    assert!(
        stdout.contains("3/3 loggers registered, 60 events, 60 uploaded, 0 queued"),
        "{stdout}"
    );
    for i in 1..=3 {
        let events = server.events(&token, &format!("vm-{i:04}")).await;
        assert_complete(&events, 20);
    }
    // A second run with the same state directory reports as the same loggers and numbers on.
    let stdout = run();
    assert!(
        stdout.contains("3/3 loggers registered, 60 events, 60 uploaded"),
        "{stdout}"
    );
    for i in 1..=3 {
        let events = server.events(&token, &format!("vm-{i:04}")).await;
        assert_complete(&events, 40);
    }
}
