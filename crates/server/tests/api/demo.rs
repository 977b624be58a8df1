//! `assetlog demo`: the first command a newcomer runs.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

/// `assetlog demo` on `data`, once it has its week of history.
pub fn start_demo(data: &std::path::Path) -> ServerProcess {
    let mut child = assetlog()
        .args(["demo", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("demo starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_owned();
    let mut creds = String::new();
    out.read_line(&mut creds).unwrap();
    assert!(
        creds.contains("demo@assetlog.example") && creds.contains(&url),
        "{creds}"
    );
    let mut ready = String::new();
    out.read_line(&mut ready).unwrap();
    assert!(ready.contains("12 simulated machines"), "{ready}");
    ServerProcess { child, url }
}

#[tokio::test]
async fn the_demo_has_a_dozen_machines_and_a_week_of_history_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let events_first_run;
    {
        let demo = start_demo(&data);
        let app = demo.app(tempfile::tempdir().unwrap());
        let resp = app.login("demo@assetlog.example", "assetlog-demo").await;
        assert_eq!(resp.status(), StatusCode::OK);
        let token = resp.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let assets = app.get_json("/api/v1/assets", &token).await;
        assert_eq!(assets.as_array().unwrap().len(), 12);
        assert!(
            assets
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["state"] != "UNKNOWN"),
            "{assets}"
        );
        let loggers = app.get_json("/api/v1/loggers", &token).await;
        assert_eq!(loggers.as_array().unwrap().len(), 3);
        let week_ago = now_ms() - 7 * 86_400_000;
        let body = app
            .get_json(
                &format!("/api/v1/analytics?from={week_ago}&bucket=day"),
                &token,
            )
            .await;
        let total = &body["total"];
        assert!(total["stops"].as_i64().unwrap() > 100, "{total}");
        let availability = total["availability"].as_f64().unwrap();
        assert!((0.3..0.99).contains(&availability), "{availability}");
        assert_eq!(
            app.get_json("/api/v1/shifts", &token)
                .await
                .as_array()
                .unwrap()
                .len(),
            2
        );
        events_first_run = app.get_json("/api/v1/loggers", &token).await[0]["acked_seq"]
            .as_i64()
            .unwrap();
        assert!(events_first_run > 100);
    }
    // A second run on the same data goes on where the first ended: no second week of history.
    let demo = start_demo(&data);
    let app = demo.app(tempfile::tempdir().unwrap());
    let token = app
        .login("demo@assetlog.example", "assetlog-demo")
        .await
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.get_json("/api/v1/assets", &token)
            .await
            .as_array()
            .unwrap()
            .len(),
        12
    );
    let seq = app.get_json("/api/v1/loggers", &token).await[0]["acked_seq"]
        .as_i64()
        .unwrap();
    assert!(
        seq > events_first_run && seq <= events_first_run + 10,
        "{events_first_run} → {seq}"
    );
}
