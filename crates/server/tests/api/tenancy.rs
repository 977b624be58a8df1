//! Two tenants side by side: nothing of one is visible or changeable from the other.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

struct World {
    app: TestApp,
    a: Account,
    b: Account,
    a_device: Device,
    a_logger: i64,
    a_asset: i64,
}

async fn two_tenants() -> World {
    let app = spawn_app_with(|c| c.open_signup = true).await;
    let a = app.signup("ada@a.example", "Plant A").await;
    let b = app.signup("bob@b.example", "Plant B").await;
    let a_device = app.claimed_device(&a, "esp-a").await;
    app.asset_state(&a_device, json!({"pin_number": 1, "is_running": true}))
        .await;
    let logger = &app.get_json("/api/v1/loggers", &a.token).await[0];
    let (a_logger, a_asset) = (
        logger["id"].as_i64().unwrap(),
        logger["assets"][0]["id"].as_i64().unwrap(),
    );
    World {
        app,
        a,
        b,
        a_device,
        a_logger,
        a_asset,
    }
}

#[tokio::test]
async fn another_tenant_sees_none_of_it_and_gets_404_for_its_ids() {
    let World {
        app,
        a,
        b,
        a_logger,
        a_asset,
        ..
    } = two_tenants().await;
    for path in [
        "/api/v1/loggers",
        "/api/loggers",
        "/api/device/list",
        "/api/v1/assets",
    ] {
        assert_eq!(app.get_json(path, &b.token).await, json!([]), "{path}");
    }
    assert_eq!(
        app.get_json("/api/v1/events", &b.token).await["events"],
        json!([])
    );
    assert_eq!(
        app.get_json("/api/events", &b.token).await["events"],
        json!([])
    );
    assert_eq!(
        app.get_json("/api/v1/events?logger_id=esp-a", &b.token)
            .await["events"],
        json!([])
    );

    let attempts = [
        (Method::GET, format!("/api/v1/loggers/{a_logger}"), None),
        (Method::GET, "/api/v1/loggers/esp-a".to_owned(), None),
        (
            Method::PUT,
            format!("/api/v1/loggers/{a_logger}"),
            Some(json!({"name": "mine now", "allow_keyless": true})),
        ),
        (
            Method::PUT,
            "/api/loggers/esp-a".to_owned(),
            Some(json!({"name": "mine now"})),
        ),
        (
            Method::PUT,
            "/api/device/update/esp-a".to_owned(),
            Some(json!({"name": "mine now"})),
        ),
        (
            Method::POST,
            format!("/api/v1/loggers/{a_logger}/rotate-key"),
            Some(json!({})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/loggers/{a_logger}?purge=true"),
            None,
        ),
        (Method::DELETE, "/api/loggers/esp-a".to_owned(), None),
        (Method::DELETE, "/api/device/delete/esp-a".to_owned(), None),
        (Method::GET, format!("/api/v1/assets/{a_asset}"), None),
        (
            Method::PUT,
            format!("/api/v1/assets/{a_asset}"),
            Some(json!({"name": "mine now"})),
        ),
        (
            Method::GET,
            format!("/api/v1/events?asset_id={a_asset}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{}", a.user_id),
            Some(json!({"role": "viewer"})),
        ),
        (Method::DELETE, format!("/api/v1/users/{}", a.user_id), None),
    ];
    for (method, path, body) in attempts {
        let resp = app
            .send(method.clone(), &path, body.as_ref(), Some(&b.token))
            .await;
        assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
    // A's things are untouched.
    let logger = app
        .get_json(&format!("/api/v1/loggers/{a_logger}"), &a.token)
        .await;
    assert_eq!(logger["name"], "esp-a");
    assert_eq!(logger["allow_keyless"], false);
    assert_eq!(app.events(&a).await.len(), 1);
    let users = app.get_json("/api/v1/users", &b.token).await;
    assert_eq!(users.as_array().unwrap().len(), 1, "B sees only B's people");
}

#[tokio::test]
async fn a_claimed_logger_cannot_be_claimed_again_by_another_tenant() {
    let World {
        app, b, a_device, ..
    } = two_tenants().await;
    let resp = app
        .post(
            "/api/v1/loggers/claim",
            &json!({"logger_id": "esp-a", "claim_code": a_device.claim_code.clone().unwrap()}),
            Some(&b.token),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.get_json("/api/v1/loggers", &b.token).await, json!([]));
}

#[tokio::test]
async fn a_tenant_can_only_register_a_logger_id_another_holds_with_its_key() {
    let World { app, .. } = two_tenants().await;
    let resp = app
        .post("/api/device/register", &json!({"logger_id": "esp-a"}), None)
        .await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn live_messages_reach_only_their_own_tenant() {
    let World {
        app,
        a,
        b,
        a_device,
        ..
    } = two_tenants().await;
    let mut a_live = app.live(&a.token).await;
    let mut b_live = app.live(&b.token).await;
    let b_device = app.claimed_device(&b, "esp-b").await;

    app.asset_state(&a_device, json!({"pin_number": 1, "is_running": false}))
        .await;
    app.asset_state(&b_device, json!({"pin_number": 9, "is_running": true}))
        .await;

    let a_msg = a_live.next_of("asset_state_change").await;
    assert_eq!(a_msg["logger_id"], "esp-a");
    let b_msg = b_live.next_of("asset_state_change").await;
    assert_eq!(b_msg["logger_id"], "esp-b");
    // Nothing else arrives for either: B's change never reaches A, nor A's reaches B.
    while let Some(m) = a_live.next_within(Duration::from_millis(300)).await {
        assert_ne!(m["logger_id"], "esp-b", "{m}");
    }
    while let Some(m) = b_live.next_within(Duration::from_millis(300)).await {
        assert_ne!(m["logger_id"], "esp-a", "{m}");
    }
}
