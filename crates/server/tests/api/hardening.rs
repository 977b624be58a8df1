//! Issue 13: what anyone on the plant network can send must not take the server down or fill its
//! disk. Each attack runs against the real server.

use std::net::IpAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_error, now_ms, spawn_app, spawn_app_with};

/// A client whose connections come from `ip` (any 127.x.y.z reaches a server on 127.0.0.1).
fn client_from(ip: &str) -> reqwest::Client {
    crate::helpers::http();
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().expect("an address"))
        .build()
        .expect("client")
}

async fn login_from(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(format!("{}/api/v1/auth/login", app.url))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("request sent")
}

/// Asserts a 429 with a JSON error and a `Retry-After` of at least a second.
async fn assert_throttled(resp: reqwest::Response) -> u64 {
    let retry_after: u64 = resp
        .headers()
        .get("retry-after")
        .expect("a 429 says when to retry")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry_after >= 1);
    assert_error(resp, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    retry_after
}

#[tokio::test]
async fn a_flood_of_wrong_logins_is_answered_429_and_others_still_sign_in() {
    let app = spawn_app().await;
    app.signup("ada@a.example", "A").await;
    let flood = client_from("127.0.0.1");
    let answers =
        join_all((0..40).map(|_| login_from(&app, &flood, "ada@a.example", "wrong password")))
            .await;
    let (mut refused, mut throttled) = (0, 0);
    for resp in answers {
        match resp.status() {
            StatusCode::UNAUTHORIZED => refused += 1,
            _ => {
                assert_throttled(resp).await;
                throttled += 1;
            }
        }
    }
    // Ten attempts per address (the sign-up is counted apart), all the rest refused before any
    // hash.
    assert_eq!((refused, throttled), (10, 30));
    // The flooding address is held off even with the right password...
    assert_throttled(login_from(&app, &flood, "ada@a.example", PASSWORD).await).await;
    // ...while the account's owner at another address signs in.
    let owner = client_from("127.0.0.2");
    let resp = login_from(&app, &owner, "ada@a.example", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_logins_from_many_addresses_lock_the_account_and_only_it() {
    let app = spawn_app_with(|c| c.auth_attempts_per_account = 3).await;
    app.signup("ada@a.example", "A").await;
    for n in 2..=4 {
        let client = client_from(&format!("127.0.0.{n}"));
        let resp = login_from(&app, &client, "ada@a.example", "wrong password").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let fresh = client_from("127.0.0.5");
    let wait = assert_throttled(login_from(&app, &fresh, "ada@a.example", PASSWORD).await).await;
    // The account regains one attempt every 20 minutes (3 over an hour).
    assert!((1..=1200).contains(&wait), "{wait}");
    // Unknown emails are accounts like any other: a 429 does not tell which emails exist.
    for _ in 0..3 {
        let resp = login_from(&app, &fresh, "nobody@a.example", "wrong password").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(login_from(&app, &fresh, "nobody@a.example", "wrong password").await).await;
    let other = client_from("127.0.0.6");
    let resp = login_from(&app, &other, "ada@a.example", PASSWORD).await;
    assert_throttled(resp).await;
}

#[tokio::test]
async fn guessing_claim_codes_is_answered_429() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.register("esp-guessed").await;
    let guess = async |code: String| {
        let body = json!({ "logger_id": device.logger_id, "claim_code": code });
        app.post("/api/v1/loggers/claim", &body, Some(&admin.token))
            .await
    };
    // The address's ten attempts (its sign-up is counted apart).
    for n in 0..10 {
        let resp = guess(format!("WRONG{n:03}")).await;
        assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_throttled(guess("WRONG999".into()).await).await;
    // The right code from the admin's other machine still claims it.
    let resp = client_from("127.0.0.2")
        .post(format!("{}/api/v1/loggers/claim", app.url))
        .bearer_auth(&admin.token)
        .json(&json!({ "logger_id": device.logger_id, "claim_code": device.claim_code }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "claimed");
}

#[tokio::test]
async fn a_flood_of_signups_is_answered_429() {
    let app = spawn_app_with(|c| c.open_signup = true).await;
    for n in 0..10 {
        app.signup(&format!("u{n}@a.example"), &format!("T{n}"))
            .await;
    }
    let resp = app
        .post(
            "/api/v1/auth/signup",
            &json!({ "email": "u10@a.example", "password": PASSWORD, "tenant_name": "T10" }),
            None,
        )
        .await;
    assert_throttled(resp).await;
    // Sign-ups are counted apart: the people at that address still sign in.
    let resp = app
        .post(
            "/api/v1/auth/login",
            &json!({ "email": "u0@a.example", "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Nothing was made: the name is still free for someone else.
    let resp = client_from("127.0.0.2")
        .post(format!("{}/api/v1/auth/signup", app.url))
        .json(&json!({ "email": "u10@a.example", "password": PASSWORD, "tenant_name": "T10" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn junk_methods_and_paths_do_not_grow_the_metrics() {
    let app = spawn_app().await;
    let junk = |n: usize| format!("JUNK{n:04}{}", "X".repeat(120));
    for n in 0..300 {
        let method = reqwest::Method::from_bytes(junk(n).as_bytes()).unwrap();
        let path = if n % 2 == 0 {
            "/api/v1/auth/login"
        } else {
            "/healthz"
        };
        let resp = app.send(method, path, None, None).await;
        assert_error(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
        let resp = app
            .get(&format!("/api/{}/{n}", junk(n).to_lowercase()), None)
            .await;
        assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
        let method = reqwest::Method::from_bytes(junk(n).as_bytes()).unwrap();
        app.send(method, &format!("/{}", junk(n)), None, None).await;
    }
    let resp = app.get("/metrics", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let metrics = resp.text().await.unwrap();
    assert!(
        !metrics.to_lowercase().contains("junk"),
        "junk in the metrics"
    );
    assert!(
        metrics.len() < 32 * 1024,
        "{} bytes of metrics",
        metrics.len()
    );
    // The requests are still counted, by route template and under one label for the rest.
    assert!(
        metrics.contains(r#"method="other",route="/healthz""#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="unmatched""#), "{metrics}");
}

/// Reads until the server closes the connection; how long that took, or None past `limit`.
async fn closed_within(socket: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut rest = Vec::new();
    match tokio::time::timeout(limit, socket.read_to_end(&mut rest)).await {
        Ok(_) => Some(started.elapsed()),
        Err(_) => None,
    }
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.url.trim_start_matches("http://"))
        .await
        .expect("connects")
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|c| {
        c.idle_timeout = 1;
        c.header_read_timeout = 30;
    })
    .await;
    // Connected, never a byte.
    let mut silent = connect(&app).await;
    // Kept alive after an answer, then silent.
    let mut kept = connect(&app).await;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 12];
    kept.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    for socket in [&mut silent, &mut kept] {
        let took = closed_within(socket, Duration::from_secs(10))
            .await
            .expect("closed by the server");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }
}

#[tokio::test]
async fn a_request_head_sent_too_slowly_is_cut_off() {
    let app = spawn_app_with(|c| {
        c.idle_timeout = 60;
        c.header_read_timeout = 1;
    })
    .await;
    let mut slow = connect(&app).await;
    // Half a head, then nothing: the idle timeout (60 s) would never end it in time.
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ")
        .await
        .unwrap();
    let took = closed_within(&mut slow, Duration::from_secs(10))
        .await
        .expect("closed by the server");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // A prompt client on its own connection is served as ever, and may take its time between
    // requests (up to the idle timeout).
    let mut prompt = connect(&app).await;
    for _ in 0..2 {
        prompt
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        while !answer.ends_with(br#"{"status":"ok"}"#) {
            let mut chunk = [0u8; 256];
            let n = prompt.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed while answering");
            answer.extend_from_slice(&chunk[..n]);
        }
        assert!(answer.starts_with(b"HTTP/1.1 200"));
    }
    assert!(
        closed_within(&mut prompt, Duration::from_millis(1500))
            .await
            .is_none(),
        "an idle connection outlives the header-read timeout"
    );
}

#[tokio::test]
async fn at_the_connection_cap_a_waiting_connection_makes_room_and_live_clients_keep_theirs() {
    let app = spawn_app_with(|c| {
        c.max_connections = 2;
        // Far longer than the test: only the cap closes connections here.
        c.idle_timeout = 600;
        c.header_read_timeout = 600;
    })
    .await;
    let admin = app.signup("ada@a.example", "A").await;
    // A live client holds one slot, the sign-up's kept-alive connection the other...
    let mut live = app.live(&admin.token).await;
    // ...until a new connection makes room; this one then waits for a request, sending none.
    let mut idle = connect(&app).await;
    let health = tokio::spawn({
        let url = format!("{}/healthz", app.url);
        async move {
            let resp = reqwest::get(url).await.expect("answered");
            (resp.status(), Instant::now())
        }
    });
    closed_within(&mut idle, Duration::from_secs(20))
        .await
        .expect("the waiting connection is closed to make room");
    let idle_closed = Instant::now();
    let (status, answered) = tokio::time::timeout(Duration::from_secs(20), health)
        .await
        .expect("/healthz answered")
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(
        answered >= idle_closed,
        "/healthz was answered while every slot was taken"
    );
    // The live client kept its slot through all of it.
    let device = app.claimed_device(&admin, "esp-cap").await;
    let resp = app
        .asset_state(&device, json!({ "pin_number": 1, "is_running": true }))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let change = live.next_of("asset_state_change").await;
    assert_eq!(change["logger_id"], "esp-cap");
}

/// `n` events of one pin from `first` on, numbered, ten seconds ago.
fn events(first: i64, n: i64, pin: i64) -> Value {
    let ts = now_ms() - 10_000;
    (first..first + n)
        .map(|seq| json!({ "seq": seq, "pin": pin, "running": seq % 2 == 1, "ts": ts + seq }))
        .collect()
}

async fn pending_list(app: &TestApp, token: &str) -> Vec<Value> {
    app.get_json("/api/v1/loggers/pending", token)
        .await
        .as_array()
        .expect("a list")
        .clone()
}

/// Asserts a 429 of a cap on pending loggers, with `Retry-After`.
async fn assert_pending_full(resp: reqwest::Response, code: &str) {
    assert!(resp.headers().contains_key("retry-after"), "Retry-After");
    assert_error(resp, StatusCode::TOO_MANY_REQUESTS, code).await;
}

#[tokio::test]
async fn registrations_beyond_the_pending_cap_are_refused() {
    let app = spawn_app_with(|c| c.max_pending_loggers = 3).await;
    let admin = app.signup("ada@a.example", "A").await;
    let mut devices = Vec::new();
    for n in 0..3 {
        devices.push(app.register(&format!("esp-{n}")).await);
    }
    let resp = app
        .post(
            "/api/device/register",
            &json!({ "logger_id": "esp-3" }),
            None,
        )
        .await;
    assert_pending_full(resp, "too_many_pending").await;
    assert_eq!(
        pending_list(&app, &admin.token).await.len(),
        3,
        "nothing stored"
    );
    // A pending logger registering again (with its key) is no new one.
    let resp = app
        .post(
            "/api/device/register",
            &json!({ "logger_id": "esp-0" }),
            Some(&devices[0].key),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // A claim makes room.
    app.claim(&admin, &devices[0]).await;
    app.register("esp-3").await;
}

#[tokio::test]
async fn a_pending_logger_stores_no_more_events_and_assets_than_its_caps() {
    let app = spawn_app_with(|c| {
        c.pending_max_events = 5;
        c.pending_max_assets = 2;
    })
    .await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.register("esp-full").await;
    let ack: Value = app
        .ingest(&device, events(1, 4, 0))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack["acked_seq"], 4);
    // Two more would be six: the whole batch is refused.
    assert_pending_full(
        app.ingest(&device, events(5, 2, 0)).await,
        "pending_events_full",
    )
    .await;
    let ack: Value = app
        .ingest(&device, events(5, 1, 0))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack["acked_seq"], 5);
    let resp = app
        .asset_state(
            &device,
            json!({ "pin_number": 0, "is_running": true, "seq": 6 }),
        )
        .await;
    assert_pending_full(resp, "pending_events_full").await;

    // Assets: two pins, not a third, by report or by registration.
    let other = app.register("esp-pins").await;
    let ack: Value = app
        .ingest(&other, events(1, 1, 0))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack["acked_seq"], 1);
    let ack: Value = app
        .ingest(&other, events(2, 1, 1))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack["acked_seq"], 2);
    assert_pending_full(
        app.ingest(&other, events(3, 1, 2)).await,
        "pending_assets_full",
    )
    .await;
    let resp = app
        .post(
            "/api/device/register",
            &json!({ "logger_id": "esp-pins", "assets": [{ "pin_number": 7, "asset_name": "Press 7" }] }),
            Some(&other.key),
        )
        .await;
    assert_pending_full(resp, "pending_assets_full").await;
    let resp = app
        .post(
            "/api/device/register",
            &json!({ "logger_id": "esp-new", "assets": [
                { "pin_number": 1, "asset_name": "a" }, { "pin_number": 2, "asset_name": "b" },
                { "pin_number": 3, "asset_name": "c" } ] }),
            None,
        )
        .await;
    assert_pending_full(resp, "pending_assets_full").await;
    let listed = pending_list(&app, &admin.token).await;
    let ids: Vec<&str> = listed
        .iter()
        .map(|l| l["logger_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["esp-full", "esp-pins"],
        "the refused registration left nothing"
    );
    assert_eq!(
        (listed[0]["events"].as_i64(), listed[1]["assets"].as_i64()),
        (Some(5), Some(2))
    );

    // Claimed, the logger is the tenant's: its five events are there, and the caps are gone.
    app.claim(&admin, &device).await;
    assert_eq!(app.events(&admin).await.len(), 5);
    let ack: Value = app
        .ingest(&device, events(6, 20, 0))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack["acked_seq"], 25);
    app.claim(&admin, &other).await;
    let ack: Value = app
        .ingest(&other, events(3, 1, 2))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack["acked_seq"], 3);
}

#[tokio::test]
async fn admins_of_any_tenant_see_pending_loggers_without_their_secrets_and_others_get_403() {
    let app = spawn_app_with(|c| c.open_signup = true).await;
    let admin = app.signup("ada@a.example", "A").await;
    let other_admin = app.signup("bo@b.example", "B").await;
    let device = app.register("esp-lost").await;
    let ack: Value = app
        .ingest(&device, events(1, 3, 4))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack["acked_seq"], 3);
    for token in [&admin.token, &other_admin.token] {
        let listed = pending_list(&app, token).await;
        assert_eq!(listed.len(), 1);
        let logger = listed[0].as_object().unwrap();
        let mut fields: Vec<&str> = logger.keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "assets",
                "events",
                "firmware_version",
                "first_seen",
                "ip_address",
                "last_seen",
                "logger_id",
                "remote_address"
            ]
        );
        assert_eq!(logger["logger_id"], "esp-lost");
        assert_eq!(logger["remote_address"], "127.0.0.1");
        assert_eq!(
            (logger["events"].as_i64(), logger["assets"].as_i64()),
            (Some(3), Some(1))
        );
        let text = listed[0].to_string();
        assert!(
            !text.contains(device.claim_code.as_deref().unwrap()),
            "no claim code"
        );
        assert!(!text.contains(&device.key), "no key");
    }
    let operator = app.add_user(&admin, "op@a.example", "operator").await;
    let viewer = app.add_user(&admin, "vi@a.example", "viewer").await;
    for user in [&operator, &viewer] {
        let resp = app.get("/api/v1/loggers/pending", Some(&user.token)).await;
        assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
        let resp = app
            .send(
                reqwest::Method::DELETE,
                "/api/v1/loggers/pending/esp-lost",
                None,
                Some(&user.token),
            )
            .await;
        assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let resp = app.get("/api/v1/loggers/pending", None).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(
        pending_list(&app, &admin.token).await.len(),
        1,
        "still there"
    );
}

#[tokio::test]
async fn releasing_a_squatted_hardware_id_lets_the_real_device_register_afresh() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let squatter = app.register("esp-real").await;
    let ack: Value = app
        .ingest(&squatter, events(1, 3, 0))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack["acked_seq"], 3);
    // The real device, without the squatter's key, is refused.
    let resp = app
        .post(
            "/api/device/register",
            &json!({ "logger_id": "esp-real" }),
            None,
        )
        .await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;

    let release = async |id: &str| {
        app.send(
            reqwest::Method::DELETE,
            &format!("/api/v1/loggers/pending/{id}"),
            None,
            Some(&admin.token),
        )
        .await
    };
    assert_eq!(release("esp-real").await.status(), StatusCode::NO_CONTENT);
    assert!(pending_list(&app, &admin.token).await.is_empty());
    // The squatter's key is worth nothing now.
    let resp = app.ingest(&squatter, events(4, 1, 0)).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // The real device registers afresh, with a new key, and is claimed without the squatter's events.
    let real = app.register("esp-real").await;
    assert_ne!(real.key, squatter.key);
    app.claim(&admin, &real).await;
    assert!(app.events(&admin).await.is_empty());
    // Only pending loggers are released: a claimed one is not found.
    assert_error(
        release("esp-real").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(release("no-such").await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn unclaimed_loggers_expire_with_their_events() {
    let app = spawn_app_with(|c| c.pending_expiry = 2).await;
    let admin = app.signup("ada@a.example", "A").await;
    let old = app.register("esp-old").await;
    let ack: Value = app
        .ingest(&old, events(1, 3, 0))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack["acked_seq"], 3);
    // Nothing to await but the expiry task's next sweep (every 200 ms here): ask until it is gone.
    let gone = tokio::time::timeout(Duration::from_secs(20), async {
        while !pending_list(&app, &admin.token).await.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the unclaimed logger expired");
    let resp = app.ingest(&old, events(4, 1, 0)).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let again = app.register("esp-old").await;
    app.claim(&admin, &again).await;
    assert!(
        app.events(&admin).await.is_empty(),
        "its events went with it"
    );
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let app = spawn_app_with(|c| {
        c.max_connections = 8;
        c.max_connections_per_address = 2;
        c.idle_timeout = 60;
    })
    .await;
    let _held = [connect(&app).await, connect(&app).await];
    // A third from the same address is closed at once, long before any timeout.
    let mut third = connect(&app).await;
    let took = closed_within(&mut third, Duration::from_secs(10))
        .await
        .expect("closed by the server");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // Another address is served as ever.
    let resp = client_from("127.0.0.2")
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), StatusCode::OK);
}
