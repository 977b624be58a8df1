use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_dashboard_sees_each_change_with_the_previous_state_duration() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let mut live = app.live(&admin.token).await;
    let t0 = now_ms() - 10_000;

    app.asset_state(
        &device,
        json!({"pin_number": 2, "is_running": true, "timestamp": t0, "asset_name": "Press"}),
    )
    .await;
    let first = live.next_of("asset_state_change").await;
    assert_eq!(first["asset_name"], "Press");
    assert_eq!(first["logger_id"], "esp-1");
    assert_eq!(first["pin_number"], 2);
    assert_eq!(first["state"], "RUNNING");
    assert_eq!(first["duration_ms"], json!(null));
    let at = chrono::DateTime::parse_from_rfc3339(first["timestamp"].as_str().unwrap()).unwrap();
    assert_eq!(at.timestamp_millis(), t0);

    // A repeat of the current state is stored but changes nothing live.
    app.asset_state(
        &device,
        json!({"pin_number": 2, "is_running": true, "timestamp": t0 + 1000}),
    )
    .await;
    app.asset_state(
        &device,
        json!({"pin_number": 2, "is_running": false, "timestamp": t0 + 4500}),
    )
    .await;
    let stop = live.next_of("asset_state_change").await;
    assert_eq!(stop["state"], "STOPPED");
    assert_eq!(stop["duration_ms"], 4500);
    assert!(stop["asset_id"].as_i64().is_some());
}

#[tokio::test]
async fn the_live_socket_demands_a_valid_token() {
    let app = spawn_app().await;
    let ws = app.url.replace("http://", "ws://");
    for url in [
        format!("{ws}/api/v1/live"),
        format!("{ws}/api/v1/live?token=alt_bogus"),
    ] {
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 401)
            }
            other => panic!("expected a 401, got {other:?}"),
        }
    }
    // A plain GET is told it needs a WebSocket (after authentication).
    let admin = app.signup("ada@a.example", "A").await;
    let plain = app.get("/api/v1/live", Some(&admin.token)).await;
    assert!(plain.status().is_client_error());
    assert_eq!(
        plain.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "websocket_required"
    );
}

#[tokio::test]
async fn a_silent_logger_goes_offline_and_comes_back() {
    let app = spawn_app_with(|c| c.heartbeat_interval = 1).await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    app.asset_state(&device, json!({"pin_number": 0, "is_running": true}))
        .await;
    let mut live = app.live(&admin.token).await;

    // Three missed 1 s heartbeats, plus the monitor's tick.
    let offline = live.next_of("logger_status").await;
    assert_eq!(offline["logger_id"], "esp-1");
    assert_eq!(offline["online"], false);
    let logger = &app.get_json("/api/v1/loggers", &admin.token).await[0];
    assert_eq!(logger["online"], false);
    let asset = &app.get_json("/api/v1/assets", &admin.token).await[0];
    assert_eq!(asset["state"], "UNKNOWN");
    assert_eq!(asset["since"], logger["last_seen"]);

    let hb = app
        .post(
            "/api/device/heartbeat",
            &json!({"logger_id": "esp-1"}),
            Some(&device.key),
        )
        .await;
    assert_eq!(hb.status(), StatusCode::OK);
    let online = live.next_of("logger_status").await;
    assert_eq!(online["online"], true);
    assert_eq!(
        app.get_json("/api/v1/assets", &admin.token).await[0]["state"],
        "RUNNING"
    );
}

#[tokio::test]
async fn a_client_that_does_not_read_never_holds_up_ingestion_or_other_clients() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "agent-1").await;
    let _stalled = app.live(&admin.token).await; // never read
    let mut reader = app.live(&admin.token).await;
    let t0 = now_ms() - 3_000_000;
    for batch in 0..3 {
        let events: Vec<_> = (0..1000)
            .map(|i| {
                let seq = batch * 1000 + i + 1;
                json!({"seq": seq, "pin": 0, "running": seq % 2 == 1, "ts": t0 + seq})
            })
            .collect();
        assert_eq!(
            app.ingest(&device, serde_json::Value::Array(events))
                .await
                .status(),
            StatusCode::OK
        );
        for _ in 0..1000 {
            assert_eq!(reader.next().await["type"], "asset_state_change");
        }
    }
    assert!(
        reader
            .next_within(Duration::from_millis(200))
            .await
            .is_none_or(|m| m["type"] == "logger_status")
    );
}

#[tokio::test]
async fn claiming_an_online_logger_tells_the_dashboard() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let mut live = app.live(&admin.token).await;
    let device = app.register("esp-new").await;
    app.claim(&admin, &device).await;
    let status = live.next_of("logger_status").await;
    assert_eq!(status["logger_id"], "esp-new");
    assert_eq!(status["online"], true);
}
