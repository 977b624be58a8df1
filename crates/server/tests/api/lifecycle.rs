//! The server as a process: restarts, crashes, and refusing to start on a bad setup.

use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]);
    let app = server.app(tempfile::tempdir().unwrap());
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let ts = now_ms() - 5000;
    app.asset_state(
        &device,
        json!({"pin_number": 1, "is_running": true, "timestamp": ts, "seq": 1}),
    )
    .await;

    // SIGTERM: a clean stop, exit 0.
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(server.child.wait().unwrap().success());

    let server = ServerProcess::start(&data, &[]);
    let app = server.app(tempfile::tempdir().unwrap());
    let resp = app.login("ada@a.example", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let token = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The old token too, and the device key: nothing was lost.
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&admin.token))
            .await
            .status(),
        StatusCode::OK
    );
    let events = app.get_json("/api/v1/events", &token).await;
    assert_eq!(events["events"][0]["ts"], ts);
    let again: Value = app
        .asset_state(
            &device,
            json!({"pin_number": 1, "is_running": true, "timestamp": ts, "seq": 1}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["duplicate"], true, "dedup survives the restart");
    assert_eq!(
        app.get_json("/api/v1/assets", &token).await[0]["state"],
        "RUNNING"
    );
}

#[tokio::test]
async fn kill_9_right_after_an_acknowledgement_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]);
    let app = server.app(tempfile::tempdir().unwrap());
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "agent-1").await;
    let t0 = now_ms() - 100_000;
    let events: Vec<Value> = (1..=500)
        .map(|s| json!({"seq": s, "pin": 0, "running": s % 2 == 0, "ts": t0 + s}))
        .collect();
    let ack: Value = app
        .ingest(&device, Value::Array(events))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack["acked_seq"], 500);
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();

    let server = ServerProcess::start(&data, &[]);
    let app = server.app(tempfile::tempdir().unwrap());
    let stored = app
        .get_json("/api/v1/events?limit=1000", &admin.token)
        .await;
    assert_eq!(stored["events"].as_array().unwrap().len(), 500);
    let logger = &app.get_json("/api/v1/loggers", &admin.token).await[0];
    assert_eq!(logger["acked_seq"], 500);
}

pub(crate) fn start_expecting_failure(args: &[&str]) -> String {
    let out = assetlog().args(args).stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success(), "should fail: {args:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one clear error line, got: {stderr}");
    errors[0].to_owned()
}

#[tokio::test]
async fn a_taken_port_a_bad_data_dir_or_a_corrupt_database_stop_the_start_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap().to_string();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let line = start_expecting_failure(&["serve", "--bind", &taken, "--data-dir", data]);
    assert!(line.contains("cannot listen on"), "{line}");

    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let under_file = file.join("data");
    let line = start_expecting_failure(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--data-dir",
        under_file.to_str().unwrap(),
    ]);
    assert!(line.contains("data directory"), "{line}");

    let corrupt = dir.path().join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    std::fs::write(corrupt.join("assetlog.db"), vec![0x5a; 8192]).unwrap();
    let line = start_expecting_failure(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--data-dir",
        corrupt.to_str().unwrap(),
    ]);
    assert!(line.contains("database"), "{line}");

    let line = start_expecting_failure(&["serve", "--heartbeat-interval", "0"]);
    assert!(line.contains("heartbeat"), "{line}");
}

#[tokio::test]
async fn a_graceful_stop_finishes_writes_and_a_new_server_reads_them() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    assert!(admin.tenant_id > 0);
    let device = app.claimed_device(&admin, "agent-1").await;
    let t0 = now_ms() - 100_000;
    // Requests in flight while the stop begins are still answered and stored.
    let sends: Vec<_> = (1..=50)
        .map(|s| {
            let body = json!({"logger_id": "agent-1", "events": [{"seq": s, "pin": 0, "running": s % 2 == 0, "ts": t0 + s}]});
            let req = app.client.post(format!("{}/api/v1/ingest", app.url)).bearer_auth(&device.key).json(&body);
            tokio::spawn(req.send())
        })
        .collect();
    let mut acknowledged = 0;
    for send in sends {
        if send
            .await
            .unwrap()
            .is_ok_and(|r| r.status() == StatusCode::OK)
        {
            acknowledged += 1;
        }
    }
    let dir = app.shutdown().await;

    let mut config = assetlog_server::config::ServeConfig::local(dir.path().join("data"));
    config.bind = "127.0.0.1:0".into();
    config.database_url = crate::helpers::test_database(&config.data_dir);
    let again = assetlog_server::Application::build(config).await.unwrap();
    let url = format!("http://{}", again.local_addr());
    tokio::spawn(again.run_until(std::future::pending()));
    let body: Value = crate::helpers::http()
        .get(format!("{url}/api/v1/events?limit=1000"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["events"].as_array().unwrap().len(), acknowledged);
    assert_eq!(acknowledged, 50);
}
