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
