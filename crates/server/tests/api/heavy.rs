//! Issue 13 (6): one viewer's question for 399 days by shift over 64 assets (a 700-shift
//! calendar was accepted) built a 609 MB answer, and three at once held 1.3 GB. The shifts of a
//! calendar, the figures of one question, the stops of one list and the questions answered at
//! once are now bounded.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const DAY: i64 = 86_400_000;
const WEEK: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `n` shifts of 50 minutes, one at each hour of every day (24 fill the day).
fn hourly_shifts(n: usize) -> Value {
    let shifts: Vec<Value> = (0..n)
        .map(|h| {
            json!({"name": format!("S{h}"), "days": WEEK,
                   "start": format!("{:02}:00", h % 24), "end": format!("{:02}:50", h % 24),
                   "breaks": []})
        })
        .collect();
    Value::Array(shifts)
}

async fn put_shifts(app: &TestApp, admin: &Account, calendar: &Value) -> reqwest::Response {
    app.send(
        Method::PUT,
        "/api/v1/shifts?from=1970-01-01",
        Some(calendar),
        Some(&admin.token),
    )
    .await
}

/// A tenant with one logger of 64 inputs (64 assets), each with a recent event.
async fn plant_of_64_assets(app: &TestApp) -> Account {
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-64").await;
    let t0 = now_ms() - 3_600_000;
    let events: Vec<Value> = (0..64)
        .map(|pin| json!({"seq": pin + 1, "pin": pin, "running": true, "ts": t0 + pin}))
        .collect();
    assert_eq!(
        app.ingest(&device, Value::Array(events)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get_json("/api/v1/assets", &admin.token)
            .await
            .as_array()
            .unwrap()
            .len(),
        64
    );
    admin
}

#[tokio::test]
async fn a_calendar_of_too_many_shifts_or_breaks_is_refused_and_nothing_stored() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    app.set_shifts(&admin, &hourly_shifts(24)).await;

    let too_many = put_shifts(&app, &admin, &hourly_shifts(25)).await;
    let message = assert_error(too_many, StatusCode::BAD_REQUEST, "invalid_shifts").await;
    assert!(message.contains("at most 24 shifts"), "{message}");
    let a_hundred = put_shifts(&app, &admin, &hourly_shifts(100)).await;
    assert_error(a_hundred, StatusCode::BAD_REQUEST, "invalid_shifts").await;

    let breaks: Vec<Value> = (0..17)
        .map(
            |m| json!({"start": format!("08:{:02}", m * 2), "end": format!("08:{:02}", m * 2 + 1)}),
        )
        .collect();
    let many_breaks =
        json!([{"name": "Day", "days": WEEK, "start": "08:00", "end": "16:00", "breaks": breaks}]);
    let refused = put_shifts(&app, &admin, &many_breaks).await;
    let message = assert_error(refused, StatusCode::BAD_REQUEST, "invalid_shifts").await;
    assert!(message.contains("at most 16 breaks"), "{message}");

    assert_eq!(
        app.get_json("/api/v1/shifts", &admin.token).await,
        hourly_shifts(24)
    );
}

#[tokio::test]
async fn the_399_day_question_by_shift_over_64_assets_is_refused_naming_the_limit() {
    let app = spawn_app().await;
    let admin = plant_of_64_assets(&app).await;
    let viewer = app.add_user(&admin, "vic@a.example", "viewer").await;
    app.set_shifts(&admin, &hourly_shifts(24)).await;
    let now = now_ms();
    let window = format!("from={}&to={now}", now - 399 * DAY);

    for query in [
        format!("{window}&bucket=shift"),
        format!("{window}&bucket=shift&format=csv"),
        format!("{window}&bucket=hour"),
    ] {
        let resp = app
            .get(&format!("/api/v1/analytics?{query}"), Some(&viewer.token))
            .await;
        let message = assert_error(resp, StatusCode::BAD_REQUEST, "query_too_large").await;
        assert!(message.contains("at most 200000"), "{message}");
        assert!(message.contains("64 assets"), "{message}");
    }
    // What a plant asks stays answered: the year by day, or one asset's year by shift.
    let by_day = app
        .analytics(&viewer, &format!("{window}&bucket=day"))
        .await;
    assert_eq!(by_day["assets"].as_array().unwrap().len(), 64);
    let asset = by_day["assets"][0]["asset_id"].as_i64().unwrap();
    let one = app
        .analytics(&viewer, &format!("{window}&bucket=shift&asset_id={asset}"))
        .await;
    assert!(one["assets"][0]["buckets"].as_array().unwrap().len() > 9_000);
}

#[tokio::test]
async fn the_figures_limit_is_a_setting() {
    let app = spawn_app_with(|c| c.analytics_max_figures = 10).await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let resp = app
        .ingest(
            &device,
            json!([{"seq": 1, "pin": 0, "running": true, "ts": now_ms() - 1000}]),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let now = now_ms();
    app.analytics(
        &admin,
        &format!("from={}&to={now}&bucket=day", now - 9 * DAY),
    )
    .await;
    let resp = app
        .get(
            &format!(
                "/api/v1/analytics?from={}&to={now}&bucket=day",
                now - 11 * DAY
            ),
            Some(&admin.token),
        )
        .await;
    let message = assert_error(resp, StatusCode::BAD_REQUEST, "query_too_large").await;
    assert!(message.contains("at most 10"), "{message}");
}

#[tokio::test]
async fn questions_beyond_the_slots_wait_a_bounded_time_then_get_503() {
    let app = spawn_app_with(|c| {
        c.query_concurrency = Some(1);
        c.query_wait = 1;
    })
    .await;
    let admin = app.signup("ada@a.example", "A").await;
    let gate = &app.state.as_ref().expect("in-process").queries;

    // Another question holds the only slot.
    let held = gate.enter().await.expect("a free slot");
    for path in ["/api/v1/analytics?bucket=hour", "/api/v1/stops"] {
        let resp = app.get(path, Some(&admin.token)).await;
        let retry_after = resp.headers().get("retry-after").cloned();
        assert_error(resp, StatusCode::SERVICE_UNAVAILABLE, "busy").await;
        assert_eq!(
            retry_after.expect("Retry-After").to_str().unwrap(),
            "1",
            "{path}"
        );
    }
    // Bad input is still told at once, without waiting for a slot.
    let resp = app
        .get("/api/v1/analytics?bucket=year", Some(&admin.token))
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "invalid_query").await;

    drop(held);
    app.analytics(&admin, "bucket=hour").await;
    app.stops(&admin, "").await;
    // A streamed answer gives its slot back once it is sent.
    assert_eq!(gate.available(), 1);
}

#[tokio::test]
async fn a_stops_list_longer_than_its_limit_is_refused_naming_it() {
    let app = spawn_app_with(|c| c.stops_max = 3).await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let t0 = now_ms() - 3_600_000;
    // Four stops, a minute apart, each over.
    let events: Vec<Value> = (0..9)
        .map(|i| json!({"seq": i + 1, "pin": 0, "running": i % 2 == 0, "ts": t0 + i * 60_000}))
        .collect();
    assert_eq!(
        app.ingest(&device, Value::Array(events)).await.status(),
        StatusCode::OK
    );

    let all = format!("from={t0}&to={}", now_ms());
    let resp = app
        .get(&format!("/api/v1/stops?{all}"), Some(&admin.token))
        .await;
    let message = assert_error(resp, StatusCode::BAD_REQUEST, "query_too_large").await;
    assert!(
        message.contains("4 stops") && message.contains("at most 3"),
        "{message}"
    );
    let three = format!("from={t0}&to={}", t0 + 6 * 60_000);
    assert_eq!(app.stops(&admin, &three).await.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_client_that_stops_reading_a_big_answer_is_cut_and_its_query_slot_freed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|c| {
        c.query_concurrency = Some(1);
        c.query_wait = 1;
        c.send_timeout = 1;
    })
    .await;
    let admin = plant_of_64_assets(&app).await;
    let gate = &app.state.as_ref().expect("in-process").queries;

    // 64 machines by hour over 80 days: tens of megabytes, far more than the sockets buffer.
    let to = now_ms();
    let from = to - 80 * DAY;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let address = app.url.trim_start_matches("http://").parse().unwrap();
    let mut stalled = socket.connect(address).await.expect("connects");
    let request = format!(
        "GET /api/v1/analytics?bucket=hour&from={from}&to={to} HTTP/1.1\r\nhost: x\r\n\
         authorization: Bearer {}\r\n\r\n",
        admin.token
    );
    stalled.write_all(request.as_bytes()).await.unwrap();
    let mut status = [0u8; 12];
    stalled.read_exact(&mut status).await.unwrap();
    assert_eq!(&status, b"HTTP/1.1 200");
    // The answer has begun and cannot end while nobody reads it: it holds the only slot.
    assert_eq!(gate.available(), 0);

    // Once the client has taken nothing for the send timeout, its connection is closed and the
    // slot is free again: another question gets it (each try waits up to the 1 s query wait).
    let started = std::time::Instant::now();
    let slot = loop {
        match gate.enter().await {
            Ok(slot) => break slot,
            Err(_) if started.elapsed() < std::time::Duration::from_secs(20) => {}
            Err(_) => panic!("the stalled answer still holds the query slot"),
        }
    };
    drop(slot);
    // The stalled client finds its connection closed under what the buffers held.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stalled.read_to_end(&mut rest),
    )
    .await
    .expect("the server closed the connection");
    assert!(
        read.is_err() || !rest.ends_with(b"0\r\n\r\n"),
        "the answer was cut, not ended: {} bytes",
        rest.len()
    );
    // Others are answered as ever.
    app.analytics(&admin, "bucket=hour").await;
    assert_eq!(gate.available(), 1);
}
