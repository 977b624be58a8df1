//! Issue 13 (5): a live socket is authorised once, at its handshake; when its session ends
//! (sign-out, the user deleted) or changes (a new role), the server closes it at once.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

/// "At once": the close is sent before the revoking request is answered; this bounds it.
const WITHIN: Duration = Duration::from_secs(1);
/// Close code "policy violation": the session ended or changed.
const REVOKED: u16 = 1008;

/// Makes the tenant's dashboards get a message (a logger claimed and reporting).
async fn some_live_message(app: &TestApp, admin: &Account, logger_id: &str) {
    let device = app.claimed_device(admin, logger_id).await;
    let resp = app
        .asset_state(&device, json!({"pin_number": 0, "is_running": true}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn signing_out_closes_that_sessions_socket_and_no_other() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let other_session = app.login("ada@a.example", PASSWORD).await;
    let other_token = other_session.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut signed_out = app.live(&admin.token).await;
    let mut stays = app.live(&other_token).await;

    let resp = app
        .post("/api/v1/auth/logout", &json!({}), Some(&admin.token))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(signed_out.closed_within(WITHIN).await, Some(REVOKED));

    // The user's other session keeps its socket and its messages.
    some_live_message(
        &app,
        &Account {
            token: other_token.clone(),
            ..admin.clone()
        },
        "esp-1",
    )
    .await;
    assert_eq!(
        stays.next_of("asset_state_change").await["logger_id"],
        "esp-1"
    );
    // The signed-out token opens no new socket.
    let ws = app.url.replace("http://", "ws://");
    match tokio_tungstenite::connect_async(format!("{ws}/api/v1/live?token={}", admin.token)).await
    {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401),
        other => panic!("expected a 401, got {other:?}"),
    }
}

#[tokio::test]
async fn deleting_a_user_closes_every_socket_they_have_open() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let val = app.add_user(&admin, "val@a.example", "viewer").await;
    let mut first = app.live(&val.token).await;
    let mut second = app.live(&val.token).await;
    let mut admins = app.live(&admin.token).await;

    let resp = app
        .send(
            Method::DELETE,
            &format!("/api/v1/users/{}", val.user_id),
            None,
            Some(&admin.token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(first.closed_within(WITHIN).await, Some(REVOKED));
    assert_eq!(second.closed_within(WITHIN).await, Some(REVOKED));

    some_live_message(&app, &admin, "esp-1").await;
    assert_eq!(
        admins.next_of("asset_state_change").await["logger_id"],
        "esp-1"
    );
}

#[tokio::test]
async fn a_new_role_closes_the_socket_and_a_reconnect_gets_the_new_role() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let val = app.add_user(&admin, "val@a.example", "admin").await;
    let mut socket = app.live(&val.token).await;

    let resp = app
        .send(
            Method::PATCH,
            &format!("/api/v1/users/{}", val.user_id),
            Some(&json!({"role": "viewer"})),
            Some(&admin.token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(socket.closed_within(WITHIN).await, Some(REVOKED));

    // The session itself lives on, as a viewer: its new socket streams again.
    assert_eq!(
        app.get_json("/api/v1/auth/me", &val.token).await["user"]["role"],
        "viewer"
    );
    let mut again = app.live(&val.token).await;
    some_live_message(&app, &admin, "esp-1").await;
    assert_eq!(
        again.next_of("asset_state_change").await["logger_id"],
        "esp-1"
    );
}

#[tokio::test]
async fn a_socket_closes_when_its_token_expires() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let store = app.store.as_ref().unwrap();
    // A session that ends two seconds from now: the socket opens, then closes at its expiry.
    let token = "alt_short_lived_for_the_test";
    let lifetime = 2_000;
    store
        .create_session(
            admin.user_id,
            assetlog_server::secrets::hash_secret(token),
            now_ms() + lifetime,
        )
        .await
        .unwrap();
    let mut socket = app.live(token).await;
    let opened = std::time::Instant::now();
    assert_eq!(
        socket
            .closed_within(Duration::from_millis(lifetime as u64) + WITHIN)
            .await,
        Some(REVOKED)
    );
    assert!(
        opened.elapsed() >= Duration::from_millis(lifetime as u64 / 2),
        "closed at its expiry, not at once"
    );
    // The admin's own session is untouched.
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&admin.token))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_display_token_reads_the_board_changes_nothing_and_revoking_it_closes_its_screen() {
    let app = spawn_app_with(|c| c.open_signup = true).await;
    let admin = app.signup("ada@a.example", "A").await;
    let viewer = app.add_user(&admin, "vic@a.example", "viewer").await;
    // Only admins make displays; the token is shown once.
    let body = json!({"name": "TV hall 2"});
    let resp = app
        .post("/api/v1/displays", &body, Some(&viewer.token))
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
    for bad in [
        json!({"name": ""}),
        json!({"name": "x".repeat(51)}),
        json!({"title": "TV"}),
    ] {
        let resp = app.post("/api/v1/displays", &bad, Some(&admin.token)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let resp = app
        .post("/api/v1/displays", &body, Some(&admin.token))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let made: serde_json::Value = resp.json().await.unwrap();
    let token = made["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ald_"), "{token}");
    let listed = app.get_json("/api/v1/displays", &admin.token).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "TV hall 2");
    assert!(
        listed[0].get("token").is_none(),
        "never shown again: {listed}"
    );

    // It reads what the board reads, as the tenant's.
    let device = app.claimed_device(&admin, "esp-1").await;
    let resp = app
        .asset_state(&device, json!({"pin_number": 0, "is_running": true}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    for path in [
        "/api/v1/loggers",
        "/api/v1/assets",
        "/api/v1/shifts/current",
        "/api/v1/analytics",
        "/api/v1/auth/me",
    ] {
        let resp = app.get(path, Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }
    let me = app.get_json("/api/v1/auth/me", &token).await;
    assert_eq!(me["user"]["role"], "display");
    assert_eq!(me["tenant"]["name"], "A");
    assert_eq!(
        app.get_json("/api/v1/assets", &token)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // It changes nothing: every writing route of the API document refuses it (403), those a
    // viewer may use too; the device routes take no user token at all (401).
    let asset = app.get_json("/api/v1/assets", &admin.token).await[0]["id"].clone();
    let doc = app.get_json("/api/v1/openapi.json", &admin.token).await;
    let mut tried = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            if method == Method::GET || path.contains("auth/signup") || path.contains("auth/login")
            {
                continue;
            }
            let url = path.replace("{id}", "1");
            let resp = app
                .send(method.clone(), &url, Some(&json!({})), Some(&token))
                .await;
            if op["tags"].as_array().unwrap().contains(&json!("device")) {
                // A logger's routes want a device key: a display token is none.
                assert!(resp.status().is_client_error(), "{method} {path}");
            } else {
                assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{method} {path}");
            }
            tried += 1;
        }
    }
    assert!(tried > 30, "{tried} writing routes");
    assert_eq!(
        app.get_json("/api/v1/assets", &admin.token).await[0]["id"],
        asset
    );
    assert_eq!(
        app.get_json("/api/v1/reasons", &admin.token).await,
        json!([])
    );
    // Another tenant's admin can neither see nor revoke it.
    let other = app.signup("bob@b.example", "B").await;
    assert_eq!(
        app.get_json("/api/v1/displays", &other.token).await,
        json!([])
    );
    let id = made["id"].as_i64().unwrap();
    let resp = app
        .send(
            Method::DELETE,
            &format!("/api/v1/displays/{id}"),
            None,
            Some(&other.token),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;

    // Revoked: its screen's live socket closes at once and the token opens nothing again.
    let mut screen = app.live(&token).await;
    let resp = app
        .send(
            Method::DELETE,
            &format!("/api/v1/displays/{id}"),
            None,
            Some(&admin.token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(screen.closed_within(WITHIN).await, Some(REVOKED));
    let resp = app.get("/api/v1/assets", Some(&token)).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(
        app.get_json("/api/v1/displays", &admin.token).await,
        json!([])
    );
    // A made-up display token is refused like any bad token.
    let resp = app.get("/api/v1/assets", Some("ald_0000")).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
}
