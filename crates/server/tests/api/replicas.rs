//! Several `assetlog serve` processes on one PostgreSQL database behave as one server: live
//! messages cross, a silent logger is announced offline once, the leader's work moves when it
//! dies, a rotated key is refused everywhere, a replica that loses its connections recovers, and
//! a replica killed mid-batch loses no acknowledged event. Only on PostgreSQL (`on_postgres`):
//! one SQLite file has one server.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Device, ServerProcess, TestApp, assert_error, now_ms, on_postgres};

/// Two real server processes on the database of one data directory; the first starts first,
/// so it leads.
fn replicas(extra: &[&str]) -> (tempfile::TempDir, ServerProcess, ServerProcess) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let a = ServerProcess::start(&data, extra);
    let b = ServerProcess::start(&data, extra);
    (dir, a, b)
}

fn client(server: &ServerProcess) -> TestApp {
    server.app(tempfile::tempdir().unwrap())
}

async fn heartbeat(app: &TestApp, device: &Device) {
    let (status, _) = heartbeat_status(app, &device.logger_id, Some(&device.key)).await;
    assert_eq!(status, StatusCode::OK);
}

/// A heartbeat's answer on `app`, and its status code.
async fn heartbeat_status(
    app: &TestApp,
    logger_id: &str,
    key: Option<&str>,
) -> (StatusCode, Value) {
    let resp = app
        .post(
            "/api/device/heartbeat",
            &json!({"logger_id": logger_id}),
            key,
        )
        .await;
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_event_posted_to_one_replica_reaches_a_dashboard_on_the_other() {
    if !on_postgres() {
        return;
    }
    let (_dir, a, b) = replicas(&["--open-signup"]);
    let (app_a, app_b) = (client(&a), client(&b));
    let admin = app_a.signup("ada@a.example", "A").await;
    let device = app_a.claimed_device(&admin, "esp-1").await;
    let mut live_b = app_b.live(&admin.token).await;
    let bob = app_b.signup("bob@b.example", "B").await;
    let mut bob_live = app_a.live(&bob.token).await;
    let resp = app_a
        .asset_state(
            &device,
            json!({"pin_number": 0, "is_running": true, "timestamp": now_ms()}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let change = live_b.next_of("asset_state_change").await;
    assert_eq!(change["logger_id"], "esp-1");
    assert_eq!(change["state"], "RUNNING");
    // Another tenant's dashboard hears nothing of it: the next it hears is its own event.
    let bobs = app_b.claimed_device(&bob, "esp-2").await;
    app_b
        .asset_state(&bobs, json!({"pin_number": 0, "is_running": false}))
        .await;
    let heard = bob_live.next_of("asset_state_change").await;
    assert_eq!(heard["logger_id"], "esp-2", "{heard}");
    // A sign-out on A closes the socket it opened on B.
    let out = app_a
        .post("/api/v1/auth/logout", &json!({}), Some(&admin.token))
        .await;
    assert!(out.status().is_success());
    assert_eq!(
        live_b.closed_within(Duration::from_secs(5)).await,
        Some(1008)
    );
}

#[tokio::test]
async fn a_silent_logger_is_offline_once_per_dashboard_and_the_leaders_work_moves_when_it_dies() {
    if !on_postgres() {
        return;
    }
    let (_dir, mut a, b) = replicas(&["--heartbeat-interval", "1"]);
    let (app_a, app_b) = (client(&a), client(&b));
    let admin = app_a.signup("ada@a.example", "A").await;
    let device = app_a.claimed_device(&admin, "esp-1").await;
    // Online since it registered (on A); the dashboards open on both.
    let mut live_a = app_a.live(&admin.token).await;
    let mut live_b = app_b.live(&admin.token).await;
    // Silent for three intervals: offline, once on each dashboard.
    for live in [&mut live_a, &mut live_b] {
        assert_eq!(live.next_of("logger_status").await["online"], false);
    }
    // It reports to B, which does not lead: the leader learns of it and tells both. The next
    // status each dashboard hears is this return, not a second offline.
    heartbeat(&app_b, &device).await;
    for live in [&mut live_a, &mut live_b] {
        assert_eq!(live.next_of("logger_status").await["online"], true);
    }
    // And once more: silent, offline once; back (through A), online once.
    for live in [&mut live_a, &mut live_b] {
        assert_eq!(live.next_of("logger_status").await["online"], false);
    }
    heartbeat(&app_a, &device).await;
    for live in [&mut live_a, &mut live_b] {
        assert_eq!(live.next_of("logger_status").await["online"], true);
    }
    // The leader dies: B takes over, and the next silence is still announced.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    heartbeat(&app_b, &device).await;
    let went = live_b.next_of("logger_status").await;
    assert_eq!(went["online"], false, "B marks the logger offline: {went}");
    heartbeat(&app_b, &device).await;
    assert_eq!(live_b.next_of("logger_status").await["online"], true);
}

#[tokio::test]
async fn a_key_rotated_on_one_replica_is_refused_on_the_other_at_once() {
    if !on_postgres() {
        return;
    }
    let (_dir, a, b) = replicas(&[]);
    let (app_a, app_b) = (client(&a), client(&b));
    let admin = app_a.signup("ada@a.example", "A").await;
    let device = app_a.claimed_device(&admin, "esp-1").await;
    // B has used the key (and would have it cached, if it cached keys).
    let first = app_b
        .asset_state(&device, json!({"pin_number": 0, "is_running": true}))
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let loggers = app_a.get_json("/api/v1/loggers", &admin.token).await;
    let id = loggers[0]["id"].as_i64().unwrap();
    let new_key = app_a.rotate_key(&admin, id).await;
    let old = app_b
        .asset_state(&device, json!({"pin_number": 0, "is_running": false}))
        .await;
    assert_error(old, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let renewed = Device {
        key: new_key,
        ..device
    };
    let new = app_b
        .asset_state(&renewed, json!({"pin_number": 0, "is_running": false}))
        .await;
    assert_eq!(new.status(), StatusCode::OK);
}

/// Each replica remembers credentials; none of them may outlive a change made on the other.
/// Every request below is sent to B right after A changed what B has seen (and remembers).
#[tokio::test]
async fn every_change_to_a_loggers_credentials_on_one_replica_holds_on_the_other_at_once() {
    if !on_postgres() {
        return;
    }
    let (_dir, a, b) = replicas(&[]);
    let (app_a, app_b) = (client(&a), client(&b));
    let admin = app_a.signup("ada@a.example", "A").await;

    // Pending on B, claimed on A: B's next heartbeat says claimed, its next report is A's.
    let device = app_b.register("esp-claim").await;
    let (status, hb) = heartbeat_status(&app_b, "esp-claim", Some(&device.key)).await;
    assert_eq!(
        (status, hb["status"].as_str()),
        (StatusCode::OK, Some("pending"))
    );
    app_a.claim(&admin, &device).await;
    let (status, hb) = heartbeat_status(&app_b, "esp-claim", Some(&device.key)).await;
    assert_eq!(
        (status, hb["status"].as_str()),
        (StatusCode::OK, Some("claimed"))
    );
    let seq =
        |n: i64| json!([{"seq": n, "pin": 0, "running": n % 2 == 1, "ts": now_ms() - 1000 + n}]);
    assert_eq!(app_b.ingest(&device, seq(1)).await.status(), StatusCode::OK);
    assert_eq!(app_a.events(&admin).await.len(), 1, "stored as tenant A's");

    // Keyless allowed on A: B takes a keyless post; forbidden on A: B refuses the next.
    let loggers = app_a.get_json("/api/v1/loggers", &admin.token).await;
    let id = loggers[0]["id"].as_i64().unwrap();
    let keyless = |allow: bool| {
        let (path, body) = (
            format!("/api/v1/loggers/{id}"),
            json!({ "allow_keyless": allow }),
        );
        let (app, token) = (&app_a, admin.token.clone());
        async move {
            app.send(reqwest::Method::PUT, &path, Some(&body), Some(&token))
                .await
        }
    };
    let unkeyed = json!({"logger_id": "esp-claim", "pin_number": 0, "is_running": false});
    assert_eq!(keyless(true).await.status(), StatusCode::OK);
    let taken = app_b.post("/api/asset-state", &unkeyed, None).await;
    assert_eq!(taken.status(), StatusCode::OK);
    assert_eq!(keyless(false).await.status(), StatusCode::OK);
    let refused = app_b.post("/api/asset-state", &unkeyed, None).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let (status, _) = heartbeat_status(&app_b, "esp-claim", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The key rotated on A: on B the old one is refused for a batch and a heartbeat, the new
    // one taken at once.
    let new_key = app_a.rotate_key(&admin, id).await;
    assert_error(
        app_b.ingest(&device, seq(2)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let (status, _) = heartbeat_status(&app_b, "esp-claim", Some(&device.key)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let renewed = Device {
        key: new_key,
        ..device.clone()
    };
    assert_eq!(
        app_b.ingest(&renewed, seq(2)).await.status(),
        StatusCode::OK
    );

    // Deleted on A and registered anew there (a new key, a new row): B refuses the old key and
    // takes the new one.
    let deleted = app_a
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/loggers/{id}"),
            None,
            Some(&admin.token),
        )
        .await;
    assert!(deleted.status().is_success(), "{}", deleted.status());
    assert_error(
        app_b.ingest(&renewed, seq(3)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let again = app_a.claimed_device(&admin, "esp-claim").await;
    assert_error(
        app_b.ingest(&renewed, seq(3)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(app_b.ingest(&again, seq(1)).await.status(), StatusCode::OK);
    let (status, _) = heartbeat_status(&app_b, "esp-claim", Some(&again.key)).await;
    assert_eq!(status, StatusCode::OK);
    // Stored: the first report, the keyless one, the renewed key's and the new logger's.
    assert_eq!(app_a.events(&admin).await.len(), 4);
}

#[tokio::test]
async fn a_replica_whose_connections_are_terminated_recovers_and_tells_its_dashboards_to_re_read() {
    if !on_postgres() {
        return;
    }
    let (_dir, a, b) = replicas(&[]);
    let (app_a, app_b) = (client(&a), client(&b));
    let admin = app_a.signup("ada@a.example", "A").await;
    let device = app_a.claimed_device(&admin, "esp-1").await;
    let mut live_b = app_b.live(&admin.token).await;
    let url = crate::helpers::test_database(&_dir.path().join("data")).unwrap();
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let terminated: i64 = db
        .query_one(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = $1",
            &[&format!("assetlog {}", b.child.id())],
        )
        .await
        .unwrap()
        .get(0);
    assert!(terminated >= 2, "B's pool and listener: {terminated}");
    // Its dashboards may have missed messages: they are told to reconnect and re-read.
    assert_eq!(
        live_b.closed_within(Duration::from_secs(5)).await,
        Some(1013)
    );
    // B answers again by itself (a request on a broken connection may get 503 first).
    let mut answered = None;
    for _ in 0..20 {
        let resp = app_b.get("/api/v1/loggers", Some(&admin.token)).await;
        if resp.status() == StatusCode::OK {
            answered = Some(resp);
            break;
        }
        assert_error(
            resp,
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
        )
        .await;
    }
    assert!(
        answered.is_some(),
        "B serves again after its connections were terminated"
    );
    let mut live_b = app_b.live(&admin.token).await;
    app_a
        .asset_state(&device, json!({"pin_number": 0, "is_running": true}))
        .await;
    assert_eq!(
        live_b.next_of("asset_state_change").await["state"],
        "RUNNING"
    );
}

#[tokio::test]
async fn kill_9_of_a_replica_mid_batch_loses_no_acknowledged_event() {
    if !on_postgres() {
        return;
    }
    let (_dir, mut a, b) = replicas(&[]);
    let (app_a, app_b) = (client(&a), client(&b));
    let admin = app_a.signup("ada@a.example", "A").await;
    let device = app_a.claimed_device(&admin, "esp-1").await;
    let t0 = now_ms() - 3_600_000;
    let batch = move |n: i64| -> Value {
        (n * 100 + 1..=n * 100 + 100)
            .map(|s| json!({"seq": s, "pin": (s % 4), "running": s % 3 == 0, "ts": t0 + s}))
            .collect()
    };
    // Batches go to A one after another while A is killed; every acknowledgement counts.
    let url = app_a.url.clone();
    let sender = {
        let device = device.clone();
        tokio::spawn(async move {
            let app = ServerProcess::app_at(&url, tempfile::tempdir().unwrap());
            let mut acked = 0;
            for n in 0..50 {
                let resp = app
                    .client
                    .post(format!("{}/api/v1/ingest", app.url))
                    .bearer_auth(&device.key)
                    .json(&json!({"logger_id": device.logger_id, "events": batch(n)}))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status() == StatusCode::OK => {
                        let body: Value = r.json().await.unwrap();
                        acked = body["acked_seq"].as_i64().unwrap();
                    }
                    _ => break,
                }
            }
            acked
        })
    };
    // Kill A once it has acknowledged some batches, while the next is on its way.
    let mut seen = 0;
    while seen < 500 {
        let loggers = app_b.get_json("/api/v1/loggers", &admin.token).await;
        seen = loggers[0]["acked_seq"].as_i64().unwrap_or(0);
        tokio::task::yield_now().await;
    }
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let acked = sender.await.unwrap();
    // The kill may come before the answer of a batch that was committed: the logger then
    // sends it again, and its seqs keep it from being stored twice.
    assert!(acked >= 400, "acknowledged before the kill: {acked}");
    // B has every acknowledged event, each once.
    let logger = &app_b.get_json("/api/v1/loggers", &admin.token).await[0];
    assert!(logger["acked_seq"].as_i64().unwrap() >= acked, "{logger}");
    let mut stored = std::collections::BTreeSet::new();
    let mut cursor = None::<String>;
    loop {
        let page = match &cursor {
            Some(c) => format!("/api/v1/events?limit=1000&cursor={c}"),
            None => "/api/v1/events?limit=1000".to_owned(),
        };
        let body = app_b.get_json(&page, &admin.token).await;
        for e in body["events"].as_array().unwrap() {
            assert!(
                stored.insert(e["seq"].as_i64().unwrap()),
                "stored once: {e}"
            );
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    for seq in 1..=acked {
        assert!(stored.contains(&seq), "acknowledged seq {seq} is stored");
    }
}
