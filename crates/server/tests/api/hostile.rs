//! What a hostile client on the plant network tries with a request the server would otherwise
//! have taken: positional JSON, a web page posting to device endpoints, invisible characters in
//! names, formulas hidden after a `;`, a retransmit naming another pin, and answers cached on
//! the way. Each is refused (or defused) and leaves nothing stored.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn positional_json_is_refused_at_the_top_and_inside_a_batch() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let login = app
        .post(
            "/api/v1/auth/login",
            &json!(["ada@a.example", PASSWORD]),
            None,
        )
        .await;
    assert_error(login, StatusCode::BAD_REQUEST, "invalid_field").await;

    let device = app.claimed_device(&admin, "esp-pos").await;
    let positional = app
        .ingest(&device, json!([[1, 0, true, now_ms() - 1000]]))
        .await;
    assert_error(positional, StatusCode::BAD_REQUEST, "invalid_field").await;
    assert!(app.events(&admin).await.is_empty(), "nothing stored");
    // The calendar is the one body that is a list: it still is, of objects.
    app.set_shifts(
        &admin,
        &json!([{"name": "Early", "days": ["mon"], "start": "06:00", "end": "14:00"}]),
    )
    .await;
    let positional_shift = app
        .send(
            Method::PUT,
            "/api/v1/shifts",
            Some(&json!([["Early", ["mon"], "06:00", "14:00", []]])),
            Some(&admin.token),
        )
        .await;
    assert_error(positional_shift, StatusCode::BAD_REQUEST, "invalid_field").await;
}

#[tokio::test]
async fn a_web_page_cannot_post_to_the_device_endpoints() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-web").await;
    for (path, body) in [
        (
            "/api/asset-state",
            json!({"logger_id": "esp-web", "pin_number": 1, "is_running": true}),
        ),
        (
            "/api/device/heartbeat",
            json!({"logger_id": "esp-web", "firmware_version": "evil"}),
        ),
        (
            "/api/device/register",
            json!({"logger_id": "esp-other", "assets": []}),
        ),
    ] {
        // What a page on any plant PC sends with fetch(…, {mode: "no-cors"}): text/plain, an Origin.
        let resp = app
            .client
            .post(format!("{}{path}", app.url))
            .header("origin", "http://intranet.plant.example")
            .header("content-type", "text/plain")
            .bearer_auth(&device.key)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
    }
    assert!(app.events(&admin).await.is_empty());
    let loggers = app.get_json("/api/v1/loggers", &admin.token).await;
    let loggers = loggers.as_array().unwrap();
    assert_eq!(loggers.len(), 1, "no logger registered from a page");
    assert_ne!(loggers[0]["firmware_version"], "evil");
    // The logger itself, which sends no Origin, is served as before.
    let ok = app
        .asset_state(&device, json!({"pin_number": 1, "is_running": true}))
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn invisible_and_reordering_characters_are_refused_in_names_and_emails() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let signup = app
        .post(
            "/api/v1/auth/signup",
            &json!({"email": "bob\u{200B}@b.example", "password": PASSWORD, "tenant_name": "B"}),
            None,
        )
        .await;
    assert_error(signup, StatusCode::BAD_REQUEST, "invalid_email").await;
    let device = app.claimed_device(&admin, "esp-bidi").await;
    app.asset_state(&device, json!({"pin_number": 1, "is_running": true}))
        .await;
    let asset = app.get_json("/api/v1/assets", &admin.token).await[0]["id"].clone();
    for name in ["Press\u{202E}4", "\u{FEFF}Press 4", "Press\u{2066}4"] {
        let renamed = app
            .send(
                Method::PUT,
                &format!("/api/v1/assets/{asset}"),
                Some(&json!({ "name": name })),
                Some(&admin.token),
            )
            .await;
        assert_error(renamed, StatusCode::BAD_REQUEST, "invalid_field").await;
    }
    let assets = app.get_json("/api/v1/assets", &admin.token).await;
    assert_eq!(assets[0]["name"], "esp-bidi pin 1", "the name stayed");
}

#[tokio::test]
async fn a_formula_after_a_semicolon_is_defused_in_csv() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-csv").await;
    let t0 = now_ms() - 3_600_000;
    app.ingest(
        &device,
        json!([{"seq": 1, "pin": 0, "running": true, "ts": t0}]),
    )
    .await;
    let asset = app.get_json("/api/v1/assets", &admin.token).await[0]["id"].clone();
    app.send(
        Method::PUT,
        &format!("/api/v1/assets/{asset}"),
        Some(&json!({"name": "Press;=HYPERLINK(\"http://x\")"})),
        Some(&admin.token),
    )
    .await;
    let csv = app
        .get(
            &format!("/api/v1/analytics?from={t0}&to={}&format=csv", t0 + 60_000),
            Some(&admin.token),
        )
        .await
        .text()
        .await
        .unwrap();
    let row = csv.lines().nth(1).unwrap();
    assert!(row.contains("Press;'=HYPERLINK"), "{row}");
}

#[tokio::test]
async fn a_retransmit_that_names_another_pin_creates_no_asset() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-dup").await;
    let ts = now_ms() - 1000;
    let resp = app
        .ingest(
            &device,
            json!([
                {"seq": 1, "pin": 0, "running": true, "ts": ts},
                {"seq": 1, "pin": 5, "running": true, "ts": ts},
            ]),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let assets = app.get_json("/api/v1/assets", &admin.token).await;
    let pins: Vec<&Value> = assets
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["pin_number"])
        .collect();
    assert_eq!(pins, [&json!(0)], "only the pin of the stored event");
    assert_eq!(app.events(&admin).await.len(), 1);
}

#[tokio::test]
async fn api_answers_are_not_cached_and_never_sniffed() {
    let app = spawn_app().await;
    app.signup("ada@a.example", "A").await;
    let login = app.login("ada@a.example", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(login.headers()["cache-control"], "no-store");
    assert_eq!(login.headers()["x-content-type-options"], "nosniff");
    let page = app.get("/", None).await;
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_ne!(
        page.headers()["cache-control"],
        "no-store",
        "the dashboard keeps its own caching"
    );
}
