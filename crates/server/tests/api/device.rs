use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_new_logger_registers_pending_with_a_key_shown_once() {
    let app = spawn_app().await;
    let resp = app
        .post(
            "/api/device/register",
            &json!({"logger_id": "esp32-AABBCC", "logger_name": "Line 1", "firmware_version": "1.0.3",
                    "ip_address": "10.0.0.7", "assets": [{"pin_number": 4, "asset_name": "Press 4"}]}),
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "pending");
    assert_eq!(body["logger_id"], "esp32-AABBCC");
    assert_eq!(body["heartbeat_interval_s"], 30);
    assert!(body["server_time"].as_i64().unwrap() > 1_700_000_000_000);
    let key = body["device_key"].as_str().unwrap().to_owned();
    assert!(body["claim_code"].as_str().unwrap().len() >= 6);

    // A second registration must prove it is the same logger.
    let again = app
        .post(
            "/api/device/register",
            &json!({"logger_id": "esp32-AABBCC"}),
            None,
        )
        .await;
    assert_error(again, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let wrong = app
        .post(
            "/api/device/register",
            &json!({"logger_id": "esp32-AABBCC"}),
            Some("ald_wrong"),
        )
        .await;
    assert_error(wrong, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let with_key: Value = app
        .post(
            "/api/device/register",
            &json!({"logger_id": "esp32-AABBCC"}),
            Some(&key),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(with_key["status"], "pending");
    assert!(
        with_key.get("device_key").is_none(),
        "the key is shown only once"
    );
    assert_eq!(with_key["claim_code"], body["claim_code"]);
}

#[tokio::test]
async fn a_claimed_logger_reports_states_that_the_tenant_sees() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.register("esp-1").await;
    let claimed = app.claim(&admin, &device).await;
    assert_eq!(claimed["status"], "claimed");
    assert_eq!(claimed["logger_id"], "esp-1");

    let t0 = now_ms() - 60_000;
    let resp = app
        .asset_state(
            &device,
            json!({"pin_number": 2, "is_running": true, "timestamp": t0, "asset_name": "Lathe"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let first: Value = resp.json().await.unwrap();
    assert_eq!(first["success"], true);
    assert_eq!(first["duplicate"], false);
    // RFC 3339 works as well as epoch milliseconds.
    let t1 = chrono::DateTime::from_timestamp_millis(t0 + 30_000)
        .unwrap()
        .to_rfc3339();
    let resp = app
        .asset_state(
            &device,
            json!({"pin_number": 2, "is_running": false, "timestamp": t1}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    let assets = app.get_json("/api/v1/assets", &admin.token).await;
    let asset = &assets.as_array().unwrap()[0];
    assert_eq!(asset["name"], "Lathe");
    assert_eq!(asset["pin_number"], 2);
    assert_eq!(asset["state"], "STOPPED");
    assert_eq!(asset["since"], t0 + 30_000);

    let events = app.events(&admin).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["state"], "STOPPED");
    assert_eq!(events[0]["ts"], t0 + 30_000);
    assert_eq!(events[1]["state"], "RUNNING");
    assert_eq!(events[1]["logger_id"], "esp-1");
    assert_eq!(events[1]["asset_id"], asset["id"]);
    assert!(events[1]["received_at"].as_i64().unwrap() >= t0);

    // An unnamed pin is named after its logger.
    app.asset_state(&device, json!({"pin_number": 5, "is_running": true}))
        .await;
    let assets = app.get_json("/api/v1/assets", &admin.token).await;
    assert!(
        assets
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "esp-1 pin 5")
    );

    let loggers = app.get_json("/api/v1/loggers", &admin.token).await;
    assert_eq!(loggers[0]["online"], true);
    assert_eq!(loggers[0]["assets"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_retransmitted_event_is_stored_once_and_acknowledged_again() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let ts = now_ms() - 1000;
    let numbered = json!({"pin_number": 1, "is_running": true, "timestamp": ts, "seq": 7});
    let a: Value = app
        .asset_state(&device, numbered.clone())
        .await
        .json()
        .await
        .unwrap();
    let b: Value = app
        .asset_state(&device, numbered)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["duplicate"], true);
    assert_eq!(a["event_id"], b["event_id"]);
    // A repeat whose content differs (a retry that let the server stamp it, say) is the same
    // event too, and names the stored one.
    for repeat in [
        json!({"pin_number": 1, "is_running": false, "timestamp": ts + 5, "seq": 7}),
        json!({"pin_number": 1, "is_running": true, "seq": 7}),
    ] {
        let c: Value = app.asset_state(&device, repeat).await.json().await.unwrap();
        assert_eq!(c["duplicate"], true, "{c}");
        assert_eq!(c["event_id"], a["event_id"], "{c}");
    }
    // On another pin the stored event is not looked for; it is still not stored twice.
    let elsewhere = json!({"pin_number": 2, "is_running": true, "timestamp": ts, "seq": 7});
    let d: Value = app
        .asset_state(&device, elsewhere)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["duplicate"], true);
    assert_eq!(d["event_id"], Value::Null);

    // Without seq, the same pin, time and state from the same logger is the same event.
    let unnumbered = json!({"pin_number": 1, "is_running": false, "timestamp": ts + 10});
    assert_eq!(
        app.asset_state(&device, unnumbered.clone()).await.status(),
        StatusCode::OK
    );
    let again: Value = app
        .asset_state(&device, unnumbered)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["duplicate"], true);
    assert_eq!(app.events(&admin).await.len(), 2);
}

#[tokio::test]
async fn a_batch_is_acknowledged_up_to_the_first_gap_and_retransmits_are_stored_once() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "agent-1").await;
    let ts = now_ms() - 10_000;
    let ev = |seq: i64| json!({"seq": seq, "pin": 0, "running": seq % 2 == 1, "ts": ts + seq});

    let ack: Value = app
        .ingest(&device, json!([ev(1), ev(2), ev(3)]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack, json!({"acked_seq": 3}));
    let ack: Value = app
        .ingest(&device, json!([ev(5), ev(6)]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack["acked_seq"], 3, "seq 4 is missing");
    let ack: Value = app
        .ingest(&device, json!([ev(3), ev(4), ev(5)]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack["acked_seq"], 6);
    let ack: Value = app.ingest(&device, json!([])).await.json().await.unwrap();
    assert_eq!(ack["acked_seq"], 6, "an empty batch answers the watermark");
    let events = app.events(&admin).await;
    let mut seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    seqs.sort();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    let logger = app.get_json("/api/v1/loggers", &admin.token).await;
    assert_eq!(logger[0]["acked_seq"], 6);
}

#[tokio::test]
async fn the_watermark_joins_runs_of_seqs_from_batches_and_single_reports() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "agent-1").await;
    let ts = now_ms() - 10_000;
    let ev = |seq: i64| json!({"seq": seq, "pin": 0, "running": seq % 2 == 1, "ts": ts + seq});
    let acked = |resp: reqwest::Response| async move {
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json::<Value>().await.unwrap()["acked_seq"].clone()
    };

    assert_eq!(
        acked(app.ingest(&device, json!([ev(1), ev(2)])).await).await,
        2
    );
    // Two runs ahead of the watermark, one of them given twice in the same batch.
    let ahead = json!([ev(8), ev(9), ev(9), ev(5), ev(6)]);
    assert_eq!(acked(app.ingest(&device, ahead).await).await, 2);
    // A single report fills seq 3; the next batch counts it and bridges the runs.
    let single = json!({"pin_number": 0, "is_running": true, "timestamp": ts + 3, "seq": 3});
    assert_eq!(
        app.asset_state(&device, single).await.status(),
        StatusCode::OK
    );
    assert_eq!(acked(app.ingest(&device, json!([ev(7)])).await).await, 3);
    assert_eq!(
        acked(app.ingest(&device, json!([ev(4), ev(2)])).await).await,
        9
    );

    let mut seqs: Vec<i64> = app
        .events(&admin)
        .await
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    seqs.sort();
    assert_eq!(seqs, (1..=9).collect::<Vec<_>>(), "each seq stored once");
}

#[tokio::test]
async fn a_logger_without_a_clock_sends_ages_and_the_server_places_them() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-no-sntp").await;
    let before = now_ms();
    let ack: Value = app
        .ingest(
            &device,
            json!([
                {"seq": 1, "pin": 0, "running": true, "age_ms": 90_000},
                {"seq": 2, "pin": 0, "running": false, "age_ms": 30_000},
            ]),
        )
        .await
        .json()
        .await
        .unwrap();
    let after = now_ms();
    assert_eq!(ack["acked_seq"], 2);
    let events = app.events(&admin).await;
    let ts = |seq: i64| {
        events
            .iter()
            .find(|e| e["seq"] == seq)
            .and_then(|e| e["ts"].as_i64())
            .unwrap()
    };
    assert!((before - 90_000..=after - 90_000).contains(&ts(1)));
    assert_eq!(
        ts(2) - ts(1),
        60_000,
        "spacing between the changes is exact"
    );

    for (event, message) in [
        (
            json!({"seq": 3, "pin": 0, "running": true}),
            "ts (epoch ms) or age_ms",
        ),
        (
            json!({"seq": 3, "pin": 0, "running": true, "ts": before, "age_ms": 5}),
            "not both",
        ),
        (
            json!({"seq": 3, "pin": 0, "running": true, "age_ms": -5}),
            "",
        ),
    ] {
        let resp = app.ingest(&device, json!([event])).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["error"]["message"].as_str().unwrap().contains(message),
            "{body}"
        );
    }
    assert_eq!(app.events(&admin).await.len(), 2);
}

#[tokio::test]
async fn a_batch_with_one_bad_event_stores_nothing() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "agent-1").await;
    let ts = now_ms();
    let resp = app
        .ingest(&device, json!([{"seq": 1, "pin": 0, "running": true, "ts": ts}, {"seq": 2, "pin": 64, "running": false, "ts": ts}]))
        .await;
    let message = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_pin").await;
    assert!(message.contains("events[1]"), "{message}");
    assert!(app.events(&admin).await.is_empty());
}

#[tokio::test]
async fn events_of_a_pending_logger_are_kept_and_appear_when_it_is_claimed() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.register("esp-pending").await;
    let resp = app
        .asset_state(
            &device,
            json!({"pin_number": 3, "is_running": true, "seq": 1}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(app.events(&admin).await.is_empty());
    assert!(
        app.get_json("/api/v1/loggers", &admin.token)
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    let wrong = app
        .post(
            "/api/v1/loggers/claim",
            &json!({"logger_id": "esp-pending", "claim_code": "WRONG123"}),
            Some(&admin.token),
        )
        .await;
    assert_error(wrong, StatusCode::NOT_FOUND, "not_found").await;
    app.claim(&admin, &device).await;
    let events = app.events(&admin).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["pin"], 3);
    assert_eq!(
        app.get_json("/api/v1/assets", &admin.token)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Claimed once is claimed for good.
    let twice = app
        .post(
            "/api/v1/loggers/claim",
            &json!({"logger_id": "esp-pending", "claim_code": device.claim_code.clone().unwrap()}),
            Some(&admin.token),
        )
        .await;
    assert_error(twice, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn auto_enrollment_puts_a_new_logger_in_the_first_tenant() {
    let app = spawn_app_with(|c| c.enrollment = assetlog_server::config::Enrollment::Auto).await;
    let admin = app.signup("ada@a.example", "A").await;
    let resp: Value = app
        .post(
            "/api/device/register",
            &json!({"logger_id": "esp-auto"}),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resp["status"], "claimed");
    assert!(resp.get("claim_code").is_none());
    let loggers = app.get_json("/api/v1/loggers", &admin.token).await;
    assert_eq!(loggers[0]["logger_id"], "esp-auto");
}

#[tokio::test]
async fn keyless_posts_need_an_admin_to_allow_them() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "legacy-1").await;
    let body = json!({"logger_id": "legacy-1", "pin_number": 0, "is_running": 1});
    assert_error(
        app.post("/api/asset-state", &body, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    let logger = app.get_json("/api/v1/loggers", &admin.token).await;
    let id = logger[0]["id"].as_i64().unwrap();
    let resp = app
        .send(
            Method::PUT,
            &format!("/api/v1/loggers/{id}"),
            Some(&json!({"allow_keyless": true})),
            Some(&admin.token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(updated["allow_keyless"], true);

    assert_eq!(
        app.post("/api/asset-state", &body, None).await.status(),
        StatusCode::OK
    );
    let hb = app
        .post(
            "/api/device/heartbeat",
            &json!({"logger_id": "legacy-1", "rssi": -61}),
            None,
        )
        .await;
    assert_eq!(hb.status(), StatusCode::OK);
    // A wrong key is still wrong.
    assert_error(
        app.post("/api/asset-state", &body, Some("ald_nope")).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(app.events(&admin).await.len(), 1);
    assert_eq!(
        app.get_json("/api/v1/loggers", &admin.token).await[0]["rssi"],
        -61
    );
    drop(device);
}

#[tokio::test]
async fn a_pending_logger_cannot_post_keyless() {
    let app = spawn_app().await;
    app.register("pending-1").await;
    let body = json!({"logger_id": "pending-1", "pin_number": 0, "is_running": true});
    assert_error(
        app.post("/api/asset-state", &body, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn unknown_loggers_and_wrong_keys_store_nothing() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let stranger = Device {
        logger_id: "esp-unknown".into(),
        key: device.key.clone(),
        claim_code: None,
    };
    let resp = app
        .asset_state(&stranger, json!({"pin_number": 0, "is_running": true}))
        .await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let thief = Device {
        key: "ald_0000".into(),
        ..device.clone()
    };
    let resp = app
        .ingest(
            &thief,
            json!([{"seq": 1, "pin": 0, "running": true, "ts": now_ms()}]),
        )
        .await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let hb = app
        .post(
            "/api/device/heartbeat",
            &json!({"logger_id": "esp-1"}),
            Some("ald_0000"),
        )
        .await;
    assert_error(hb, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(app.events(&admin).await.is_empty());
}

#[tokio::test]
async fn heartbeats_show_on_the_logger() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let hb = json!({"logger_id": "esp-1", "uptime_s": 3600, "rssi": -70, "free_heap": 120000, "queued_events": 4, "dropped_events": 2, "firmware_version": "2.1.0"});
    let resp = app
        .post("/api/device/heartbeat", &hb, Some(&device.key))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let logger = &app.get_json("/api/v1/loggers", &admin.token).await[0];
    assert_eq!(logger["rssi"], -70);
    assert_eq!(logger["free_heap"], 120000);
    assert_eq!(logger["queued_events"], 4);
    assert_eq!(logger["dropped_events"], 2);
    assert_eq!(logger["uptime_s"], 3600);
    assert_eq!(logger["firmware_version"], "2.1.0");
    assert_eq!(logger["online"], true);
}

#[tokio::test]
async fn a_rotated_key_replaces_the_old_one_at_once() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let id = app.get_json("/api/v1/loggers", &admin.token).await[0]["id"]
        .as_i64()
        .unwrap();
    // Warm the credential cache with the old key first.
    assert_eq!(
        app.asset_state(&device, json!({"pin_number": 0, "is_running": true}))
            .await
            .status(),
        StatusCode::OK
    );
    let new_key = app.rotate_key(&admin, id).await;
    let old = app
        .asset_state(&device, json!({"pin_number": 0, "is_running": false}))
        .await;
    assert_error(old, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let renewed = Device {
        key: new_key,
        ..device
    };
    assert_eq!(
        app.asset_state(&renewed, json!({"pin_number": 0, "is_running": false}))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn deleting_a_logger_keeps_its_history_unless_purged() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let keep = app.claimed_device(&admin, "esp-keep").await;
    let purge = app.claimed_device(&admin, "esp-purge").await;
    for d in [&keep, &purge] {
        assert_eq!(
            app.asset_state(d, json!({"pin_number": 0, "is_running": true}))
                .await
                .status(),
            StatusCode::OK
        );
    }
    // The original path, by hardware id, now behind a token.
    let anonymous = app
        .send(Method::DELETE, "/api/device/delete/esp-keep", None, None)
        .await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let resp = app
        .send(
            Method::DELETE,
            "/api/device/delete/esp-keep",
            None,
            Some(&admin.token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let id = app.get_json("/api/v1/loggers", &admin.token).await[0]["id"]
        .as_i64()
        .unwrap();
    let resp = app
        .send(
            Method::DELETE,
            &format!("/api/v1/loggers/{id}?purge=true"),
            None,
            Some(&admin.token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    assert!(
        app.get_json("/api/v1/loggers", &admin.token)
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        app.get_json("/api/v1/assets", &admin.token).await,
        json!([]),
        "deleted loggers leave the board"
    );
    let events = app.events(&admin).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["logger_id"], "esp-keep");
    // The deleted logger's key no longer works; the hardware may register afresh.
    let resp = app
        .asset_state(&keep, json!({"pin_number": 0, "is_running": false}))
        .await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let fresh = app.register("esp-keep").await;
    assert!(fresh.claim_code.is_some());
}

#[tokio::test]
async fn the_original_management_paths_work_with_a_token_and_refuse_without() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    app.claimed_device(&admin, "esp-1").await;
    for path in ["/api/loggers", "/api/device/list", "/api/events"] {
        assert_error(
            app.get(path, None).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
        assert_eq!(
            app.get(path, Some(&admin.token)).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    let rename = json!({"logger_name": "Line 2"});
    let anonymous = app
        .send(Method::PUT, "/api/device/update/esp-1", Some(&rename), None)
        .await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let resp = app
        .send(
            Method::PUT,
            "/api/device/update/esp-1",
            Some(&rename),
            Some(&admin.token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let renamed: Value = resp.json().await.unwrap();
    assert_eq!(renamed["name"], "Line 2");
    let resp = app
        .send(
            Method::PUT,
            "/api/loggers/esp-1",
            Some(&json!({"name": "Line 3"})),
            Some(&admin.token),
        )
        .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["name"], "Line 3");
}

#[tokio::test]
async fn viewers_read_but_do_not_manage_loggers_or_assets() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let viewer = app.add_user(&admin, "vic@a.example", "viewer").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    app.asset_state(&device, json!({"pin_number": 0, "is_running": true}))
        .await;
    let logger = &app.get_json("/api/v1/loggers", &viewer.token).await[0];
    let id = logger["id"].as_i64().unwrap();
    let asset_id = logger["assets"][0]["id"].as_i64().unwrap();
    let attempts = [
        (
            Method::PUT,
            format!("/api/v1/loggers/{id}"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/api/v1/loggers/{id}"), None),
        (
            Method::POST,
            format!("/api/v1/loggers/{id}/rotate-key"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/assets/{asset_id}"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::POST,
            "/api/v1/loggers/claim".to_owned(),
            Some(json!({"logger_id": "x", "claim_code": "y"})),
        ),
    ];
    for (method, path, body) in attempts {
        let resp = app
            .send(method.clone(), &path, body.as_ref(), Some(&viewer.token))
            .await;
        assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
        // The role is checked before the body is even read.
        let raw = app
            .client
            .request(method.clone(), format!("{}{path}", app.url))
            .bearer_auth(&viewer.token)
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_error(raw, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let resp = app
        .send(
            Method::PUT,
            &format!("/api/v1/assets/{asset_id}"),
            Some(&json!({"name": "Press 1", "short_stop_threshold_s": 120})),
            Some(&admin.token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let asset: Value = resp.json().await.unwrap();
    assert_eq!(asset["name"], "Press 1");
    assert_eq!(asset["short_stop_threshold_s"], 120);
}

#[tokio::test]
async fn events_are_paged_newest_first_and_filtered() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "agent-1").await;
    let t0 = now_ms() - 100_000;
    let events: Vec<Value> = (1..=25)
        .map(|s| json!({"seq": s, "pin": s % 2, "running": s % 4 < 2, "ts": t0 + s * 1000}))
        .collect();
    assert_eq!(
        app.ingest(&device, Value::Array(events)).await.status(),
        StatusCode::OK
    );

    let mut seen = Vec::new();
    let mut path = "/api/v1/events?limit=10".to_owned();
    loop {
        let page = app.get_json(&path, &admin.token).await;
        seen.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/events?limit=10&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, (1..=25).rev().collect::<Vec<_>>());

    let window = app
        .get_json(
            &format!("/api/v1/events?from={}&to={}", t0 + 5000, t0 + 10_000),
            &admin.token,
        )
        .await;
    let seqs: Vec<i64> = window["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [9, 8, 7, 6, 5]);
    let assets = app.get_json("/api/v1/assets", &admin.token).await;
    let pin1 = assets
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["pin_number"] == 1)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let only = app
        .get_json(
            &format!("/api/v1/events?asset_id={pin1}&limit=1000"),
            &admin.token,
        )
        .await;
    assert_eq!(only["events"].as_array().unwrap().len(), 13);
    let by_logger = app
        .get_json("/api/v1/events?logger_id=agent-1&limit=1000", &admin.token)
        .await;
    assert_eq!(by_logger["events"].as_array().unwrap().len(), 25);
}
