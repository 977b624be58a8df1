//! Every kind of bad input gets a 4xx JSON error, stores nothing, and the server keeps serving.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const YEAR_1999: i64 = 946_684_799_999;

#[tokio::test]
async fn bad_state_reports_are_refused_and_store_nothing() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let now = now_ms();
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"pin_number": 64, "is_running": true}),
            StatusCode::BAD_REQUEST,
            "invalid_pin",
        ),
        (
            json!({"pin_number": -1, "is_running": true}),
            StatusCode::BAD_REQUEST,
            "invalid_pin",
        ),
        (
            json!({"pin_number": "two", "is_running": true}),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            json!({"pin_number": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            json!({"pin_number": 1, "is_running": "yes"}),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            json!({"pin_number": 1, "is_running": 2}),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            json!({"pin_number": 1, "is_running": true, "timestamp": YEAR_1999}),
            StatusCode::BAD_REQUEST,
            "invalid_timestamp",
        ),
        (
            json!({"pin_number": 1, "is_running": true, "timestamp": "1999-12-31T23:59:59Z"}),
            StatusCode::BAD_REQUEST,
            "invalid_timestamp",
        ),
        (
            json!({"pin_number": 1, "is_running": true, "timestamp": now + 6 * 60_000}),
            StatusCode::BAD_REQUEST,
            "invalid_timestamp",
        ),
        (
            json!({"pin_number": 1, "is_running": true, "timestamp": "yesterday"}),
            StatusCode::BAD_REQUEST,
            "invalid_timestamp",
        ),
        (
            json!({"pin_number": 1, "is_running": true, "seq": -5}),
            StatusCode::BAD_REQUEST,
            "invalid_seq",
        ),
        (
            json!({"pin_number": 1, "is_running": true, "seq": 0}),
            StatusCode::BAD_REQUEST,
            "invalid_seq",
        ),
        (
            json!({"pin_number": 1, "is_running": true, "asset_name": "a\u{0}b"}),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
    ];
    for (body, status, code) in cases {
        let resp = app.asset_state(&device, body.clone()).await;
        assert_eq!(resp.status(), status, "{body}");
        assert_error(resp, status, code).await;
    }
    for (logger_id, code) in [
        (json!("bad id"), "invalid_logger_id"),
        (json!("x".repeat(65)), "invalid_logger_id"),
        (json!(""), "invalid_logger_id"),
        (json!(7), "invalid_field"),
    ] {
        let body = json!({"logger_id": logger_id, "pin_number": 1, "is_running": true});
        assert_error(
            app.post("/api/asset-state", &body, Some(&device.key)).await,
            StatusCode::BAD_REQUEST,
            code,
        )
        .await;
    }
    assert!(app.events(&admin).await.is_empty());
    assert!(
        app.get_json("/api/v1/assets", &admin.token)
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_batches_are_refused_whole() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "agent-1").await;
    let now = now_ms();
    let ok = |seq: i64| json!({"seq": seq, "pin": 0, "running": true, "ts": now});
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!([ok(1), {"seq": 2, "pin": 0, "running": true, "ts": YEAR_1999}]),
            StatusCode::BAD_REQUEST,
            "invalid_timestamp",
        ),
        (
            json!([ok(1), {"seq": 2, "pin": 0, "running": true, "ts": now + 301_000}]),
            StatusCode::BAD_REQUEST,
            "invalid_timestamp",
        ),
        (
            json!([ok(1), {"seq": 0, "pin": 0, "running": true, "ts": now}]),
            StatusCode::BAD_REQUEST,
            "invalid_seq",
        ),
        (
            json!([ok(1), {"seq": 2, "pin": 300, "running": true, "ts": now}]),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            json!([ok(1), {"seq": 2, "pin": 0, "ts": now}]),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            json!([ok(1), {"seq": 2, "pin": 0, "running": "no", "ts": now}]),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (json!({"seq": 1}), StatusCode::BAD_REQUEST, "invalid_field"),
    ];
    for (events, status, code) in cases {
        assert_error(app.ingest(&device, events.clone()).await, status, code).await;
    }
    // 1001 events: one too many, however small each is.
    let too_many: Vec<Value> = (1..=1001)
        .map(|s| json!({"seq": s, "pin": 0, "running": true, "ts": now}))
        .collect();
    let body = serde_json::to_string(&json!({"logger_id": "agent-1", "events": too_many})).unwrap();
    if body.len() <= 64 * 1024 {
        let resp = app
            .post_raw("/api/v1/ingest", body, Some(&device.key))
            .await;
        assert_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "batch_too_large").await;
    } else {
        let resp = app
            .post_raw("/api/v1/ingest", body, Some(&device.key))
            .await;
        assert_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large").await;
    }
    assert!(app.events(&admin).await.is_empty());
    // A full 1000-event batch of realistic size is accepted.
    let full: Vec<Value> = (1..=1000)
        .map(|s| json!({"seq": s, "pin": s % 64, "running": s % 3 == 0, "ts": now - 1_000_000 + s}))
        .collect();
    let ack: Value = app
        .ingest(&device, Value::Array(full))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack["acked_seq"], 1000);
}

#[tokio::test]
async fn malformed_and_oversized_bodies_get_json_errors() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    for path in [
        "/api/asset-state",
        "/api/v1/ingest",
        "/api/device/register",
        "/api/device/heartbeat",
        "/api/v1/auth/login",
    ] {
        for body in ["{", "", "null", "[1,2]", "{\"logger_id\": }", "\u{0}"] {
            let resp = app.post_raw(path, body, Some(&device.key)).await;
            let status = resp.status();
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body:?}");
            let err: Value = resp.json().await.unwrap();
            assert!(
                err["error"]["code"] == "malformed_json" || err["error"]["code"] == "invalid_field",
                "{err}"
            );
        }
    }
    let huge = format!(
        "{{\"logger_id\":\"esp-1\",\"pin_number\":1,\"is_running\":true,\"asset_name\":\"{}\"}}",
        "x".repeat(70_000)
    );
    let resp = app
        .post_raw("/api/asset-state", huge, Some(&device.key))
        .await;
    assert_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large").await;
    assert!(app.events(&admin).await.is_empty());
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_tokens_are_401_everywhere() {
    let app = spawn_app().await;
    app.signup("ada@a.example", "A").await;
    let paths = [
        (Method::GET, "/api/v1/auth/me"),
        (Method::GET, "/api/v1/users"),
        (Method::GET, "/api/v1/loggers"),
        (Method::GET, "/api/v1/loggers/1"),
        (Method::GET, "/api/v1/assets"),
        (Method::GET, "/api/v1/events"),
        (Method::POST, "/api/v1/loggers/claim"),
        (Method::POST, "/api/v1/auth/logout"),
        (Method::GET, "/api/loggers"),
        (Method::GET, "/api/events"),
    ];
    for (method, path) in paths {
        for token in [None, Some("alt_bogus"), Some("")] {
            let resp = app
                .send(method.clone(), path, Some(&json!({})), token)
                .await;
            assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
        }
        let raw = app
            .client
            .request(method.clone(), format!("{}{path}", app.url))
            .header("authorization", "Basic YWRhOnB3")
            .send()
            .await
            .unwrap();
        assert_error(raw, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
}

#[tokio::test]
async fn bad_query_parameters_and_ids_are_refused() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    for path in [
        "/api/v1/events?limit=0",
        "/api/v1/events?limit=5000",
        "/api/v1/events?limit=ten",
        "/api/v1/events?from=yesterday",
        "/api/v1/events?from=2000&to=1000",
        "/api/v1/events?cursor=garbage",
    ] {
        assert_error(
            app.get(path, Some(&admin.token)).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        )
        .await;
    }
    for path in [
        "/api/v1/loggers/abc",
        "/api/v1/loggers/999",
        "/api/v1/assets/abc",
        "/api/v1/assets/999",
        "/api/v1/nothing",
    ] {
        assert_error(
            app.get(path, Some(&admin.token)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    let bad_utf8 = app.get("/api/v1/loggers/%FF%FE", Some(&admin.token)).await;
    assert_error(bad_utf8, StatusCode::BAD_REQUEST, "invalid_path").await;
    let wrong_method = app
        .send(Method::PATCH, "/api/v1/loggers", None, Some(&admin.token))
        .await;
    assert_error(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let bad_rename = app
        .send(
            Method::PUT,
            "/api/v1/assets/1",
            Some(&json!({"short_stop_threshold_s": -3})),
            Some(&admin.token),
        )
        .await;
    assert!(bad_rename.status().is_client_error());
}

#[tokio::test]
async fn health_and_metrics_answer() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    app.asset_state(
        &device,
        json!({"pin_number": 1, "is_running": true, "seq": 1}),
    )
    .await;
    app.asset_state(
        &device,
        json!({"pin_number": 1, "is_running": true, "seq": 1}),
    )
    .await;
    let _live = app.live(&admin.token).await;
    assert_eq!(
        app.get("/healthz", None)
            .await
            .json::<Value>()
            .await
            .unwrap()["status"],
        "ok"
    );
    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(text.contains("assetlog_events_ingested_total 1"), "{text}");
    assert!(text.contains("assetlog_events_duplicate_total 1"), "{text}");
    assert!(text.contains("assetlog_live_clients 1"), "{text}");
    assert!(text.contains("assetlog_http_request_duration_seconds_count{method=\"POST\",route=\"/api/asset-state\"} 2"), "{text}");
}

#[tokio::test]
async fn a_retention_out_of_range_or_not_a_number_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let bad = [
        json!({"retention_days": 0}),
        json!({"retention_days": -1}),
        json!({"retention_days": 36_501}),
        json!({"retention_days": "30"}),
        json!({"retention_days": 1.5}),
        json!({"retention_days": true}),
        json!({"retention_days": [30]}),
        // Refused whole: the valid field beside it is not stored either.
        json!({"retention_days": 0, "short_stop_threshold_s": 60}),
    ];
    for body in &bad {
        let message = assert_error(
            app.put_settings(&admin, body).await,
            StatusCode::BAD_REQUEST,
            "invalid_field",
        )
        .await;
        assert!(message.contains("retention_days"), "{body}: {message}");
    }
    let settings = app.get_json("/api/v1/settings", &admin.token).await;
    assert_eq!(settings["retention_days"], Value::Null);
    assert_eq!(settings["short_stop_threshold_s"], 300);

    // The bounds are in; a change of another field leaves the retention as it is.
    for days in [1, 36_500] {
        let resp = app
            .put_settings(&admin, &json!({"retention_days": days}))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let resp = app
        .put_settings(&admin, &json!({"short_stop_threshold_s": 60}))
        .await;
    assert_eq!(
        resp.json::<Value>().await.unwrap()["retention_days"],
        36_500
    );
}
