//! Loggers over MQTT, against a real Mosquitto with the dynamic-security plugin: stored once and
//! in order, answered on the ack and error topics, nothing from a client that is not the logger,
//! nothing lost when assetlog or the broker goes away.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::broker::{self, Broker, Peer, batch};
use crate::helpers::*;

/// An in-process server on the broker, and an admin with a claimed logger.
async fn setup(broker: &Broker, logger_id: &str) -> (TestApp, Account, Device) {
    let app = spawn_app_with(|c| {
        broker::configure(c, broker, "assetlog@test");
        c.open_signup = true;
    })
    .await;
    let admin = app.signup("admin@plant.example", "Plant").await;
    let device = app.claimed_device(&admin, logger_id).await;
    (app, admin, device)
}

fn seqs(events: &[Value]) -> Vec<i64> {
    let mut seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    seqs.sort_unstable();
    seqs
}

#[tokio::test]
async fn a_loggers_batches_are_stored_once_acked_after_the_commit_and_pushed_live() {
    let broker = Broker::start();
    let (app, admin, device) = setup(&broker, "mq-1").await;
    let mut live = app.live(&admin.token).await;
    let mut logger = Peer::logger(broker.port, "mq-1", &device.key).await;
    let t0 = now_ms() - 600_000;

    logger
        .publish("assetlog/v1/mq-1/events", batch(1, 5, t0))
        .await;
    let ack = logger.next_on("assetlog/v1/mq-1/ack").await;
    assert_eq!(
        ack,
        json!({"acked_seq": 5, "last_seq": 5}),
        "HTTP's answer and its batch"
    );
    // A batch sent again (its ack was lost, say) and the next one, its body naming the logger.
    logger
        .publish("assetlog/v1/mq-1/events", batch(1, 5, t0))
        .await;
    assert_eq!(logger.acked("mq-1", 5).await, 5);
    let next = json!({"logger_id": "mq-1", "events": [{"seq": 6, "pin": 1, "running": false, "age_ms": 1000}]});
    logger
        .publish("assetlog/v1/mq-1/events", next.to_string())
        .await;
    assert_eq!(logger.acked("mq-1", 6).await, 6);

    let events = app.events(&admin).await;
    assert_eq!(seqs(&events), [1, 2, 3, 4, 5, 6], "each event once");
    let first = events.iter().find(|e| e["seq"] == 1).unwrap();
    assert_eq!(first["ts"], t0 + 1000, "the logger's own time");
    let change = live.next_of("asset_state_change").await;
    assert_eq!(change["logger_id"], "mq-1");

    // A heartbeat over MQTT is a contact: the logger shows online, with what it said.
    logger
        .publish(
            "assetlog/v1/mq-1/heartbeat",
            json!({"uptime_s": 42, "queued_events": 0, "dropped_events": 0, "firmware_version": "fw 1"}).to_string(),
        )
        .await;
    // Answered on the ack topic as over HTTP.
    let answer = logger.next_on("assetlog/v1/mq-1/ack").await;
    assert_eq!(answer["status"], "claimed", "{answer}");
    assert_eq!(answer["heartbeat_interval_s"], 30, "{answer}");
    let shown = app.get_json("/api/v1/loggers", &admin.token).await[0].clone();
    assert_eq!(shown["firmware_version"], "fw 1", "{shown}");
    assert_eq!(shown["online"], true);
    app.shutdown().await;
}

#[tokio::test]
async fn bad_payloads_get_an_error_message_store_nothing_and_the_subscription_goes_on() {
    let broker = Broker::start();
    let (app, admin, device) = setup(&broker, "mq-bad").await;
    let mut logger = Peer::logger(broker.port, "mq-bad", &device.key).await;
    let topic = "assetlog/v1/mq-bad/events";
    let now = now_ms();
    let too_many = batch(1, 1001, now - 2_000_000);
    // Over 1 MiB: refused without being read, as HTTP refuses a larger body.
    let too_big = json!({"events": [], "padding": "x".repeat(1 << 20)}).to_string();
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "invalid_json"),
        ("[1, 2]".into(), "invalid_json"),
        (json!({"events": [[1, 1, true, now]]}).to_string(), "invalid_json"),
        (too_many, "batch_too_large"),
        (too_big, "body_too_large"),
        (
            json!({"events": [{"seq": 1, "pin": 99, "running": true, "ts": now}]}).to_string(),
            "invalid_pin",
        ),
        (
            json!({"events": [{"seq": 1, "pin": 1, "running": true, "ts": now + 86_400_000}]})
                .to_string(),
            "invalid_timestamp",
        ),
        (
            json!({"events": [{"seq": 1, "pin": 1, "running": true}]}).to_string(),
            "invalid_timestamp",
        ),
        (
            json!({"events": [{"seq": 0, "pin": 1, "running": true, "ts": now}]}).to_string(),
            "invalid_seq",
        ),
        (
            json!({"logger_id": "someone-else", "events": [{"seq": 1, "pin": 1, "running": true, "ts": now}]})
                .to_string(),
            "logger_mismatch",
        ),
    ];
    for (body, code) in &cases {
        logger.publish(topic, body.clone()).await;
        let error = logger.error("mq-bad").await;
        assert_eq!(error["code"], *code, "{body:.80}: {error}");
        assert_eq!(
            error["status"].as_u64().map(|s| s / 100),
            Some(4),
            "{error}"
        );
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    logger
        .publish(
            "assetlog/v1/mq-bad/heartbeat",
            json!({"uptime_s": -1}).to_string(),
        )
        .await;
    assert_eq!(logger.error("mq-bad").await["code"], "invalid_field");
    assert!(app.events(&admin).await.is_empty(), "nothing stored");

    // The subscription still runs: a good batch is taken.
    logger.publish(topic, batch(1, 2, now - 10_000)).await;
    assert_eq!(logger.acked("mq-bad", 2).await, 2);
    assert_eq!(seqs(&app.events(&admin).await), [1, 2]);
    app.shutdown().await;
}

#[tokio::test]
async fn only_the_logger_itself_may_publish_on_its_topics() {
    let broker = Broker::start();
    let (app, admin, victim) = setup(&broker, "mq-victim").await;
    let other_tenant = app.signup("other@else.example", "Else").await;
    let intruder = app.claimed_device(&other_tenant, "mq-intruder").await;
    let t0 = now_ms() - 60_000;

    // No credentials, or the victim's id with a wrong key: the broker refuses the connection.
    assert!(
        broker::try_connect(broker.port, "anon", None)
            .await
            .is_err()
    );
    assert!(
        broker::try_connect(broker.port, "mq-victim", Some(("mq-victim", "ald_guess")))
            .await
            .is_err()
    );
    // A logger's own credentials are no use for assetlog's account either.
    assert!(
        broker::try_connect(broker.port, "x", Some((broker::ADMIN, &intruder.key)))
            .await
            .is_err()
    );

    // Another logger, with its own valid credentials, publishes on the victim's topics. An
    // observer on every logger topic sees what the broker lets through: the intruder's own
    // message, after which the forged one would have come first.
    let mut observer = Peer::connect(
        broker.port,
        "observer",
        broker::ADMIN,
        broker::ADMIN_PASSWORD,
    )
    .await;
    observer.subscribe("assetlog/v1/+/events").await;
    observer.subscribe("assetlog/v1/+/heartbeat").await;
    // Its credentials open the broker only under its own client id: not as the victim's, nor
    // as assetlog's own, whose session holds every logger's messages.
    for taken in ["mq-victim", "assetlog@test"] {
        assert!(
            broker::try_connect(broker.port, taken, Some(("mq-intruder", &intruder.key)))
                .await
                .is_err(),
            "the intruder connected as {taken}"
        );
    }
    let mut peer = Peer::logger(broker.port, "mq-intruder", &intruder.key).await;
    assert!(
        peer.subscribe("assetlog/v1/mq-victim/ack")
            .await
            .contains("Failure"),
        "may not read another logger's acks"
    );
    peer.publish("assetlog/v1/mq-victim/events", batch(1, 3, t0))
        .await;
    peer.publish("assetlog/v1/mq-victim/heartbeat", "{}").await;
    peer.publish("assetlog/v1/mq-intruder/events", batch(1, 1, t0))
        .await;
    let seen = observer.next().await;
    assert_eq!(
        seen.topic, "assetlog/v1/mq-intruder/events",
        "the forged message was let through"
    );
    assert_eq!(peer.acked("mq-intruder", 1).await, 1);
    assert!(
        app.events(&admin).await.is_empty(),
        "nothing stored for the victim"
    );
    assert_eq!(seqs(&app.events(&other_tenant).await), [1]);

    // A logger registered under the name of assetlog's own broker account does not get it.
    let squatter = app.register(broker::ADMIN).await;
    assert!(
        broker::try_connect(broker.port, "squat", Some((broker::ADMIN, &squatter.key)))
            .await
            .is_err()
    );
    Peer::connect(
        broker.port,
        "admin-again",
        broker::ADMIN,
        broker::ADMIN_PASSWORD,
    )
    .await;

    // The victim itself is let in and heard.
    let mut logger = Peer::logger(broker.port, "mq-victim", &victim.key).await;
    logger
        .publish("assetlog/v1/mq-victim/events", batch(1, 1, t0))
        .await;
    assert_eq!(logger.acked("mq-victim", 1).await, 1);
    app.shutdown().await;
}

#[tokio::test]
async fn a_new_key_replaces_the_broker_password_and_a_deleted_logger_is_shut_out() {
    let broker = Broker::start();
    let (app, admin, device) = setup(&broker, "mq-rot").await;
    let mut connected = Peer::logger(broker.port, "mq-rot", &device.key).await;
    let resp = app
        .post(
            "/api/v1/loggers/mq-rot/rotate-key",
            &json!({}),
            Some(&admin.token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let new_key = resp.json::<Value>().await.unwrap()["device_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        broker::try_connect(broker.port, "mq-rot", Some(("mq-rot", &device.key)))
            .await
            .is_err(),
        "the old key no longer opens the broker"
    );
    connected.closed().await;
    let mut logger = Peer::logger(broker.port, "mq-rot", &new_key).await;
    logger
        .publish("assetlog/v1/mq-rot/events", batch(1, 1, now_ms() - 1000))
        .await;
    assert_eq!(logger.acked("mq-rot", 1).await, 1);

    let resp = app
        .client
        .delete(format!("{}/api/v1/loggers/mq-rot", app.url))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(
        broker::try_connect(broker.port, "mq-rot", Some(("mq-rot", &new_key)))
            .await
            .is_err(),
        "a deleted logger's client is gone"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_broker_that_lets_anyone_in_is_refused_unless_trusted() {
    let broker = Broker::start_with(true);
    let dir = tempfile::tempdir().unwrap();
    let mut config = assetlog_server::config::ServeConfig::local(dir.path().join("data"));
    config.database_url = test_database(&config.data_dir);
    config.mqtt_url = Some(broker.url());
    config.mqtt_username = Some("anyone".into());
    config.mqtt_client_id = Some("assetlog@anon".into());
    let refused = assetlog_server::Application::build(config.clone())
        .await
        .err()
        .expect("refused");
    let message = format!("{refused:#}");
    assert!(message.contains("without credentials"), "{message}");

    // Trusted, it starts and takes what loggers publish; it keeps no broker clients.
    config.mqtt_trust_broker = true;
    let app = spawn_app_with(|c| *c = config.clone()).await;
    let admin = app.signup("admin@plant.example", "Plant").await;
    app.claimed_device(&admin, "mq-open").await;
    let mut logger = broker::try_connect(broker.port, "open", None)
        .await
        .expect("anonymous is let in");
    logger.subscribe("assetlog/v1/mq-open/ack").await;
    logger
        .publish("assetlog/v1/mq-open/events", batch(1, 2, now_ms() - 5000))
        .await;
    assert_eq!(logger.acked("mq-open", 2).await, 2);
    app.shutdown().await;
}

#[tokio::test]
async fn over_mqtts_assetlog_checks_the_brokers_certificate_against_its_ca() {
    let broker = Broker::start_tls();
    let tls_port = broker.tls_port.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = assetlog_server::config::ServeConfig::local(dir.path().join("data"));
    config.database_url = test_database(&config.data_dir);
    broker::configure(&mut config, &broker, "assetlog@tls");
    config.mqtt_url = Some(format!("mqtts://localhost:{tls_port}"));
    // The system's roots do not know the test CA: refused.
    let e = assetlog_server::Application::build(config.clone())
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{e:#}").contains("invalid peer certificate: UnknownIssuer"),
        "{e:#}"
    );

    // With it, assetlog connects over TLS and takes what a logger publishes (over plain MQTT).
    config.mqtt_ca_file = Some(broker.ca_file());
    let app = spawn_app_with(|c| {
        *c = config.clone();
        c.open_signup = true;
    })
    .await;
    let admin = app.signup("admin@plant.example", "Plant").await;
    let device = app.claimed_device(&admin, "mq-tls").await;
    let mut logger = Peer::logger(broker.port, "mq-tls", &device.key).await;
    logger
        .publish("assetlog/v1/mq-tls/events", batch(1, 3, now_ms() - 5000))
        .await;
    assert_eq!(logger.acked("mq-tls", 3).await, 3);
    assert_eq!(seqs(&app.events(&admin).await), [1, 2, 3]);
    app.shutdown().await;
}

#[tokio::test]
async fn a_broker_whose_defaults_let_anyone_publish_is_refused() {
    let broker = Broker::start();
    // Through the plugin's topic API (Mosquitto 2.0.11's mosquitto_ctrl does not send this one).
    let mut admin =
        Peer::connect(broker.port, "opener", broker::ADMIN, broker::ADMIN_PASSWORD).await;
    admin
        .subscribe("$CONTROL/dynamic-security/v1/response")
        .await;
    let open = json!({"commands": [{"command": "setDefaultACLAccess",
        "acls": [{"acltype": "publishClientSend", "allow": true}]}]});
    admin
        .publish("$CONTROL/dynamic-security/v1", open.to_string())
        .await;
    let answer = admin.next_on("$CONTROL/dynamic-security/v1/response").await;
    assert_eq!(answer["responses"][0].get("error"), None, "{answer}");
    let dir = tempfile::tempdir().unwrap();
    let mut config = assetlog_server::config::ServeConfig::local(dir.path().join("data"));
    config.database_url = test_database(&config.data_dir);
    broker::configure(&mut config, &broker, "assetlog@open");
    let e = assetlog_server::Application::build(config)
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{e:#}").contains("lets every client publishClientSend"),
        "{e:#}"
    );
}

#[tokio::test]
async fn assetlog_refuses_to_start_without_a_reachable_broker_or_with_a_wrong_password() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = assetlog_server::config::ServeConfig::local(dir.path().join("data"));
    config.database_url = test_database(&config.data_dir);
    broker::configure(&mut config, &broker, "assetlog@wrong");
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not-it\n").unwrap();
    config.mqtt_password_file = Some(wrong);
    let e = assetlog_server::Application::build(config.clone())
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{e:#}").contains("wrong username or password"),
        "{e:#}"
    );

    // A client id a logger could be registered under: that logger could take the session.
    let mut loggerlike = config.clone();
    loggerlike.mqtt_password_file = Some(broker.password_file());
    loggerlike.mqtt_client_id = Some("assetlog-host".into());
    let e = assetlog_server::Application::build(loggerlike)
        .await
        .err()
        .expect("refused");
    assert!(format!("{e:#}").contains("could be a logger's id"), "{e:#}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    config.mqtt_url = Some(format!("mqtt://127.0.0.1:{port}"));
    let e = assetlog_server::Application::build(config)
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{e:#}").contains("cannot connect to the MQTT broker"),
        "{e:#}"
    );
}

fn strs(flags: &[String]) -> Vec<&str> {
    flags.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn killed_while_batches_flow_assetlog_loses_and_doubles_nothing() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flags = broker::flags(&broker, "assetlog@crash");
    let mut server = ServerProcess::start(&data, &strs(&flags));
    let app = server.app(tempfile::tempdir().unwrap());
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "mq-crash").await;
    let mut logger = Peer::logger(broker.port, "mq-crash", &device.key).await;
    let t0 = now_ms() - 3_600_000;
    // 200 batches of 5, sent without waiting for answers; killed at the first answer.
    for b in 0..200u64 {
        logger
            .publish(
                "assetlog/v1/mq-crash/events",
                batch(b * 5 + 1, b * 5 + 5, t0),
            )
            .await;
    }
    logger.acked("mq-crash", 1).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    // Started again with the same client id: the broker redelivers what was not acknowledged.
    let server = ServerProcess::start(&data, &strs(&flags));
    assert_eq!(logger.acked("mq-crash", 1000).await, 1000);
    let app = server.app(tempfile::tempdir().unwrap());
    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        counter(&text, "assetlog_mqtt_messages_total") > 0,
        "the restarted server took redelivered messages (the kill came mid-stream)"
    );
    let admin = app.sign_in("ada@a.example").await;
    let events = app.events(&admin).await;
    assert_eq!(
        seqs(&events),
        (1..=1000).collect::<Vec<i64>>(),
        "each event once"
    );
    let first = events.iter().find(|e| e["seq"] == 1).unwrap();
    assert_eq!(first["ts"], t0 + 1000);
}

#[tokio::test]
async fn what_loggers_publish_while_assetlog_is_down_waits_at_the_broker_also_across_its_restart() {
    let mut broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flags = broker::flags(&broker, "assetlog@away");
    let server = ServerProcess::start(&data, &strs(&flags));
    let app = server.app(tempfile::tempdir().unwrap());
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "mq-away").await;
    let mut logger = Peer::logger(broker.port, "mq-away", &device.key).await;
    let topic = "assetlog/v1/mq-away/events";
    let t0 = now_ms() - 600_000;
    logger.publish(topic, batch(1, 5, t0)).await;
    assert_eq!(logger.acked("mq-away", 5).await, 5);

    // assetlog stops (a deploy, say); the logger goes on publishing, and the broker restarts.
    server.stop();
    for b in 1..=20u64 {
        logger.publish(topic, batch(b * 5 + 1, b * 5 + 5, t0)).await;
    }
    logger.flushed().await;
    broker.restart();
    assert!(
        broker.dir().join("mosquitto.db").exists(),
        "the broker kept its sessions"
    );

    // assetlog comes back: everything queued for it arrives, once; then a new batch.
    let server = ServerProcess::start(&data, &strs(&flags));
    let mut logger = Peer::logger(broker.port, "mq-away", &device.key).await;
    logger.publish(topic, batch(106, 106, t0)).await;
    assert_eq!(logger.acked("mq-away", 106).await, 106);
    let app = server.app(tempfile::tempdir().unwrap());
    let admin = app.sign_in("ada@a.example").await;
    assert_eq!(
        seqs(&app.events(&admin).await),
        (1..=106).collect::<Vec<i64>>()
    );
}

#[tokio::test]
async fn two_replicas_share_the_subscription_and_store_each_event_once() {
    if !on_postgres() {
        return;
    }
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let a = ServerProcess::start(&data, &strs(&broker::flags(&broker, "assetlog@a")));
    let b = ServerProcess::start(&data, &strs(&broker::flags(&broker, "assetlog@b")));
    let app_a = a.app(tempfile::tempdir().unwrap());
    let app_b = b.app(tempfile::tempdir().unwrap());
    let admin = app_a.signup("ada@a.example", "A").await;
    let device = app_a.claimed_device(&admin, "mq-two").await;
    let mut logger = Peer::logger(broker.port, "mq-two", &device.key).await;
    let t0 = now_ms() - 600_000;
    for b in 0..50u64 {
        logger
            .publish("assetlog/v1/mq-two/events", batch(b * 2 + 1, b * 2 + 2, t0))
            .await;
    }
    // The replicas may take a logger's batches out of order; the seqs keep each event once and
    // the ack is the watermark, so it reaches 100 once all are stored.
    assert_eq!(logger.acked("mq-two", 100).await, 100);
    assert_eq!(
        seqs(&app_b.events(&admin).await),
        (1..=100).collect::<Vec<i64>>()
    );
    let mut total = 0;
    for app in [&app_a, &app_b] {
        let text = app.get("/metrics", None).await.text().await.unwrap();
        let taken = counter(&text, "assetlog_mqtt_messages_total");
        assert!(taken > 0, "each replica took some: {taken} at {}", app.url);
        total += taken;
    }
    assert_eq!(total, 50, "each message taken by one replica");
}
