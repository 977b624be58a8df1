//! Alerting end to end: channels and rules through the API, a real HTTP receiver that checks
//! each webhook's signature, real reports from a logger, and the live socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use assetlog_server::config::ServeConfig;
use axum::http::HeaderMap;
use hmac::{KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::helpers::*;

/// One request a receiver got.
#[derive(Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Value,
    raw: String,
}

/// A webhook receiver on loopback: what it gets arrives on the channel; it answers 500 to the
/// first `fail_first` requests, then 200.
struct Receiver {
    url: String,
    got: mpsc::UnboundedReceiver<Received>,
    fail_first: Arc<AtomicUsize>,
}

async fn receiver() -> Receiver {
    let (tx, got) = mpsc::unbounded_channel();
    let fail_first = Arc::new(AtomicUsize::new(0));
    let failing = fail_first.clone();
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: HeaderMap, raw: String| {
            let (tx, failing) = (tx.clone(), failing.clone());
            async move {
                let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
                let _ = tx.send(Received {
                    path: uri.path().to_string(),
                    headers,
                    body,
                    raw,
                });
                let fail = failing
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if fail {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver {
        url,
        got,
        fail_first,
    }
}

impl Receiver {
    async fn next(&mut self) -> Received {
        self.next_within(Duration::from_secs(15)).await
    }

    async fn next_within(&mut self, limit: Duration) -> Received {
        tokio::time::timeout(limit, self.got.recv())
            .await
            .unwrap_or_else(|_| panic!("the receiver got no request within {limit:?}"))
            .expect("receiver open")
    }
}

/// Checks a webhook's signature as a receiver would, with the channel's secret.
fn assert_signed(got: &Received, secret: &str) {
    let timestamp = got.headers["x-assetlog-timestamp"].to_str().unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{}", got.raw).as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(got.headers["x-assetlog-signature"], expected.as_str());
}

async fn alerting_app() -> TestApp {
    alerting_app_with(|_| {}).await
}

/// [`alerting_app`], then `configure`.
async fn alerting_app_with(configure: impl FnOnce(&mut ServeConfig)) -> TestApp {
    spawn_app_with(|c| {
        c.allow_private_webhooks = true;
        c.alert_retry_ms = 50;
        c.heartbeat_interval = 1;
        c.open_signup = true;
        configure(c);
    })
    .await
}

async fn add_channel(app: &TestApp, admin: &Account, name: &str, url: &str) -> Value {
    let resp = app
        .post(
            "/api/v1/alert-channels",
            &json!({"name": name, "kind": "webhook", "url": url}),
            Some(&admin.token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json().await.unwrap()
}

async fn add_rule(app: &TestApp, admin: &Account, rule: Value) -> Value {
    let resp = app
        .post("/api/v1/alert-rules", &rule, Some(&admin.token))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED, "{rule}");
    resp.json().await.unwrap()
}

async fn report(app: &TestApp, device: &Device, running: bool) {
    let resp = app
        .asset_state(device, json!({"pin_number": 0, "is_running": running}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_long_stop_opens_one_alert_however_many_reports_and_clears_when_the_machine_runs() {
    let app = alerting_app().await;
    let mut hook = receiver().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    report(&app, &device, true).await;
    let channel = add_channel(&app, &admin, "Maintenance", &format!("{}/hook", hook.url)).await;
    let secret = channel["secret"].as_str().unwrap().to_string();
    add_rule(
        &app,
        &admin,
        json!({"name": "Stopped 1 s", "kind": "stop_longer_than", "threshold_s": 1,
               "channel_ids": [channel["id"]], "notify_on_clear": true}),
    )
    .await;
    let mut live = app.live(&admin.token).await;
    let bob = app.signup("bob@b.example", "B").await;
    let bobs = app.claimed_device(&bob, "esp-9").await;
    let mut bob_live = app.live(&bob.token).await;
    // 50 reports for the same machine within milliseconds: one stop.
    let reports: Vec<_> = (0..50).map(|_| report(&app, &device, false)).collect();
    futures_util::future::join_all(reports).await;
    let opened = hook.next().await;
    assert_eq!(opened.path, "/hook");
    assert_signed(&opened, &secret);
    assert_eq!(opened.body["event"], "opened", "{:?}", opened.body);
    assert_eq!(opened.body["alert"]["rule"]["name"], "Stopped 1 s");
    assert!(
        opened.body["text"]
            .as_str()
            .unwrap()
            .contains("stopped for longer than 1 s")
    );
    let alert_id = opened.body["alert_id"].as_i64().unwrap();
    let heard = live.next_of("alert").await;
    assert_eq!(
        (heard["event"].clone(), heard["alert"]["id"].clone()),
        (json!("opened"), json!(alert_id))
    );
    let active = app
        .get_json("/api/v1/alerts?state=active", &admin.token)
        .await;
    assert_eq!(active.as_array().unwrap().len(), 1, "{active}");
    assert_eq!(active[0]["state"], "active");
    // It runs again: cleared, and the next the receiver gets is the clear (no second opening).
    report(&app, &device, true).await;
    let cleared = hook.next().await;
    assert_signed(&cleared, &secret);
    assert_eq!(cleared.body["event"], "cleared", "{:?}", cleared.body);
    assert_eq!(cleared.body["alert_id"], alert_id);
    assert_eq!(live.next_of("alert").await["event"], "cleared");
    let all = app.get_json("/api/v1/alerts", &admin.token).await;
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    assert_eq!(all[0]["state"], "cleared");
    // Another tenant's dashboard heard none of it: the first it hears is its own machine.
    report(&app, &bobs, true).await;
    loop {
        let heard = bob_live.next().await;
        assert_ne!(heard["type"], "alert", "another tenant's alert: {heard}");
        if heard["type"] == "asset_state_change" {
            assert_eq!(heard["logger_id"], "esp-9");
            break;
        }
    }
    let attempts = app
        .get_json(
            &format!("/api/v1/alert-deliveries?alert_id={alert_id}"),
            &admin.token,
        )
        .await;
    assert_eq!(attempts.as_array().unwrap().len(), 2, "{attempts}");
    assert!(attempts.as_array().unwrap().iter().all(|a| a["ok"] == true));
}

#[tokio::test]
async fn a_receiver_that_fails_three_times_gets_the_alert_once_and_every_attempt_is_logged() {
    let app = alerting_app().await;
    let mut hook = receiver().await;
    hook.fail_first.store(3, Ordering::SeqCst);
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let channel = add_channel(&app, &admin, "Flaky", &hook.url).await;
    add_rule(
        &app,
        &admin,
        json!({"name": "Stopped", "kind": "stop_longer_than", "threshold_s": 1,
               "channel_ids": [channel["id"]]}),
    )
    .await;
    report(&app, &device, false).await;
    let mut deliveries = Vec::new();
    for _ in 0..4 {
        let got = hook.next().await;
        deliveries.push(
            got.headers["x-assetlog-delivery"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    assert!(
        deliveries.iter().all(|d| *d == deliveries[0]),
        "one delivery, retried: {deliveries:?}"
    );
    let alerts = app.get_json("/api/v1/alerts", &admin.token).await;
    let id = alerts[0]["id"].as_i64().unwrap();
    // The success is recorded after the receiver answered: wait for it on the log.
    let mut log = Value::Null;
    for _ in 0..100 {
        log = app
            .get_json(
                &format!("/api/v1/alert-deliveries?alert_id={id}"),
                &admin.token,
            )
            .await;
        if log.as_array().unwrap().len() == 4 {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let oks: Vec<bool> = log
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|a| a["ok"] == true)
        .collect();
    assert_eq!(oks, [false, false, false, true], "{log}");
    assert_eq!(log[3]["status"], 500);
}

#[tokio::test]
async fn a_silent_logger_opens_an_offline_alert_that_clears_when_it_reports() {
    let app = alerting_app().await;
    let mut hook = receiver().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let channel = add_channel(&app, &admin, "Ops", &hook.url).await;
    add_rule(
        &app,
        &admin,
        json!({"name": "Logger offline", "kind": "logger_offline",
               "channel_ids": [channel["id"]], "notify_on_clear": true}),
    )
    .await;
    let opened = hook.next().await;
    assert_eq!(opened.body["event"], "opened");
    assert!(
        opened.body["text"]
            .as_str()
            .unwrap()
            .contains("esp-1 is offline"),
        "{:?}",
        opened.body
    );
    let hb = app
        .post(
            "/api/device/heartbeat",
            &json!({"logger_id": device.logger_id}),
            Some(&device.key),
        )
        .await;
    assert_eq!(hb.status(), StatusCode::OK);
    assert_eq!(hook.next().await.body["event"], "cleared");
    let alerts = app.get_json("/api/v1/alerts", &admin.token).await;
    assert_eq!(alerts[0]["kind"], "logger_offline");
    assert_eq!(alerts[0]["logger_id"], "esp-1");
    assert_eq!(alerts[0]["state"], "cleared");
}

#[tokio::test]
async fn an_unacknowledged_alert_escalates_and_acknowledging_is_for_operators_of_its_tenant() {
    let app = alerting_app().await;
    let mut first = receiver().await;
    let mut second = receiver().await;
    let admin = app.signup("ada@a.example", "A").await;
    let viewer = app.add_user(&admin, "vic@a.example", "viewer").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let a = add_channel(&app, &admin, "Shift lead", &first.url).await;
    let b = add_channel(&app, &admin, "Plant manager", &second.url).await;
    add_rule(
        &app,
        &admin,
        json!({"name": "Stopped", "kind": "stop_longer_than", "threshold_s": 1,
               "channel_ids": [a["id"]], "escalate_after_s": 1, "escalate_channel_ids": [b["id"]]}),
    )
    .await;
    report(&app, &device, false).await;
    assert_eq!(first.next().await.body["event"], "opened");
    let escalated = second.next().await;
    assert_eq!(escalated.body["event"], "escalated");
    let id = escalated.body["alert_id"].as_i64().unwrap();
    let ack = format!("/api/v1/alerts/{id}/ack");
    let by_viewer = app.post(&ack, &json!({}), Some(&viewer.token)).await;
    assert_error(by_viewer, StatusCode::FORBIDDEN, "forbidden").await;
    // Another tenant's operator cannot see it, let alone acknowledge it.
    let bob = app.signup("bob@b.example", "B").await;
    let across = app.post(&ack, &json!({}), Some(&bob.token)).await;
    assert_error(across, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.get_json("/api/v1/alerts", &bob.token).await, json!([]));
    assert_eq!(
        app.get_json("/api/v1/alert-deliveries", &bob.token).await,
        json!([])
    );
    let acked = app
        .post(&ack, &json!({"comment": "on my way"}), Some(&admin.token))
        .await;
    assert_eq!(acked.status(), StatusCode::OK);
    let acked: Value = acked.json().await.unwrap();
    assert_eq!(acked["state"], "acknowledged");
    assert_eq!(acked["acknowledged_by"], "ada@a.example");
    assert_eq!(acked["ack_comment"], "on my way");
    let again = app.post(&ack, &json!({}), Some(&admin.token)).await;
    assert_error(again, StatusCode::CONFLICT, "already_acknowledged").await;
}

#[tokio::test]
async fn channels_and_rules_are_checked_and_stay_inside_their_tenant() {
    let app = alerting_app().await;
    let hook = receiver().await;
    let admin = app.signup("ada@a.example", "A").await;
    let viewer = app.add_user(&admin, "vic@a.example", "viewer").await;
    let channel = add_channel(&app, &admin, "Hook", &hook.url).await;
    let id = channel["id"].as_i64().unwrap();
    let bob = app.signup("bob@b.example", "B").await;
    // Reading channels (URLs and secrets) is for admins; nobody sees another tenant's.
    let read = app.get("/api/v1/alert-channels", Some(&viewer.token)).await;
    assert_error(read, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(
        app.get_json("/api/v1/alert-channels", &bob.token).await,
        json!([])
    );
    let path = format!("/api/v1/alert-channels/{id}");
    let body = json!({"name": "Mine now", "kind": "slack", "url": hook.url});
    let put = app
        .send(reqwest::Method::PUT, &path, Some(&body), Some(&bob.token))
        .await;
    assert_error(put, StatusCode::NOT_FOUND, "not_found").await;
    let delete = app
        .send(reqwest::Method::DELETE, &path, None, Some(&bob.token))
        .await;
    assert_error(delete, StatusCode::NOT_FOUND, "not_found").await;
    let test = app
        .post(&format!("{path}/test"), &json!({}), Some(&bob.token))
        .await;
    assert_error(test, StatusCode::NOT_FOUND, "not_found").await;
    // A rule names only its own tenant's channels.
    let stolen = app
        .post(
            "/api/v1/alert-rules",
            &json!({"name": "x", "kind": "logger_offline", "channel_ids": [id]}),
            Some(&bob.token),
        )
        .await;
    assert_error(stolen, StatusCode::BAD_REQUEST, "invalid_rule").await;
    for (bad, code) in [
        (
            json!({"name": "x", "kind": "stop_longer_than", "channel_ids": [id]}),
            "invalid_rule",
        ),
        (
            json!({"name": "x", "kind": "stop_longer_than", "threshold_s": 0, "channel_ids": [id]}),
            "invalid_rule",
        ),
        (
            json!({"name": "x", "kind": "logger_offline", "channel_ids": []}),
            "invalid_rule",
        ),
        (
            json!({"name": "x", "kind": "bogus", "channel_ids": [id]}),
            "invalid_field",
        ),
        (
            json!({"name": "x", "kind": "logger_offline", "channel_ids": [id], "extra": 1}),
            "invalid_field",
        ),
        (
            json!({"name": "x", "kind": "logger_offline", "channel_ids": [id], "asset_ids": [999]}),
            "invalid_rule",
        ),
    ] {
        let resp = app
            .post("/api/v1/alert-rules", &bad, Some(&admin.token))
            .await;
        let message = assert_error(resp, StatusCode::BAD_REQUEST, code).await;
        assert!(!message.is_empty(), "{bad}");
    }
    assert_eq!(
        app.get_json("/api/v1/alert-rules", &admin.token).await,
        json!([]),
        "nothing stored"
    );
    let rule = add_rule(
        &app,
        &admin,
        json!({"name": "Offline", "kind": "logger_offline", "channel_ids": [id]}),
    )
    .await;
    assert_eq!(
        app.get_json("/api/v1/alert-rules", &viewer.token).await[0]["id"],
        rule["id"]
    );
    assert_eq!(
        app.get_json("/api/v1/alert-rules", &bob.token).await,
        json!([])
    );
    let rule_path = format!("/api/v1/alert-rules/{}", rule["id"]);
    let across = app
        .send(reqwest::Method::DELETE, &rule_path, None, Some(&bob.token))
        .await;
    assert_error(across, StatusCode::NOT_FOUND, "not_found").await;
    // A channel a rule sends to stays until the rule no longer does.
    let in_use = app
        .send(reqwest::Method::DELETE, &path, None, Some(&admin.token))
        .await;
    assert_error(in_use, StatusCode::CONFLICT, "channel_in_use").await;
    // Email needs SMTP.
    let email = app
        .post(
            "/api/v1/alert-channels",
            &json!({"name": "Mail", "kind": "email", "to": ["ops@a.example"]}),
            Some(&admin.token),
        )
        .await;
    assert_error(email, StatusCode::BAD_REQUEST, "smtp_not_configured").await;
    // The test message reaches the receiver, and is logged.
    let tested = app
        .post(&format!("{path}/test"), &json!({}), Some(&admin.token))
        .await;
    let tested: Value = tested.json().await.unwrap();
    assert_eq!(
        (tested["ok"].clone(), tested["status"].clone()),
        (json!(true), json!(200)),
        "{tested}"
    );
    let log = app.get_json("/api/v1/alert-deliveries", &admin.token).await;
    assert_eq!(log[0]["event"], "test");
}

#[tokio::test]
async fn receivers_on_the_plants_own_network_are_refused_unless_the_operator_allows_them() {
    let app = spawn_app().await;
    let hook = receiver().await;
    let admin = app.signup("ada@a.example", "A").await;
    for url in [
        hook.url.clone(),
        "http://localhost:9/".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://[::1]:8080/".to_string(),
        "http://10.0.0.1/".to_string(),
        "http://2130706433/".to_string(),
    ] {
        let resp = app
            .post(
                "/api/v1/alert-channels",
                &json!({"name": "Probe", "kind": "webhook", "url": url}),
                Some(&admin.token),
            )
            .await;
        assert_error(resp, StatusCode::BAD_REQUEST, "private_address").await;
    }
    for url in ["ftp://example.com/", "not a url", "http:///nohost"] {
        let resp = app
            .post(
                "/api/v1/alert-channels",
                &json!({"name": "Bad", "kind": "slack", "url": url}),
                Some(&admin.token),
            )
            .await;
        assert_error(resp, StatusCode::BAD_REQUEST, "invalid_url").await;
    }
    assert_eq!(
        app.get_json("/api/v1/alert-channels", &admin.token).await,
        json!([])
    );
}

#[tokio::test]
async fn an_open_alert_survives_a_restart_neither_doubled_nor_lost() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut hook = receiver().await;
    let flags = ["--allow-private-webhooks", "--alert-retry-ms", "50"];
    let mut server = ServerProcess::start(&data, &flags);
    let app = server.app(tempfile::tempdir().unwrap());
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let channel = add_channel(&app, &admin, "Hook", &hook.url).await;
    add_rule(
        &app,
        &admin,
        json!({"name": "Stopped", "kind": "stop_longer_than", "threshold_s": 1,
               "channel_ids": [channel["id"]], "notify_on_clear": true}),
    )
    .await;
    report(&app, &device, false).await;
    assert_eq!(hook.next().await.body["event"], "opened");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let server = ServerProcess::start(&data, &flags);
    let app = server.app(tempfile::tempdir().unwrap());
    let token = app.sign_in("ada@a.example").await.token;
    report(&app, &device, true).await;
    // The next the receiver hears is the clear of the same alert: not a second opening.
    let cleared = hook.next().await;
    assert_eq!(cleared.body["event"], "cleared", "{:?}", cleared.body);
    let alerts = app.get_json("/api/v1/alerts", &token).await;
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");
    assert_eq!(alerts[0]["state"], "cleared");
}

#[tokio::test]
async fn with_two_replicas_one_evaluates_and_the_other_takes_over_when_it_dies() {
    if !on_postgres() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flags = ["--allow-private-webhooks", "--alert-retry-ms", "50"];
    let mut a = ServerProcess::start(&data, &flags);
    let b = ServerProcess::start(&data, &flags);
    let (app_a, app_b) = (
        a.app(tempfile::tempdir().unwrap()),
        b.app(tempfile::tempdir().unwrap()),
    );
    let mut hook = receiver().await;
    let admin = app_a.signup("ada@a.example", "A").await;
    let device = app_a.claimed_device(&admin, "esp-1").await;
    // Rules set on B (which does not lead), reports to B: the leader A evaluates, once.
    let channel = add_channel(&app_b, &admin, "Hook", &hook.url).await;
    add_rule(
        &app_b,
        &admin,
        json!({"name": "Stopped", "kind": "stop_longer_than", "threshold_s": 1,
               "channel_ids": [channel["id"]], "notify_on_clear": true}),
    )
    .await;
    report(&app_b, &device, false).await;
    assert_eq!(hook.next().await.body["event"], "opened");
    report(&app_b, &device, true).await;
    assert_eq!(
        hook.next().await.body["event"],
        "cleared",
        "no second opening"
    );
    // A dies: B leads, and evaluates.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    report(&app_b, &device, false).await;
    assert_eq!(hook.next().await.body["event"], "opened");
    let alerts = app_b.get_json("/api/v1/alerts", &admin.token).await;
    assert_eq!(alerts.as_array().unwrap().len(), 2, "{alerts}");
}

#[tokio::test]
async fn an_email_channel_gets_the_alert_as_text_and_html() {
    let mut smtp = SmtpSink::start();
    let url = smtp.url();
    let app = spawn_app_with(|c| {
        c.smtp_url = Some(url);
        c.mail_from = Some("assetlog <alerts@plant.example>".into());
    })
    .await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let resp = app
        .post(
            "/api/v1/alert-channels",
            &json!({"name": "Maintenance mail", "kind": "email",
                    "to": ["lead@a.example", "night@a.example"]}),
            Some(&admin.token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let channel: Value = resp.json().await.unwrap();
    assert_eq!(channel["secret"], Value::Null);
    let tested: Value = app
        .post(
            &format!("/api/v1/alert-channels/{}/test", channel["id"]),
            &json!({}),
            Some(&admin.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tested["ok"], true, "{tested}");
    let test = smtp.next().await;
    assert_eq!(test["subject"], "[assetlog] test: assetlog test");
    add_rule(
        &app,
        &admin,
        json!({"name": "Press <stopped>", "kind": "stop_longer_than", "threshold_s": 1,
               "channel_ids": [channel["id"]]}),
    )
    .await;
    report(&app, &device, false).await;
    let mail = smtp.next().await;
    assert_eq!(mail["mail_from"], "alerts@plant.example");
    assert_eq!(
        mail["rcpt_tos"],
        json!(["lead@a.example", "night@a.example"])
    );
    assert_eq!(mail["subject"], "[assetlog] opened: Press <stopped>");
    assert!(
        mail["text"]
            .as_str()
            .unwrap()
            .contains("stopped for longer than 1 s"),
        "{mail}"
    );
    let html = mail["html"].as_str().unwrap();
    assert!(
        html.contains("Press &lt;stopped&gt;") && !html.contains("<stopped>"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
}

#[tokio::test]
async fn a_shift_that_can_no_longer_reach_its_availability_opens_an_alert_at_once() {
    let app = alerting_app().await;
    let mut hook = receiver().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    report(&app, &device, true).await;
    let channel = add_channel(&app, &admin, "Hook", &hook.url).await;
    let rule = add_rule(
        &app,
        &admin,
        json!({"name": "Availability", "kind": "availability_below", "threshold_pct": 100,
               "channel_ids": [channel["id"]]}),
    )
    .await;
    assert_eq!(rule["threshold_pct"], 100.0);
    // Without a calendar the shift is the day: any stop makes 100 % unreachable.
    report(&app, &device, false).await;
    let opened = hook.next().await;
    assert_eq!(opened.body["event"], "opened");
    let text = opened.body["text"].as_str().unwrap();
    assert!(
        text.contains("can no longer reach 100.0 % availability this shift"),
        "{text}"
    );
    let alerts = app
        .get_json("/api/v1/alerts?state=active", &admin.token)
        .await;
    assert_eq!(alerts[0]["kind"], "availability_below");
    assert_eq!(
        alerts[0]["detail"]["shift_end"].as_i64().unwrap() - alerts[0]["since"].as_i64().unwrap(),
        86_400_000
    );
    // Running again does not clear it: the shift's figure stays below until the shift ends.
    report(&app, &device, true).await;
    report(&app, &device, false).await;
    let still = app.get_json("/api/v1/alerts", &admin.token).await;
    assert_eq!(still.as_array().unwrap().len(), 1, "one per shift: {still}");
}

#[tokio::test]
async fn a_machine_stopped_since_before_its_shift_is_alerted_when_the_shift_ends() {
    use crate::reports::{MIN, clock};
    // The test's logger sends no heartbeats: give it minutes before it counts as offline (its
    // machine's time would then be unknown, not stopped).
    let app = alerting_app_with(|c| c.heartbeat_interval = 300).await;
    let mut hook = receiver().await;
    let admin = app.signup("ada@a.example", "A").await;
    // One shift of one minute, from the next whole minute at least 15 s away.
    let now = now_ms();
    let mut start = (now / MIN + 1) * MIN;
    if start - now < 15_000 {
        start += MIN;
    }
    let end = start + MIN;
    let days = json!(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);
    app.set_shifts(
        &admin,
        &json!([{"name": "Short", "days": days, "start": clock(start), "end": clock(end)}]),
    )
    .await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let channel = add_channel(&app, &admin, "Hook", &hook.url).await;
    add_rule(
        &app,
        &admin,
        json!({"name": "Availability", "kind": "availability_below", "threshold_pct": 50,
               "channel_ids": [channel["id"]]}),
    )
    .await;
    // Stopped before the shift: no stop begins inside it, so nothing looks at the shift before
    // its end. Then it is 0 % of a shift that wanted 50 %.
    report(&app, &device, false).await;
    assert!(now_ms() < start, "set up before the shift began");
    let opened = hook.next_within(Duration::from_secs(200)).await;
    assert!(now_ms() >= end, "opened before the shift ended");
    assert_eq!(opened.body["event"], "opened");
    let text = opened.body["text"].as_str().unwrap();
    assert!(
        text.contains("reached 0.0 % availability in the shift") && text.contains("below 50.0 %"),
        "{text}"
    );
    // The figure of a shift that is over: the alert tells it and is over with the shift.
    let alerts = app.get_json("/api/v1/alerts", &admin.token).await;
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert["kind"], "availability_below");
    assert_eq!(alert["state"], "cleared", "{alert}");
    assert_eq!(
        (alert["since"].as_i64(), alert["cleared_at"].as_i64()),
        (Some(start), Some(end))
    );
    assert_eq!(alert["detail"]["availability"], 0.0, "{alert}");
    let active = app
        .get_json("/api/v1/alerts?state=active", &admin.token)
        .await;
    assert_eq!(active.as_array().map(Vec::len), Some(0), "{active}");
}

#[tokio::test]
async fn a_rule_made_after_one_was_deleted_alerts_on_the_same_stop() {
    let app = alerting_app().await;
    let mut hook = receiver().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    report(&app, &device, true).await;
    let channel = add_channel(&app, &admin, "Hook", &hook.url).await;
    let rule = json!({"name": "Stopped 1 s", "kind": "stop_longer_than", "threshold_s": 1,
                      "channel_ids": [channel["id"]]});
    let first = add_rule(&app, &admin, rule.clone()).await;
    report(&app, &device, false).await;
    assert_eq!(hook.next().await.body["event"], "opened");
    // The rule goes (its alert stays in the history); a new one, made while the same stop goes
    // on, must alert on it too: it is another rule, not the first one's id again.
    let resp = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/alert-rules/{}", first["id"]),
            None,
            Some(&admin.token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let second = add_rule(&app, &admin, rule).await;
    assert!(
        second["id"].as_i64() > first["id"].as_i64(),
        "rule ids are not reused: {first} then {second}"
    );
    let opened = hook.next().await;
    assert_eq!(opened.body["event"], "opened", "{:?}", opened.body);
    assert_eq!(
        opened.body["alert"]["rule"]["id"], second["id"],
        "{:?}",
        opened.body
    );
}
